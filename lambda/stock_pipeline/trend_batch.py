"""One batch of the ticks table's stream: each symbol it names caught up at most once.

Each symbol is caught up once per batch (see catch_up.py), from the images its records carry
(or from the table when one carries none), however many of its records the batch holds, and
that one outcome is shared by all its records. A symbol whose catch-up raised fails its
records, which the mapping then retries; the other symbols' records succeed.

Each catch-up is also given its symbol's records in the batch (the tick's timestamp, when its
item was written, the record's sequence number), from which it counts the late ticks (see
lateness.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.catch_up import CatchUpReport, StreamImages
from stock_pipeline.contract import TICKS_PARTITION_KEY, TICKS_SORT_KEY, TickItem
from stock_pipeline.lateness import Arrival
from stock_pipeline.trend import PricePoint

_ANALYSED_EVENTS = (DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.MODIFY)

CatchUp = Callable[[str, Sequence[Arrival], StreamImages | None], CatchUpReport]


class SymbolFailed(RuntimeError):
    """An earlier record of the same symbol failed in this batch; this one is retried with it."""


class TrendBatch:
    def __init__(self, catch_up: CatchUp, logger: Any,
                 prefetch: Callable[[Sequence[str]], None] = lambda symbols: None) -> None:
        """`catch_up` brings one symbol up to date (TrendCatchUp.run), `prefetch` reads the states of a
        batch's symbols ahead (TrendCatchUp.prefetch); `logger` takes extra=."""
        self._catch_up = catch_up
        self._prefetch = prefetch
        self._log = logger
        self.reports: dict[str, CatchUpReport] = {}
        self.failed: set[str] = set()
        self.ignored = 0
        self.arrivals: dict[str, list[Arrival]] = {}
        self.images: dict[str, StreamImages | None] = {}

    def process(self, event: dict[str, Any], processor: BatchProcessor, context: LambdaContext) -> dict[str, Any]:
        """The partial batch response: the records of every symbol whose catch-up failed."""
        self._log.info("batch received", extra={"records": len(event.get("Records", []))})
        self.arrivals, self.images = read_batch(event.get("Records", []))
        self._prefetch(list(self.arrivals))
        try:
            return process_partial_response(
                event=event, record_handler=self.record_handler, processor=processor, context=context
            )
        finally:
            self._log.info(
                "batch done",
                extra={
                    "symbols": sorted(self.reports),
                    "analysed": sum(report.analysed for report in self.reports.values()),
                    "tables_read": sum(report.read_table for report in self.reports.values()),
                    "failed_symbols": sorted(self.failed),
                    "ignored_records": self.ignored,
                },
            )

    def record_handler(self, record: DynamoDBRecord) -> None:
        stream = record.dynamodb
        if record.event_name not in _ANALYSED_EVENTS or stream is None:
            self.ignored += 1
            self._log.debug(
                "record ignored", extra={"event_name": record.get("eventName"), "reason": "not a new tick"}
            )
            return
        # The keys name the tick whatever the stream view type.
        keys = stream.keys
        symbol, timestamp = keys.get(TICKS_PARTITION_KEY), keys.get(TICKS_SORT_KEY)
        if not isinstance(symbol, str) or not symbol:
            self.ignored += 1
            self._log.warning("record ignored", extra={"keys": str(keys), "reason": "no symbol in the keys"})
            return
        if symbol in self.failed:
            raise SymbolFailed(f"catch-up of {symbol} failed earlier in this batch")

        report = self.reports.get(symbol)
        if report is None:
            report = self._run(symbol)
        if any(tick.timestamp == timestamp for tick in report.late):
            return  # the catch-up logged it as a late tick, with its lag
        if any(tick.timestamp == timestamp for tick in report.late_counted_before):
            self._log.info(
                "record skipped",
                extra={
                    "symbol": symbol,
                    "tick_timestamp": timestamp,
                    "reason": "a late tick, counted and logged when this record was first delivered",
                },
            )
            return
        if isinstance(timestamp, str) and report.started_after is not None and timestamp <= report.started_after:
            self._log.info(
                "record skipped",
                extra={
                    "symbol": symbol,
                    "tick_timestamp": timestamp,
                    "reason": f"at or before the last analysed tick {report.started_after}: analysed "
                    "already (a redelivery, or read from the table before its record came), or a late "
                    "arrival left out of the analysis",
                },
            )

    def _run(self, symbol: str) -> CatchUpReport:
        try:
            report = self._catch_up(symbol, self.arrivals.get(symbol, ()), self.images.get(symbol))
        except Exception:
            self.failed.add(symbol)
            raise
        self.reports[symbol] = report
        # A line per symbol for what needs looking at; a batch of routine ones (a tick each of a
        # hundred symbols) is summed up by "batch done" instead, as logs are billed by the byte.
        notable = report.crosses or report.published or report.lost_races or report.late or report.stalled
        log = self._log.info if notable or report.read_table else self._log.debug
        log(
            "symbol caught up",
            extra={
                "symbol": symbol,
                "started_after": report.started_after,
                "last_timestamp": report.last_timestamp,
                "analysed": report.analysed,
                "read_table": report.read_table,
                "crosses": [cross.alert_id for cross in report.crosses],
                "published": [cross.alert_id for cross in report.published],
                "lost_races": report.lost_races,
                "late_ticks": len(report.late),
                "stalled": report.stalled,
            },
        )
        return report


