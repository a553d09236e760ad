"""Commands that produce ticks: quotes onto the stream (`produce`), or into a recording (`record`).

Three ways to get quotes, one flag each:

- ``--live`` (the default): Yahoo Finance's push stream (``TICKSTACK_YAHOO_STREAM_URL`` overrides its
  address), cut into bars of ``--bar`` seconds by each quote's own time (producer.live_stream). One
  connection for all symbols; when it cannot be reached, ``produce`` says so in one line and polls.
- ``--poll``: yfinance's ``fast_info``, one request per symbol every ``--interval`` seconds.
- ``--history`` (``record`` only): daily bars, ``Ticker(symbol).history(period=..., interval="1d")``.

``produce`` sends through one SpoolingSink whatever the mode: batches of at most 500 records, none
waiting over 200 ms, and what the stream cannot take is spooled to a file (by default under the
target's home) and sent first, in order, on the next start. Ctrl-C sets a stop flag instead of
raising wherever the program is: open bars are closed and sent, then the counters are printed.
"""

from __future__ import annotations

import logging
import math
import re
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer
from rich.markup import escape
from rich.text import Text

from producer.kinesis import KinesisSink
from producer.live import LiveDataUnavailable, fetch_tick
from producer.live_stream import Backoff, LiveStats, StreamUnavailable, run_live
from producer.recording import write_tick
from producer.spool import SpoolingSink
from producer.stream import stream_url
from tickstack.cli.app import app
from tickstack.cli.data import ProducerFailed
from tickstack.cli.options import TargetOption, running_target
from tickstack.cli.output import console
from tickstack.ops.csv_import import CsvImportError, ticks_from_history

# The spool's file under the target's home (<TICKSTACK_HOME>/<target>/), unless --spool names one.
SPOOL_FILE = "producer-spool.jsonl"
# How hard the stream is tried before `produce` falls back to polling (about 4 to 8 s of attempts).
STREAM_BACKOFF = Backoff()
# A stream quiet this long is said to be quiet (outside market hours it pushes nothing).
IDLE_AFTER_SECONDS = 60.0
# How often the polling loop wakes between rounds to send a batch that is due, or to notice Ctrl-C.
WAKEUP_SECONDS = 0.05
# What yfinance's history accepts as a period for daily bars.
HISTORY_PERIODS = ("1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max")
DEFAULT_PERIOD = "5y"

_BAR = re.compile(r"(\d+)\s*([smh]?)", re.IGNORECASE)
_BAR_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def _symbols(value: str) -> list[str]:
    symbols = list(dict.fromkeys(s.strip().upper() for s in value.split(",") if s.strip()))
    if not symbols:
        raise typer.BadParameter("name at least one symbol", param_hint="--symbols")
    return symbols


def bar_seconds(value: str) -> int:
    """``30s`` -> 30, ``1m`` -> 60, ``0`` -> 0 (every push its own tick); a bare number is seconds."""
    match = _BAR.fullmatch(value.strip())
    if not match:
        raise typer.BadParameter(f"{value!r} is not a bar length: say 30s, 1m or 0 (every push its own tick)",
                                 param_hint="--bar")
    return int(match[1]) * _BAR_UNITS[match[2].lower()]


def _mode(**flags: bool) -> str:
    """The one mode flag given (``live`` when none is)."""
    chosen = [name for name, given in flags.items() if given]
    if len(chosen) > 1:
        raise typer.BadParameter(f"choose one of {', '.join('--' + name for name in flags)}, "
                                 f"not {' and '.join('--' + name for name in chosen)}")
    return chosen[0] if chosen else "live"


SymbolsOption = Annotated[str, typer.Option(help="Comma-separated tickers")]
LiveOption = Annotated[bool, typer.Option("--live", help="Stream pushed quotes, cut into bars (the default)")]
PollOption = Annotated[bool, typer.Option("--poll", help="Poll fast_info, one request per symbol every --interval s")]
BarOption = Annotated[str, typer.Option(
    help="--live: bar length by event time, 30s, 1m ...; 0: every push its own tick")]
IntervalOption = Annotated[float, typer.Option(
    min=1.0, help="--poll (and produce's fallback from --live): seconds between rounds of one tick per symbol")]
CountOption = Annotated[Optional[int], typer.Option(
    min=1, help="Stop after N bars (--live) or N rounds (--poll) (default: run until Ctrl-C)")]


# --- console, Ctrl-C ------------------------------------------------------------------------------


