"""The backtest at speed, and parity between it and the alerts a deployed stack sent.

`run_backtest` gives exactly what `tickstack.ops.backtest.backtest` gives (the same
`BacktestResult`, field for field) and runs the same code on each line: the ingest function's
`parse_tick` and `enrich`, the table's last-write-wins, the trend function's `advance` and
`build_alert` (through `analyse`). A large input is shared out by symbol between forked worker
processes, one per core: a symbol's lines all go to one worker, which loads them in recording
order and analyses them, so each symbol's fold sees exactly what it sees in one process.

Lines are routed by a cheap look at their `"symbol"` field before any parsing. That is only a
hint: each worker checks every tick it stores against the symbol it was validated as, and if a
single one was routed elsewhere than its symbol's worker (a symbol written with escapes, a
second `"symbol"` key), the whole run is done again in one process. Likewise when a worker
fails in any way: the one-process run then raises the real error.

`verify` compares a backtest with what the stack sent for the same symbols, field for field
but for `sent_at` and `deliveries` (when and how often SNS delivered it), with the windows the
stack was deployed with (its `sma_windows` output).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from stock_pipeline.contract import DEFAULT_LONG_WINDOW, DEFAULT_SHORT_WINDOW
from stock_pipeline.ticks import InvalidTick
from stock_pipeline.trend import check_windows
from tickstack.ops.alerts import ALERT_FIELDS, read_alerts
from tickstack.ops.backtest import (
    BacktestResult,
    RecordingTable,
    RejectedLine,
    analyse,
    backtest,
    recorded_price,
)
from tickstack.targets import Target

__all__ = [
    "IGNORED_FIELDS",
    "Difference",
    "Parity",
    "Verification",
    "Windows",
    "compare",
    "deployment_windows",
    "backtest_throughput",
    "run_backtest",
    "verify",
]

# Below this many lines one process is faster than starting workers.
PARALLEL_FROM_LINES = 4000
# Not compared: when SNS delivered an alert, and how many times (at least once).
IGNORED_FIELDS = ("sent_at", "deliveries")
COMPARED_FIELDS = tuple(name for name in ALERT_FIELDS if name not in IGNORED_FIELDS)

# A recorded line's symbol as written, when written plainly: the routing hint.
_SYMBOL_HINT = re.compile(rb'"symbol"\s*:\s*"([^"\\]*)"')
_PRODUCER_PREFIX = b'{"symbol": "'
_PREFIX_LENGTH = len(_PRODUCER_PREFIX)


def _alert_order(alert: Mapping[str, Any]) -> tuple[str, str, str]:
    # As `analyse` orders its alerts (tests/unit/test_cli_strategy.py ties the two).
    return alert["timestamp"], alert["symbol"], alert["signal"]


# --- the backtest, shared out between processes ----------------------------------------------------


def run_backtest(
    paths: Iterable[str | PathLike[str]] | str | PathLike[str],
    short_window: int = DEFAULT_SHORT_WINDOW,
    long_window: int = DEFAULT_LONG_WINDOW,
    workers: int | None = None,
) -> BacktestResult:
    """What `backtest(paths, short_window, long_window)` returns, on up to `workers` processes (default: per core)."""
    paths = [paths] if isinstance(paths, (str, PathLike)) else list(paths)
    check_windows(short_window, long_window)
    workers = available_cores() if workers is None else workers
    if workers < 2 or not _can_fork():
        return backtest(paths, short_window, long_window)
    files = [(str(path), Path(path).read_bytes()) for path in paths]
    if sum(data.count(b"\n") + 1 for _, data in files) < PARALLEL_FROM_LINES:
        return backtest(paths, short_window, long_window)
    owner = _share_out(_symbol_counts(data for _, data in files), workers)
    shares = max(owner.values(), default=0) + 1
    if shares < 2:
        return backtest(paths, short_window, long_window)
    lines = [(source, data.split(b"\n")) for source, data in files]
    results = _shared_out([
        (lambda me=me: _run_share(lines, owner, me, short_window, long_window)) for me in range(shares)
    ])
    if results is None or any(share.misrouted for share in results):
        return backtest(paths, short_window, long_window)
    return _merged(results, short_window, long_window)


def backtest_throughput(path: str | PathLike[str], runs: int = 3) -> float:
    """Ticks per second `run_backtest` takes `path` at: the median of `runs`, each in a fresh interpreter.

    Fresh, as `tickstack backtest` is: nothing the functions' code remembers of earlier ticks helps.
    """
    timed = ("import sys, time\n"
             "from tickstack.ops.verify import run_backtest\n"
             "started = time.perf_counter()\n"
             "result = run_backtest([sys.argv[1]])\n"
             "print(result.lines / (time.perf_counter() - started))\n")
    rates = [float(subprocess.run([sys.executable, "-c", timed, str(path)], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(runs)]
    return statistics.median(rates)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _can_fork() -> bool:
    # Workers are forked: they inherit the lines read, and no argument or module is pickled. Only
    # where fork is the platform's own default (Linux), and only from a process with no other
    # thread (a lock one holds would stay locked in the child for ever); else one process.
    return (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


def _normal_symbol(hint: bytes) -> str:
    # As validate_tick normalises a symbol.
    return hint.decode("utf-8", "replace").strip().upper()


def _symbol_counts(datas: Iterable[bytes]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for data in datas:
        for hint, count in Counter(_SYMBOL_HINT.findall(data)).items():
            counts[_normal_symbol(hint)] += count
    return counts


def _share_out(counts: Mapping[str, int], workers: int) -> dict[str, int]:
    """symbol -> worker, the biggest symbols first, each to the least loaded worker."""
    loads = [0] * min(workers, len(counts))
    owner = {}
    for symbol, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        least = loads.index(min(loads))
        owner[symbol] = least
        loads[least] += count
    return owner


@dataclass
class _Share:
    """One worker's part of the result."""

    alerts: list[dict]
    symbols: dict[str, int]
    lines: int
    stored: int
    overwritten: int
    # (file index, line): sorted back into the order one process reports them in.
    rejected: list[tuple[int, RejectedLine]]
    # Ticks whose symbol belongs to another worker: when any, the result is not used.
    misrouted: int


