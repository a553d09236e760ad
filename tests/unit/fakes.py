"""In-memory implementations of the ports in stock_pipeline.ports, for unit tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stock_pipeline.ports import StaleState, StoredTrendState
from stock_pipeline.trend import Alert, PricePoint


class InfrastructureDown(RuntimeError):
    """Stands for a throttled or unreachable AWS service."""


@dataclass
class InMemoryTickStore:
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    fail_for_symbols: set[str] = field(default_factory=set)
    queries: list[tuple[str, str | None, int]] = field(default_factory=list)

    def put(self, item: Mapping[str, Any]) -> None:
        if item["symbol"] in self.fail_for_symbols:
            raise InfrastructureDown(f"put_item failed for {item['symbol']}")
        self.items[(item["symbol"], item["timestamp"])] = dict(item)

    def prices_after(self, symbol: str, after: str | None, limit: int) -> list[PricePoint]:
        self.queries.append((symbol, after, limit))
        if symbol in self.fail_for_symbols:
            raise InfrastructureDown(f"query failed for {symbol}")
        newer = sorted(ts for (sym, ts) in self.items if sym == symbol and (after is None or ts > after))
        prices = [self.items[(symbol, ts)].get("price") for ts in newer[:limit]]
        # As the DynamoDB adapter does: a row without a numeric price comes back priceless.
        return [PricePoint(ts, p if isinstance(p, Decimal) else None) for ts, p in zip(newer, prices)]


@dataclass
class InMemoryArchive:
    objects: dict[str, str] = field(default_factory=dict)
    fail: bool = False

    def put_object(self, key: str, body: str) -> None:
        if self.fail:
            raise InfrastructureDown("put_object failed")
        self.objects[key] = body


@dataclass
class InMemoryTrendStateStore:
    """Conditional writes as DynamoDB does them: on the version the writer read."""

    states: dict[str, StoredTrendState] = field(default_factory=dict)
    saves: int = 0
    # Run once, just before the next save is checked: lets a test slip a concurrent
    # writer in between another writer's read and its write.
    before_next_save: Callable[[], None] | None = None

    def get(self, symbol: str) -> StoredTrendState | None:
        return self.states.get(symbol)

    def save(self, symbol: str, state: StoredTrendState, expected_version: int) -> None:
        hook, self.before_next_save = self.before_next_save, None
        if hook is not None:
            hook()
        current = self.states.get(symbol)
        current_version = current.version if current else 0
        if current_version != expected_version:
            raise StaleState(f"{symbol}: expected version {expected_version}, found {current_version}")
        assert state.version == expected_version + 1, "a save must move the version by one"
        self.states[symbol] = state
        self.saves += 1


@dataclass
class RecordingPublisher:
    published: list[Alert] = field(default_factory=list)
    # Numbers (from 1) of the publish calls that fail, e.g. {2}: the second call fails.
    fail_calls: set[int] = field(default_factory=set)
    calls: int = 0

    def publish(self, alert: Alert) -> None:
        self.calls += 1
        if self.calls in self.fail_calls:
            raise InfrastructureDown("SNS publish failed")
        self.published.append(alert)