def read_batch(records: Sequence[dict[str, Any]]) -> tuple[dict[str, list[Arrival]], dict[str, StreamImages | None]]:
    """The new ticks the records name, per symbol, with when each item was written; and their images.

    A symbol's images are None when any of its records carries no image with the tick's keys:
    its catch-up then reads the table.
    """
    arrivals: dict[str, list[Arrival]] = {}
    points: dict[str, dict[str, PricePoint] | None] = {}
    written: list[int | None] = []
    for raw in records:
        # A record this cannot read is left to record_handler, which fails or ignores it on its own:
        # raising here would fail the whole batch.
        try:
            record = DynamoDBRecord(raw)
            stream = record.dynamodb
            if record.event_name not in _ANALYSED_EVENTS or stream is None:
                continue
            keys = stream.keys
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        symbol, timestamp = keys.get(TICKS_PARTITION_KEY), keys.get(TICKS_SORT_KEY)
        if not isinstance(symbol, str) or not symbol or not isinstance(timestamp, str):
            continue
        sequence = stream.sequence_number
        written_at = _written_at(stream.get("ApproximateCreationDateTime"))
        written.append(written_at)
        arrivals.setdefault(symbol, []).append(
            Arrival(
                timestamp=timestamp,
                written_at=written_at,
                sequence=int(sequence) if isinstance(sequence, str) and sequence.isdigit() else None,
            )
        )
        seen = points.setdefault(symbol, {})
        if seen is not None:
            point = _image_point(stream.get("NewImage"), symbol, timestamp)
            if point is None:
                points[symbol] = None
            else:
                seen[timestamp] = point  # a later record of the same tick replaces the earlier
    written_by = None if not written or None in written else max(w for w in written if w is not None)
    images = {
        symbol: None if seen is None else StreamImages(tuple(seen.values()), written_by)
        for symbol, seen in points.items()
    }
    return arrivals, images


def _image_point(image: Any, symbol: str, timestamp: str) -> PricePoint | None:
    """The tick's price from its record's NEW_IMAGE; None when the record carries no image of it.

    An image without a numeric price gives a point without one, which the analysis passes over
    and logs, as it would the same item read from the table.
    """
    if not isinstance(image, dict):
        return None
    if image.get(TICKS_PARTITION_KEY) != {"S": symbol} or image.get(TICKS_SORT_KEY) != {"S": timestamp}:
        return None
    raw = image.get(TickItem.PRICE)
    price: Decimal | None = None
    if isinstance(raw, dict) and isinstance(raw.get("N"), str):
        try:
            price = Decimal(raw["N"])
        except InvalidOperation:
            price = None
    return PricePoint(timestamp, price)


def _written_at(value: Any) -> int | None:
    """Whole epoch seconds, rounded down; None when absent or not a number (then nothing is late)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return math.floor(seconds) if math.isfinite(seconds) else None