def _run_share(files: Sequence[tuple[str, list[bytes]]], owner: Mapping[str, int], me: int,
               short_window: int, long_window: int) -> _Share:
    """Load the lines routed to worker `me` as `load_recording` loads a file, then `analyse` them."""
    table = RecordingTable()
    rejected: list[tuple[int, RejectedLine]] = []
    routes: dict[bytes | None, int] = {}
    search = _SYMBOL_HINT.search
    misrouted = 0
    for file_index, (source, file_lines) in enumerate(files):
        for line_number, raw in enumerate(file_lines, start=1):
            # Routed before anything else is done with it (a blank line goes to worker 0, which skips it).
            if raw.startswith(_PRODUCER_PREFIX):  # as the producer writes a line: the symbol first
                hint = raw[_PREFIX_LENGTH:raw.find(b'"', _PREFIX_LENGTH)]
            else:
                match = search(raw)
                hint = match[1] if match else None
            route = routes.get(hint)
            if route is None:
                route = routes[hint] = 0 if hint is None else owner.get(_normal_symbol(hint), 0)
            if route != me:
                continue
            # As producer.recording.read_lines sends it: stripped, blank lines skipped.
            data = raw.strip()
            if not data:
                continue
            table.lines += 1
            try:
                symbol, timestamp, price = recorded_price(data)
            except InvalidTick as exc:
                rejected.append((file_index, RejectedLine(source, line_number, exc.reason)))
                continue
            if owner.get(symbol, 0) != me:
                misrouted += 1
                continue
            table.put(symbol, timestamp, price)
    result = analyse(table, short_window, long_window)
    return _Share(result.alerts, result.symbols, table.lines, result.stored, table.overwritten, rejected, misrouted)


def _merged(shares: Sequence[_Share], short_window: int, long_window: int) -> BacktestResult:
    rejected = sorted((entry for share in shares for entry in share.rejected),
                      key=lambda entry: (entry[0], entry[1].line_number))
    return BacktestResult(
        alerts=sorted((alert for share in shares for alert in share.alerts), key=_alert_order),
        short_window=short_window,
        long_window=long_window,
        lines=sum(share.lines for share in shares),
        stored=sum(share.stored for share in shares),
        overwritten=sum(share.overwritten for share in shares),
        rejected=[line for _, line in rejected],
        symbols=dict(sorted((symbol, count) for share in shares for symbol, count in share.symbols.items())),
    )


