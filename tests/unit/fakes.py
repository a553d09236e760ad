"""In-memory implementations of the ports in stock_pipeline.ports, for unit tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stock_pipeline.adapters import alert_fields
from stock_pipeline.contract import AlertItem
from stock_pipeline.ports import StaleState, StoredTrendState, UnwrittenItems
from stock_pipeline.trend import Alert, PricePoint


class InfrastructureDown(RuntimeError):
    """Stands for a throttled or unreachable AWS service."""


@dataclass
class InMemoryTickStore:
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    fail_for_symbols: set[str] = field(default_factory=set)
    queries: list[tuple[str, str | None, int]] = field(default_factory=list)
    # The keys of each put_batch call, in order.
    batches: list[list[tuple[str, str]]] = field(default_factory=list)

    def put(self, item: Mapping[str, Any]) -> None:
        if item["symbol"] in self.fail_for_symbols:
            raise InfrastructureDown(f"put_item failed for {item['symbol']}")
        self.items[(item["symbol"], item["timestamp"])] = dict(item)

    def put_batch(self, items: Sequence[Mapping[str, Any]]) -> None:
        """As DynamoDBTickStore does: one key once per call, the others written when some fail."""
        keys = [(item["symbol"], item["timestamp"]) for item in items]
        if len(set(keys)) != len(keys):
            raise ValueError("a batch write may not hold two items with the same key")
        self.batches.append(keys)
        unwritten = {}
        for key, item in zip(keys, items):
            if key[0] in self.fail_for_symbols:
                unwritten[key] = f"throttled: {key[0]}"
            else:
                self.items[key] = dict(item)
        if unwritten:
            raise UnwrittenItems(unwritten)

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
    content_types: dict[str, str] = field(default_factory=dict)
    # Keys whose put fails, besides every key when `fail` is set.
    fail_keys: set[str] = field(default_factory=set)
    puts: int = 0

    def put_object(self, key: str, body: str, content_type: str = "application/json") -> None:
        if self.fail or key in self.fail_keys:
            raise InfrastructureDown("put_object failed")
        self.puts += 1
        self.objects[key] = body
        self.content_types[key] = content_type


@dataclass
class InMemoryTrendStateStore:
    """Conditional writes as DynamoDB does them: on the version the writer read."""

    states: dict[str, StoredTrendState] = field(default_factory=dict)
    saves: int = 0
    # Run once, just before the next save is checked: lets a test slip a concurrent
    # writer in between another writer's read and its write.
    before_next_save: Callable[[], None] | None = None

    # Symbols get_many leaves out, as DynamoDB may leave keys unprocessed.
    unanswered: set[str] = field(default_factory=set)
    gets: list[str] = field(default_factory=list)  # the symbol of each get
    many_gets: list[tuple[str, ...]] = field(default_factory=list)  # the symbols of each get_many

    def get(self, symbol: str) -> StoredTrendState | None:
        self.gets.append(symbol)
        return self.states.get(symbol)

    def get_many(self, symbols: Sequence[str]) -> dict[str, StoredTrendState | None]:
        self.many_gets.append(tuple(symbols))
        return {symbol: self.states.get(symbol) for symbol in symbols if symbol not in self.unanswered}

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


@dataclass
class InMemoryAlertLog:
    """The alerts table as DynamoDBAlertLog writes it: items by alert_id, fields as contract.AlertItem."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Numbers (from 1) of the record calls that fail, e.g. {1}: the first call fails.
    fail_calls: set[int] = field(default_factory=set)
    calls: int = 0
    # Run once, just before the next record is written: lets a test see what was published by then.
    before_next_record: Callable[[], None] | None = None

    def record(self, alert: Alert, published_at: str) -> int:
        hook, self.before_next_record = self.before_next_record, None
        if hook is not None:
            hook()
        self.calls += 1
        if self.calls in self.fail_calls:
            raise InfrastructureDown("UpdateItem on the alerts table failed")
        fields = alert_fields(alert)
        item = self.items.setdefault(fields[AlertItem.ALERT_ID], {AlertItem.PUBLISH_COUNT: 0})
        item.update(fields)
        item.setdefault(AlertItem.PUBLISHED_AT, published_at)
        item[AlertItem.PUBLISH_COUNT] += 1
        return item[AlertItem.PUBLISH_COUNT]

    def counts(self) -> dict[str, int]:
        return {alert_id: item[AlertItem.PUBLISH_COUNT] for alert_id, item in self.items.items()}
