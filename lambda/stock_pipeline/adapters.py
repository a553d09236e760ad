"""boto3 implementations of the ports.

Clients are created on first use, so importing a handler needs no region or credentials,
and the endpoint comes from boto3's own configuration (AWS_ENDPOINT_URL on an emulator).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from stock_pipeline.contract import (
    ALERTS_PARTITION_KEY,
    TICKS_PARTITION_KEY,
    TICKS_SORT_KEY,
    TIMESTAMP_FORMAT,
    TREND_STATE_PARTITION_KEY,
    AlertItem,
    PendingCross,
    TickItem,
    TrendStateItem,
)
from stock_pipeline.lateness import LateWatch, epoch_seconds
from stock_pipeline.ports import StaleState, StoredTrendState, UnwrittenItems
from stock_pipeline.trend import SMA_QUANTUM, Alert, Cross, PricePoint, TrendState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient

_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=10)
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in item.items()}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _tick_key(item: Mapping[str, Any]) -> tuple[str, str]:
    return item[TICKS_PARTITION_KEY], item[TICKS_SORT_KEY]


# The most put requests one BatchWriteItem may carry.
BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100


class _Adapter:
    """A boto3 client made on first use (so importing a handler needs no region), or the one given."""

    service: str  # the boto3 service name, set by each adapter

    _client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client(self.service, config=_CLIENT_CONFIG)
        return self._client


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential backoff with full jitter, for what a batch request left unprocessed.

    The defaults wait at most 0.05 + 0.1 + 0.2 + 0.4 + 0.8 s in all: far inside a function's timeout.
    """

    retries: int = 5
    base_seconds: float = 0.05
    cap_seconds: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random

    def wait(self, retry: int) -> None:
        """Before retry number `retry` (from 1)."""
        self.sleep(self.random() * min(self.cap_seconds, self.base_seconds * 2 ** (retry - 1)))

    def attempts(self) -> Iterator[int]:
        """The first attempt and each retry (numbered from 0), waiting before every retry."""
        for attempt in range(self.retries + 1):
            if attempt:
                self.wait(attempt)
            yield attempt


class DynamoDBTickStore(_Adapter):
    service = "dynamodb"

    def __init__(self, table_name: str, client: DynamoDBClient | None = None, backoff: Backoff = Backoff()) -> None:
        self.table_name = table_name
        self.backoff = backoff
        self._client = client

    def put_batch(self, items: Sequence[Mapping[str, Any]]) -> None:
        """BatchWriteItem in chunks of 25; what DynamoDB leaves unprocessed is retried with backoff.

        DynamoDB refuses a request that holds one key twice, so the caller keeps one item per key.
        A chunk the service refuses, or whose items stay unprocessed, fails alone: the others are written.
        """
        keys = [_tick_key(item) for item in items]
        if len(set(keys)) != len(keys):
            raise ValueError("a batch write may not hold two items with the same key")
        unwritten: dict[tuple[str, str], str] = {}
        for start in range(0, len(items), BATCH_WRITE_LIMIT):
            requests = [{"PutRequest": {"Item": _serialize(item)}} for item in items[start : start + BATCH_WRITE_LIMIT]]
            left, reason = self._write_chunk(requests)
            for request in left:
                item = request["PutRequest"]["Item"]
                unwritten[item[TICKS_PARTITION_KEY]["S"], item[TICKS_SORT_KEY]["S"]] = reason
        if unwritten:
            raise UnwrittenItems(unwritten)

    def _write_chunk(self, requests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
        """The requests still unwritten at the end, and why."""
        pending = requests
        for _ in self.backoff.attempts():
            try:
                response = self.client.batch_write_item(RequestItems={self.table_name: pending})
            except ClientError as exc:
                return pending, f"BatchWriteItem failed: {exc}"
            pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return [], ""
        return pending, f"still unprocessed after {self.backoff.retries} retries"

    def prices_after(self, symbol: str, after: str | None, limit: int) -> list[PricePoint]:
        condition = "#symbol = :symbol"
        values: dict[str, Any] = {":symbol": {"S": symbol}}
        if after is not None:
            condition += " AND #ts > :after"
            values[":after"] = {"S": after}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {
                "#symbol": TICKS_PARTITION_KEY,
                "#ts": TICKS_SORT_KEY,
                "#price": TickItem.PRICE,
            },
            "ExpressionAttributeValues": values,
            "ProjectionExpression": "#ts, #price",
            # The stream record that woke us follows the write; a consistent read is sure to see it.
            "ConsistentRead": True,
            "ScanIndexForward": True,
        }
        points: list[PricePoint] = []
        while len(points) < limit:
            page = self.client.query(**request, Limit=limit - len(points))
            for raw in page.get("Items", []):
                item = _deserialize(raw)
                price = item.get(TickItem.PRICE)
                points.append(PricePoint(item[TICKS_SORT_KEY], price if isinstance(price, Decimal) else None))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return points


