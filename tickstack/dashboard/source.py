"""What the dashboard reads: the `DashboardSource` protocol, and an in-memory source for tests.

A source answers two questions. `snapshot()` is cheap and asked every poll (about every
1.5 s by each open page): counters, the latest rejections and alerts, per-function
metrics, and one status line per symbol. `symbol_series(symbol)` is asked only when that
symbol's status line (or its alerts) changed, to redraw its chart.

A deployed stack's source fills the snapshot from DynamoDB (stored count, per-symbol
status), S3 `rejected/` (count and latest reasons), the SQS alert-audit queue (alerts) and
CloudWatch (Kinesis IncomingRecords, GetRecords.IteratorAgeMilliseconds; Lambda
Invocations, Errors, Duration) where the target has them; a metric the target lacks is None.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Protocol, TypedDict, runtime_checkable

from tickstack.ops.chart import CrossesSource


class RejectedRecord(TypedDict, total=False):
    reason: str  # required: why the record was rejected, for people
    at: str  # when (ISO 8601 UTC), used to order newest first
    key: str  # where it is kept, e.g. the S3 key under rejected/


class AlertRecord(TypedDict, total=False):
    symbol: str  # required
    signal: str  # required: GOLDEN_CROSS or DEATH_CROSS
    timestamp: str  # required: the tick's timestamp
    price: str | Decimal | float  # required
    subject: str  # the SNS subject
    message: str  # the SNS message body
    sent_at: str  # when the alert was published; orders newest first (else `timestamp`)


class FunctionStats(TypedDict):
    name: str
    invocations: int | None
    errors: int | None
    duration_ms: float | None  # average duration


class SymbolStatus(TypedDict, total=False):
    symbol: str  # required
    ticks: int  # required: stored ticks of this symbol
    last_timestamp: str | None  # required: newest stored tick
    last_price: str | Decimal | float | None


class Snapshot(TypedDict, total=False):
    """What `DashboardSource.snapshot()` returns. Counters the target cannot give are None."""

    source: str  # a label for the page header, e.g. "ministack at http://127.0.0.1:4566"
    ticks_in: int | None  # records put on the stream (Kinesis IncomingRecords); None: unknown
    stored: int  # required: ticks in the table
    rejected: int  # required: records rejected (S3 rejected/ objects)
    rejected_latest: Sequence[RejectedRecord]  # the latest few, any order
    alerts: Sequence[AlertRecord]  # every alert so far (or the latest ones), any order
    functions: Sequence[FunctionStats]
    iterator_age_ms: float | None  # the stream's iterator age; None: unknown
    symbols: Sequence[SymbolStatus]
    # Where a figure comes from, or why it is missing, for people; keys: ticks_in,
    # iterator_age_ms, functions, alerts. A key left out keeps the page's own wording.
    notes: Mapping[str, str]


@dataclass(frozen=True)
class SymbolData:
    """What a symbol's chart is drawn from."""

    symbol: str
    # Objects with `timestamp` and `price` (stock_pipeline Ticks, PricePoints), any order.
    ticks: Sequence[Any]
    short_window: int
    long_window: int
    # The alerts to mark (dicts with symbol, signal, timestamp, price); None marks the
    # crosses recomputed from `ticks` instead.
    alerts: Sequence[Mapping[str, Any]] | None = None


@runtime_checkable
class DashboardSource(Protocol):
    def snapshot(self) -> Snapshot: ...

    def symbol_series(self, symbol: str) -> SymbolData: ...


@dataclass
class _Function:
    invocations: int | None = 0
    errors: int | None = 0
    duration_ms: float | None = None


@dataclass
class InMemorySource:
    """A source held in memory and changed by calls; thread-safe, for tests and demos.

    `crosses_from="alerts"` (the default) charts what the alerts say, as a deployed stack's
    source does; "computed" marks the crosses recomputed from the ticks.
    """

    short_window: int = 5
    long_window: int = 20
    crosses_from: CrossesSource = "alerts"
    label: str = "in-memory"
    # False models a target without a stream-side counter (ticks_in None): the page then
    # shows the stored count in its place.
    count_ticks_in: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _ticks: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)
    _ticks_in: int = field(default=0, init=False, repr=False)
    _rejected: list[RejectedRecord] = field(default_factory=list, init=False, repr=False)
    _alerts: list[AlertRecord] = field(default_factory=list, init=False, repr=False)
    _functions: dict[str, _Function] = field(default_factory=dict, init=False, repr=False)
    _iterator_age_ms: float | None = field(default=None, init=False, repr=False)

    def add_ticks(self, ticks: Iterable[Any]) -> None:
        """Ticks (with symbol, timestamp, price) put on the stream and stored; a repeat overwrites."""
        with self._lock:
            for tick in ticks:
                self._ticks.setdefault(tick.symbol, {})[tick.timestamp] = tick
                self._ticks_in += 1

    def reject(self, reason: str, *, at: str | None = None, key: str | None = None) -> None:
        """A record that was put on the stream and rejected."""
        record: RejectedRecord = {"reason": reason, "at": at or _now()}
        if key is not None:
            record["key"] = key
        with self._lock:
            self._rejected.append(record)
            self._ticks_in += 1

    def add_alert(
        self,
        symbol: str,
        signal: str,
        timestamp: str,
        price: str | Decimal | float,
        *,
        subject: str = "",
        message: str = "",
        sent_at: str | None = None,
    ) -> None:
        alert: AlertRecord = {
            "symbol": symbol,
            "signal": signal,
            "timestamp": timestamp,
            "price": price,
            "subject": subject,
            "message": message,
            "sent_at": sent_at or _now(),
        }
        with self._lock:
            self._alerts.append(alert)

    def set_function(
        self, name: str, *, invocations: int | None, errors: int | None, duration_ms: float | None
    ) -> None:
        with self._lock:
            self._functions[name] = _Function(invocations, errors, duration_ms)

    def set_iterator_age(self, milliseconds: float | None) -> None:
        with self._lock:
            self._iterator_age_ms = milliseconds

    def snapshot(self) -> Snapshot:
        with self._lock:
            symbols: list[SymbolStatus] = []
            for symbol, by_timestamp in sorted(self._ticks.items()):
                last = by_timestamp[max(by_timestamp)]
                symbols.append(
                    {"symbol": symbol, "ticks": len(by_timestamp), "last_timestamp": last.timestamp, "last_price": last.price}
                )
            return {
                "source": self.label,
                "ticks_in": self._ticks_in if self.count_ticks_in else None,
                "stored": sum(len(t) for t in self._ticks.values()),
                "rejected": len(self._rejected),
                "rejected_latest": list(self._rejected[-10:]),
                "alerts": list(self._alerts),
                "functions": [
                    {"name": name, "invocations": f.invocations, "errors": f.errors, "duration_ms": f.duration_ms}
                    for name, f in sorted(self._functions.items())
                ],
                "iterator_age_ms": self._iterator_age_ms,
                "symbols": symbols,
            }

    def symbol_series(self, symbol: str) -> SymbolData:
        with self._lock:
            ticks = list(self._ticks.get(symbol, {}).values())
            alerts = [a for a in self._alerts if a["symbol"] == symbol] if self.crosses_from == "alerts" else None
        return SymbolData(symbol, ticks, self.short_window, self.long_window, alerts)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "AlertRecord",
    "DashboardSource",
    "FunctionStats",
    "InMemorySource",
    "RejectedRecord",
    "Snapshot",
    "SymbolData",
    "SymbolStatus",
]