class _ConsoleLines(logging.Handler):
    """The producer's warnings (reconnects, a quiet stream, late pushes, the spool) as lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        console.print(Text(record.getMessage(), style="yellow"), highlight=False, soft_wrap=True)


@contextmanager
def _producer_warnings_on_console() -> Iterator[None]:
    logger = logging.getLogger("producer")
    handler = _ConsoleLines(logging.WARNING)
    propagate = logger.propagate
    logger.addHandler(handler)
    # Said once, here; not again by the root logger's last-resort handler or an application's own.
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


@contextmanager
def _ctrl_c_sets(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C sets ``stop`` instead of raising wherever the program is, so the loop closes
    the open bars and sends the batch; a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread; the caller owns ``stop`` then
        return
    previous = signal.getsignal(signal.SIGINT)

    def first_interrupt(signum, frame) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stop.set()

    signal.signal(signal.SIGINT, first_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def say(line: str) -> None:
    """A line on stderr, kept on one line however narrow the terminal (these carry URLs and errors)."""
    console.print(line, highlight=False, soft_wrap=True)


def _show(tick: dict) -> None:
    say(f"{tick['timestamp']} {tick['symbol']} {tick['lastPrice']}")


def _counters(stats: LiveStats | None = None, rounds: int | None = None, ticks: int | None = None,
              sink: SpoolingSink | None = None) -> str:
    parts: list[str] = []
    if stats is not None:
        parts += [f"pushes {stats.pushes}", f"bars {stats.bars}", f"decode errors {stats.decode_errors}",
                  f"unknown symbols {stats.unknown_symbols}", f"late {stats.late}",
                  f"duplicates {stats.duplicates}", f"reconnects {stats.reconnects}"]
    if rounds is not None:
        parts.append(f"polled rounds {rounds}")
    if ticks is not None:
        parts.append(f"polled ticks {ticks}")
    if sink is not None:
        parts += [f"sent {sink.totals.sent}", f"spooled {sink.totals.spooled}"]
    return ", ".join(parts)


def _describe_bar(seconds: int) -> str:
    return "one tick per push" if seconds == 0 else f"{seconds} s bars"


# --- polling --------------------------------------------------------------------------------------


def _fetch(symbol: str) -> dict:
    try:
        return fetch_tick(symbol)
    except LiveDataUnavailable as exc:
        raise ProducerFailed(str(exc)) from exc


def _poll_rounds(symbols: list[str], interval: float, rounds: int | None, stop: threading.Event,
                 on_tick: Callable[[dict], None], on_wakeup: Callable[[], None]) -> tuple[int, int]:
    """Fetch one tick per symbol every ``interval`` s, ``rounds`` times (None: until ``stop``).

    Returns (rounds done, ticks). Between rounds ``on_wakeup`` is called every 50 ms, so a batch
    goes out on time, and ``stop`` is noticed at once.
    """
    done = ticks = 0
    while not stop.is_set() and (rounds is None or done < rounds):
        started = time.monotonic()
        for symbol in symbols:
            on_tick(_fetch(symbol))
            ticks += 1
        done += 1
        if rounds is not None and done >= rounds:
            break
        due = started + interval
        while not stop.is_set() and (left := due - time.monotonic()) > 0:
            stop.wait(min(left, WAKEUP_SECONDS))
            on_wakeup()
    return done, ticks


# --- produce --------------------------------------------------------------------------------------


SpoolOption = Annotated[Optional[Path], typer.Option(
    dir_okay=False, help="Where ticks the stream cannot take wait, to go first on the next start "
                         f"(default: <TICKSTACK_HOME>/<target>/{SPOOL_FILE})")]


@app.command()
def produce(symbols: SymbolsOption = "AAPL", live: LiveOption = False, poll: PollOption = False,
            bar: BarOption = "30s", interval: IntervalOption = 30.0, count: CountOption = None,
            spool: SpoolOption = None, target_name: TargetOption = None) -> None:
    """Put live Yahoo Finance quotes on the stream: pushed quotes cut into bars (else polled), or --poll."""
    mode = _mode(live=live, poll=poll)
    names = _symbols(symbols)
    seconds = bar_seconds(bar)
    target = running_target(target_name)
    stream_name = target.outputs["stream_name"]
    spool_path = spool or target.home / SPOOL_FILE
    stop = threading.Event()
    stats: LiveStats | None = None
    polled: tuple[int, int] | None = None

    def put(tick: dict) -> None:
        sink.add(tick)
        _show(tick)

    with _producer_warnings_on_console(), _ctrl_c_sets(stop):
        # Entering sends what an earlier run spooled, first and in order; leaving sends the batch and
        # spools what cannot go. The spool says how many ticks it holds at both ends, when any.
        with SpoolingSink(KinesisSink(target.client("kinesis"), stream_name), spool_path) as sink:
            if mode == "live":
                say(f"streaming {', '.join(names)} from {escape(stream_url())} in {_describe_bar(seconds)} "
                    f"onto {stream_name} (Ctrl-C stops)")
                try:
                    stats = run_live(names, seconds, put, stop, max_bars=count, backoff=STREAM_BACKOFF,
                                     idle_after=IDLE_AFTER_SECONDS, on_wakeup=sink.poll)
                except StreamUnavailable as exc:
                    stats = exc.stats
                    # --count still bounds the ticks sent: the bars still due, polled one tick per symbol a round.
                    say(escape(f"{exc}; falling back to polling every {interval:g} s"))
                    left = None if count is None else math.ceil(max(count - stats.bars, 0) / len(names))
                    polled = _poll_rounds(names, interval, left, stop, put, sink.poll)
            else:
                say(f"polling {', '.join(names)} every {interval:g} s onto {stream_name} (Ctrl-C stops)")
                polled = _poll_rounds(names, interval, count, stop, put, sink.poll)
    if stop.is_set():
        say("stopped: open bars closed and sent" if stats is not None else "stopped: the last batch sent")
    rounds, ticks = polled if polled is not None else (None, None)
    say(_counters(stats, rounds, ticks, sink))


# --- record ---------------------------------------------------------------------------------------


def _import_hint(symbol: str) -> str:
    return f"for daily bars from a CSV you downloaded instead: tickstack import FILE.csv --symbol {symbol}"


def _daily_history(symbols: list[str], period: str) -> list[dict]:
    """Daily bars of each symbol from Yahoo Finance as ticks, all symbols in one time order."""
    import yfinance
    from yfinance.exceptions import YFException

    # yfinance logs each failed request itself; the failure is said once, below.
    logging.getLogger("yfinance").setLevel(logging.CRITICAL)
    ticks: list[dict] = []
    for symbol in symbols:
        try:
            frame = yfinance.Ticker(symbol).history(period=period, interval="1d")
        # Without network: curl_cffi's DNSError, an OSError.
        except (OSError, YFException) as exc:
            raise ProducerFailed(f"Yahoo Finance is unreachable: no daily history for {symbol} "
                                 f"({type(exc).__name__}: {exc}); {_import_hint(symbol)}") from exc
        if frame is None or frame.empty:
            raise ProducerFailed(f"Yahoo Finance returned no daily history for {symbol} (unreachable, or a symbol "
                                 f"it does not know); {_import_hint(symbol)}")
        try:
            result = ticks_from_history(frame, symbol, skip_bad=True)
        except CsvImportError as exc:
            raise ProducerFailed(f"the daily history Yahoo Finance returned is not usable: {exc}") from exc
        skipped = f", {len(result.bad_rows)} incomplete rows left out" if result.bad_rows else ""
        say(f"{result.symbol}: {len(result.ticks)} daily ticks from {result.ticks[0]['timestamp']} to "
            f"{result.ticks[-1]['timestamp']} (the bar of {result.reference_day} only gives the first its "
            f"previous close{skipped})")
        ticks.extend(result.ticks)
    # sorted() is stable and the symbols' own ticks are already in order: one recording in time order.
    return sorted(ticks, key=lambda t: (t["timestamp"], t["symbol"]))


@app.command()
def record(out_file: Annotated[Path, typer.Option("--out", dir_okay=False, help="JSON-lines file to append ticks to")],
           symbols: SymbolsOption = "AAPL", live: LiveOption = False, poll: PollOption = False,
           history: Annotated[bool, typer.Option("--history", help="Daily bars over --period instead")] = False,
           bar: BarOption = "30s", interval: IntervalOption = 30.0, count: CountOption = None,
           period: Annotated[Optional[str], typer.Option(
               help=f"--history: how far back, one of {', '.join(HISTORY_PERIODS)} (default {DEFAULT_PERIOD})")] = None,
           ) -> None:
    """Record Yahoo Finance quotes as a replayable JSON-lines file: live bars, polled ticks, or daily history."""
    mode = _mode(live=live, poll=poll, history=history)
    names = _symbols(symbols)
    if period is not None and mode != "history":
        raise typer.BadParameter("goes with --history only", param_hint="--period")
    if count is not None and mode == "history":
        raise typer.BadParameter("goes with --live or --poll; --history takes a --period", param_hint="--count")
    period = period or DEFAULT_PERIOD
    if period not in HISTORY_PERIODS:
        raise typer.BadParameter(f"{period!r} is not one of {', '.join(HISTORY_PERIODS)}", param_hint="--period")
    seconds = bar_seconds(bar)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    if mode == "history":
        ticks = _daily_history(names, period)  # all fetched before the file is touched
        with open(out_file, "a") as fh:
            for tick in ticks:
                write_tick(fh, tick)
        say(f"{len(ticks)} ticks written to {escape(str(out_file))}")
        return

    stop = threading.Event()
    stats: LiveStats | None = None
    with open(out_file, "a") as fh, _producer_warnings_on_console(), _ctrl_c_sets(stop):
        def write(tick: dict) -> None:
            write_tick(fh, tick)
            _show(tick)

        if mode == "poll":
            rounds, polled = _poll_rounds(names, interval, count, stop, write, lambda: None)
            summary = _counters(rounds=rounds, ticks=polled)
        else:
            say(f"recording {', '.join(names)} from {escape(stream_url())} in {_describe_bar(seconds)} "
                "(Ctrl-C stops)")
            try:
                stats = run_live(names, seconds, write, stop, max_bars=count, backoff=STREAM_BACKOFF,
                                 idle_after=IDLE_AFTER_SECONDS)
            except StreamUnavailable as exc:
                # A recording keeps one kind of tick: polling is the user's choice to make, not a fallback.
                raise ProducerFailed(f"{exc}; to poll Yahoo Finance instead: tickstack record --poll") from exc
            summary = _counters(stats)
    if stop.is_set():
        say("stopped: open bars closed and written" if stats is not None else "stopped")
    say(summary)