class S3Archive(_Adapter):
    service = "s3"

    def __init__(self, bucket: str, client: S3Client | None = None) -> None:
        self.bucket = bucket
        self._client = client

    def put_object(self, key: str, body: str, content_type: str = "application/json") -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type)


class DynamoDBTrendStateStore(_Adapter):
    """State items: the fields of contract.TrendStateItem, written by `state_to_item`."""

    service = "dynamodb"

    def __init__(self, table_name: str, client: DynamoDBClient | None = None, backoff: Backoff = Backoff()) -> None:
        self.table_name = table_name
        self.backoff = backoff
        self._client = client

    def get(self, symbol: str) -> StoredTrendState | None:
        response = self.client.get_item(
            TableName=self.table_name, Key={TREND_STATE_PARTITION_KEY: {"S": symbol}}, ConsistentRead=True
        )
        if "Item" not in response:
            return None
        return state_from_item(_deserialize(response["Item"]))

    def get_many(self, symbols: Sequence[str]) -> dict[str, StoredTrendState | None]:
        """BatchGetItem, BATCH_GET_LIMIT keys a request, strongly consistent as `get`. Keys left
        unprocessed are retried with backoff; those still unprocessed are left out, for `get`."""
        found: dict[str, StoredTrendState | None] = {}
        wanted = list(dict.fromkeys(symbols))
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            keys = [{TREND_STATE_PARTITION_KEY: {"S": symbol}} for symbol in wanted[start : start + BATCH_GET_LIMIT]]
            for _ in self.backoff.attempts():
                response = self.client.batch_get_item(
                    RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}}
                )
                unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
                left = {key[TREND_STATE_PARTITION_KEY]["S"] for key in unprocessed}
                found.update((key[TREND_STATE_PARTITION_KEY]["S"], None) for key in keys
                             if key[TREND_STATE_PARTITION_KEY]["S"] not in left)
                for raw in response.get("Responses", {}).get(self.table_name, []):
                    item = _deserialize(raw)
                    found[item[TREND_STATE_PARTITION_KEY]] = state_from_item(item)
                keys = unprocessed
                if not keys:
                    break
        return found

    def save(self, symbol: str, state: StoredTrendState, expected_version: int) -> None:
        item = state_to_item(symbol, state, updated_at=datetime.now(timezone.utc).strftime(TIMESTAMP_FORMAT))
        if expected_version == 0:
            condition: dict[str, Any] = {
                "ConditionExpression": "attribute_not_exists(#symbol)",
                "ExpressionAttributeNames": {"#symbol": TREND_STATE_PARTITION_KEY},
            }
        else:
            condition = {
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": TrendStateItem.VERSION},
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        try:
            self.client.put_item(TableName=self.table_name, Item=_serialize(item), **condition)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StaleState(f"trend state of {symbol} is no longer version {expected_version}") from exc
            raise


class SNSAlertPublisher(_Adapter):
    service = "sns"

    def __init__(self, topic_arn: str, client: SNSClient | None = None) -> None:
        self.topic_arn = topic_arn
        self._client = client

    def publish(self, alert: Alert) -> None:
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=alert.subject,
            Message=alert.message,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value} for name, value in alert.attributes.items()
            },
        )


class DynamoDBAlertLog(_Adapter):
    """Alerts table items: the fields of contract.AlertItem, one UpdateItem per publish."""

    service = "dynamodb"

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    def record(self, alert: Alert, published_at: str) -> int:
        fields = alert_fields(alert)
        key = fields.pop(ALERTS_PARTITION_KEY)
        first, count = AlertItem.PUBLISHED_AT, AlertItem.PUBLISH_COUNT
        assignments = [f"#{name} = :{name}" for name in fields]
        assignments.append(f"#{first} = if_not_exists(#{first}, :{first})")
        values: dict[str, Any] = {f":{name}": {"S": value} for name, value in {**fields, first: published_at}.items()}
        response = self.client.update_item(
            TableName=self.table_name,
            Key={ALERTS_PARTITION_KEY: {"S": key}},
            # One write: the fields, the first publish time kept, the count moved on.
            UpdateExpression=f"SET {', '.join(assignments)} ADD #{count} :one",
            ExpressionAttributeNames={f"#{name}": name for name in (*fields, first, count)},
            ExpressionAttributeValues={**values, ":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"][count]["N"])


