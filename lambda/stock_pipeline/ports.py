"""What the handlers need from the outside world, as interfaces.

The boto3 implementations live in adapters.py; the unit tests use in-memory ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from stock_pipeline.lateness import LateWatch
from stock_pipeline.trend import Alert, Cross, PricePoint, TrendState


class StaleState(Exception):
    """A conditional write lost: someone else wrote the state since it was read."""


@dataclass(frozen=True)
class StoredTrendState:
    """One symbol's trend state item: the analysis position plus its alert outbox."""

    trend: TrendState = field(default_factory=TrendState)
    # Crosses already committed by the analysis but not yet published, oldest first.
    pending: tuple[Cross, ...] = ()
    # 0 means "no item yet"; every successful save increments it by one.
    version: int = 0
    # When the watermark last moved, and the late ticks counted (see lateness.py).
    watch: LateWatch = field(default_factory=LateWatch)


class UnwrittenItems(Exception):
    """A batch write left items unwritten, after writing all the others it could."""

    def __init__(self, reasons: Mapping[tuple[str, str], str]) -> None:
        super().__init__(f"{len(reasons)} item(s) not written: {'; '.join(sorted(set(reasons.values())))}")
        # Why each (symbol, timestamp) key did not land.
        self.reasons = dict(reasons)


class TickStore(Protocol):
    def put_batch(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Write `items`, no two with the same key, in as few requests as the store takes.

        Raise UnwrittenItems naming those that did not land, once everything else is written.
        """
        ...

    def prices_after(self, symbol: str, after: str | None, limit: int) -> list[PricePoint]:
        """Up to `limit` prices of `symbol` newer than timestamp `after` (all when None), oldest first."""
        ...


class Archive(Protocol):
    def put_object(self, key: str, body: str, content_type: str = "application/json") -> None: ...


class TrendStateStore(Protocol):
    def get(self, symbol: str) -> StoredTrendState | None: ...

    def get_many(self, symbols: Sequence[str]) -> dict[str, StoredTrendState | None]:
        """The states of `symbols` as `get` reads them (None: no item), in as few requests as the store takes.

        A symbol the store did not answer for is left out: its caller reads it with `get`.
        """
        ...

    def save(self, symbol: str, state: StoredTrendState, expected_version: int) -> None:
        """Write `state` only if the stored version is still `expected_version`, else raise StaleState.

        `state.version` must be `expected_version + 1`.
        """
        ...


class AlertPublisher(Protocol):
    def publish(self, alert: Alert) -> None: ...


class AlertLog(Protocol):
    """The alerts table (contract.AlertItem): every alert SNS accepted, readable on every target."""

    def record(self, alert: Alert, published_at: str) -> int:
        """Note that SNS accepted `alert` at `published_at` (contract.sns_time); return its publish count.

        Writes the alert's fields, keeps the published_at of its first record, and adds one to
        its publish count in the same write, so a re-publish after a crash counts 2.
        """
        ...