def _shared_out(jobs: Sequence[Callable[[], Any]]) -> list[Any] | None:
    """Each job's result: the first run here, each other one in a forked process; None if a child failed."""
    context = multiprocessing.get_context("fork")
    # A child flushes the standard streams when it ends: what the parent has buffered would come out twice.
    sys.stdout.flush()
    sys.stderr.flush()
    started = []
    try:
        for job in jobs[1:]:
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(job, send), daemon=True)
            process.start()
            send.close()
            started.append((process, receive))
        results = [jobs[0]()]
        for _, receive in started:
            ok, value = receive.recv()
            if not ok:
                return None
            results.append(value)
        return results
    except (EOFError, OSError):  # a child that died without answering
        return None
    finally:
        for process, receive in started:
            receive.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


def _child(job: Callable[[], Any], send) -> None:
    try:
        result = (True, job())
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which then runs everything itself
        result = (False, repr(exc))
    send.send(result)
    send.close()


# --- parity with the deployed stack ----------------------------------------------------------------


@dataclass(frozen=True)
class Windows:
    short: int
    long: int
    # Where they come from, for people: "deployed" or "default".
    source: str

    def __str__(self) -> str:
        return f"SMA {self.short}/{self.long}"


def deployment_windows(target: Target) -> Windows:
    """The windows the stack's trend function analyses with (its `sma_windows` output), else the defaults."""
    windows = target.outputs.get("sma_windows")
    if not windows:  # a deployment from before the windows were configurable
        return Windows(DEFAULT_SHORT_WINDOW, DEFAULT_LONG_WINDOW, "default")
    return Windows(int(windows["short"]), int(windows["long"]), "deployed")


@dataclass(frozen=True)
class Difference:
    alert_id: str
    # "missing": the backtest has it and the stack did not send it; "unexpected": the other way round;
    # "differs": both have it, and `fields` says how they differ.
    kind: str
    # The backtest's alert, or for "unexpected" the stack's.
    alert: dict
    # (field, backtest's value, stack's value)
    fields: tuple[tuple[str, Any, Any], ...] = ()


@dataclass(frozen=True)
class Parity:
    identical: int
    differences: tuple[Difference, ...]

    @property
    def ok(self) -> bool:
        return not self.differences


def compare(expected: Iterable[Mapping[str, Any]], actual: Iterable[Mapping[str, Any]]) -> Parity:
    """The backtest's alerts (`expected`) against the stack's (`actual`), by alert id, field for field."""
    wanted = {alert["alert_id"]: alert for alert in expected}
    sent = {alert["alert_id"]: alert for alert in actual}
    differences = []
    identical = 0
    for alert_id in wanted.keys() | sent.keys():
        mine, theirs = wanted.get(alert_id), sent.get(alert_id)
        if theirs is None:
            differences.append(Difference(alert_id, "missing", dict(mine)))
        elif mine is None:
            differences.append(Difference(alert_id, "unexpected", dict(theirs)))
        else:
            fields = tuple((name, mine.get(name), theirs.get(name)) for name in COMPARED_FIELDS
                           if mine.get(name) != theirs.get(name))
            if fields:
                differences.append(Difference(alert_id, "differs", dict(mine), fields))
            else:
                identical += 1
    differences.sort(key=lambda d: (_alert_order(d.alert), d.kind))
    return Parity(identical, tuple(differences))


@dataclass(frozen=True)
class Verification:
    windows: Windows
    backtest: BacktestResult
    # What the stack sent for the recordings' symbols.
    sent: list[dict]
    parity: Parity


def verify(target: Target, paths: Iterable[str | PathLike[str]], windows: Windows | None = None,
           workers: int | None = None) -> Verification:
    """Backtest the recordings with the stack's windows and compare with what the stack sent for their symbols."""
    windows = windows or deployment_windows(target)
    result = run_backtest(paths, windows.short, windows.long, workers=workers)
    sent = [alert for alert in read_alerts(target) if alert["symbol"] in result.symbols]
    return Verification(windows, result, sent, compare(result.alerts, sent))