def alert_fields(alert: Alert) -> dict[str, str]:
    """The alerts-table fields an alert fixes: its message attributes as published, its subject and message."""
    return {**alert.attributes, AlertItem.SUBJECT: alert.subject, AlertItem.MESSAGE: alert.message}


def state_to_item(symbol: str, state: StoredTrendState, updated_at: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        TrendStateItem.SYMBOL: symbol,
        TrendStateItem.VERSION: state.version,
        TrendStateItem.LAST_SIGN: state.trend.last_sign,
        TrendStateItem.WINDOW: list(state.trend.window),
        TrendStateItem.PENDING: [_cross_to_map(cross) for cross in state.pending],
        TrendStateItem.UPDATED_AT: updated_at,
    }
    if state.trend.last_timestamp is not None:
        item[TrendStateItem.LAST_TIMESTAMP] = state.trend.last_timestamp
    watch = state.watch
    optional = {
        TrendStateItem.READ_AT: watch.read_at,
        TrendStateItem.LATE_TICKS: watch.late_ticks or None,
        TrendStateItem.LAST_LATE_AT: watch.last_late_at,
        TrendStateItem.LATE_SEQUENCE: watch.late_sequence,
    }
    item.update({name: value for name, value in optional.items() if value is not None})
    return item


def state_from_item(item: Mapping[str, Any]) -> StoredTrendState:
    symbol = item[TrendStateItem.SYMBOL]
    return StoredTrendState(
        trend=TrendState(
            last_timestamp=item.get(TrendStateItem.LAST_TIMESTAMP),
            last_sign=int(item.get(TrendStateItem.LAST_SIGN, 0)),
            window=tuple(item.get(TrendStateItem.WINDOW, ())),
        ),
        pending=tuple(_cross_from_map(symbol, raw) for raw in item.get(TrendStateItem.PENDING, ())),
        version=int(item[TrendStateItem.VERSION]),
        watch=LateWatch(
            read_at=_read_at(item),
            late_ticks=int(item.get(TrendStateItem.LATE_TICKS, 0)),
            last_late_at=_optional_int(item.get(TrendStateItem.LAST_LATE_AT)),
            late_sequence=_optional_int(item.get(TrendStateItem.LATE_SEQUENCE)),
        ),
    )


def _read_at(item: Mapping[str, Any]) -> int | None:
    """The item's read_at; for an item written before read_at existed, its last write time.

    Every write follows the read it saves, so updated_at is no earlier than the read that moved
    the watermark: a tick written after it was not read, which is all lateness.py needs.
    """
    if TrendStateItem.READ_AT in item:
        return int(item[TrendStateItem.READ_AT])
    if TrendStateItem.LAST_TIMESTAMP in item and TrendStateItem.UPDATED_AT in item:
        return epoch_seconds(item[TrendStateItem.UPDATED_AT])
    return None


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _cross_to_map(cross: Cross) -> dict[str, Any]:
    return {
        PendingCross.SIGNAL: cross.signal,
        PendingCross.TIMESTAMP: cross.timestamp,
        PendingCross.PRICE: cross.price,
        PendingCross.SMA_SHORT: cross.sma_short,
        PendingCross.SMA_LONG: cross.sma_long,
        PendingCross.SHORT_WINDOW: cross.short_window,
        PendingCross.LONG_WINDOW: cross.long_window,
    }


def _cross_from_map(symbol: str, raw: Mapping[str, Any]) -> Cross:
    return Cross(
        symbol=symbol,
        signal=raw[PendingCross.SIGNAL],
        timestamp=raw[PendingCross.TIMESTAMP],
        price=Decimal(raw[PendingCross.PRICE]),
        # DynamoDB drops trailing zeros ("31.6260" comes back as "31.626"): put them back, so that an
        # alert published from the outbox reads exactly as when it was published straight away.
        sma_short=Decimal(_renamed(raw, PendingCross.SMA_SHORT, PendingCross.LEGACY_SMA_SHORT)).quantize(SMA_QUANTUM),
        sma_long=Decimal(_renamed(raw, PendingCross.SMA_LONG, PendingCross.LEGACY_SMA_LONG)).quantize(SMA_QUANTUM),
        short_window=int(raw[PendingCross.SHORT_WINDOW]),
        long_window=int(raw[PendingCross.LONG_WINDOW]),
    )


def _renamed(raw: Mapping[str, Any], name: str, legacy_name: str) -> Any:
    """A table may still hold pending crosses written before a field was renamed."""
    return raw[name] if name in raw else raw[legacy_name]
