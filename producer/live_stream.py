"""Live ticks from Yahoo Finance's push stream, cut into bars: the entry point the CLI calls.

    stats = run_live(["AAPL", "MSFT"], bar_seconds=60, on_tick=print, stop=threading.Event())

Each closed bar is handed to ``on_tick`` as one tick in the recorded format (see producer.bars).
When the stream cannot be reached, ``run_live`` raises ``StreamUnavailable`` (one line, naming the URL
and the last error) and the caller falls back to polling with ``producer.live.fetch_tick``.
To put the ticks on Kinesis, pass a ``SpoolingSink``'s ``add`` and ``poll`` (see producer.spool).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from producer.bars import DEFAULT_GRACE_SECONDS, BarAggregator
from producer.quotes import BadPush, parse_push
from producer.stream import Backoff, StreamClient, StreamUnavailable, YahooStream, yfinance_client

__all__ = ["Backoff", "LiveStats", "StreamUnavailable", "run_live"]

log = logging.getLogger(__name__)


@dataclass
class LiveStats:
    pushes: int = 0           # quotes received, whatever became of them
    bars: int = 0             # ticks handed to on_tick
    decode_errors: int = 0    # frames yfinance could not decode, and decoded pushes that were no quote
    unknown_symbols: int = 0  # pushes for symbols not subscribed
    late: int = 0             # pushes for a bar already closed: dropped
    duplicates: int = 0       # pushes identical (time, price) to one already in the bar
    reconnects: int = 0       # connections re-opened after the stream closed one
    open_bars_left: int = 0   # bars still open when max_bars stopped the run: not emitted


def run_live(symbols: Iterable[str], bar_seconds: int, on_tick: Callable[[dict], None],
             stop: threading.Event | None = None, *, grace: float = DEFAULT_GRACE_SECONDS,
             max_bars: int | None = None, url: str | None = None, backoff: Backoff = Backoff(),
             idle_after: float = 60.0, on_idle: Callable[[float], None] | None = None,
             on_wakeup: Callable[[], None] | None = None, clock: Callable[[], float] = time.time,
             client_factory: Callable[[str], StreamClient] = yfinance_client) -> LiveStats:
    """Stream ``symbols``, emit one tick per symbol per ``bar_seconds`` (0: one per push) to ``on_tick``.

    Runs until ``stop`` is set (then the open bars, partial but real, are emitted too), or until
    ``max_bars`` ticks were emitted (then it returns at once; bars still open are counted in
    ``open_bars_left``). A bar closes when a push of a later bar arrives, or ``grace`` seconds after
    its end by ``clock`` (epoch seconds), corrected per symbol by how late its pushes arrive, so a
    delayed feed still gets whole bars. ``url`` defaults to
    ``TICKSTACK_YAHOO_STREAM_URL``, else yfinance's own. ``on_wakeup`` is called at least every 50 ms
    (to send batches on time); ``on_idle(seconds)`` when nothing was pushed for ``idle_after`` s.

    Raises StreamUnavailable when the stream cannot be reached within ``backoff``'s attempts, after
    emitting the open bars; its ``stats`` attribute holds the counters so far.
    """
    stop = stop if stop is not None else threading.Event()
    symbols = [s.strip().upper() for s in symbols]
    bars = BarAggregator(symbols, bar_seconds, grace)
    stream = YahooStream(symbols, url, backoff=backoff, idle_after=idle_after, on_idle=on_idle,
                         client_factory=client_factory)
    stats = LiveStats()

    def emit(ticks: list[dict]) -> bool:
        """Hand ticks on; True once max_bars is reached."""
        for i, tick in enumerate(ticks):
            if max_bars is not None and stats.bars >= max_bars:
                log.info("%d closed bars after the first %d not emitted", len(ticks) - i, max_bars)
                return True
            on_tick(tick)
            stats.bars += 1
        return max_bars is not None and stats.bars >= max_bars

    messages = stream.messages(stop)
    try:
        if max_bars is not None and max_bars <= 0:
            return stats
        for message in messages:
            ticks: list[dict] = []
            if message is not None:
                try:
                    quote = parse_push(message)
                except BadPush as exc:
                    stats.decode_errors += 1
                    log.warning("push that is no quote: %s", exc)
                else:
                    stats.pushes += 1
                    ticks = bars.add(quote, received_at=clock())
            ticks += bars.flush_due(clock())
            if emit(ticks):
                stats.open_bars_left = bars.open_bars
                return stats
            if on_wakeup is not None:
                on_wakeup()
        emit(bars.flush_all())
        return stats
    except StreamUnavailable as exc:
        # Bars already open hold real prices: hand them on before the caller switches to polling.
        emit(bars.flush_all())
        exc.stats = stats
        raise
    finally:
        messages.close()
        stats.decode_errors += stream.counts.decode_errors
        stats.reconnects = stream.counts.reconnects
        stats.unknown_symbols = bars.counts.unknown_symbols
        stats.late = bars.counts.late
        stats.duplicates = bars.counts.duplicates
        log.info("live stream done: %s", stats)
