"""StockTrendAnalysis: DynamoDB stream of the ticks table -> SMA cross alerts on SNS.

The stream records only name the symbols that changed; each symbol is caught up from the
table once per invocation (see catch_up.py), however many of its records the batch holds.
Infrastructure errors fail that symbol's records, which the mapping then retries.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters import DynamoDBTickStore, DynamoDBTrendStateStore, SNSAlertPublisher
from stock_pipeline.catch_up import CatchUpReport, TrendCatchUp
from stock_pipeline.ports import AlertPublisher, TickStore, TrendStateStore
from stock_pipeline.trend import DEFAULT_LONG_WINDOW, DEFAULT_SHORT_WINDOW, check_windows

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, logger=logger)

_ANALYSED_EVENTS = (DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.MODIFY)


@dataclass(frozen=True)
class TrendDependencies:
    ticks: TickStore
    states: TrendStateStore
    publisher: AlertPublisher
    short_window: int
    long_window: int


@cache
def dependencies() -> TrendDependencies:
    """Built at the first invocation, not at import, from the variables Terraform sets."""
    short_window = int(os.environ.get("SHORT_WINDOW", DEFAULT_SHORT_WINDOW))
    long_window = int(os.environ.get("LONG_WINDOW", DEFAULT_LONG_WINDOW))
    check_windows(short_window, long_window)
    return TrendDependencies(
        ticks=DynamoDBTickStore(os.environ["TICKS_TABLE"]),
        states=DynamoDBTrendStateStore(os.environ["TREND_STATE_TABLE"]),
        publisher=SNSAlertPublisher(os.environ["ALERT_TOPIC_ARN"]),
        short_window=short_window,
        long_window=long_window,
    )


class SymbolFailed(RuntimeError):
    """An earlier record of the same symbol failed in this batch; this one is retried with it."""


class _Invocation:
    """One batch: each symbol caught up at most once, its outcome shared by all its records."""

    def __init__(self, catch_up: TrendCatchUp) -> None:
        self._catch_up = catch_up
        self.reports: dict[str, CatchUpReport] = {}
        self.failed: set[str] = set()
        self.ignored = 0

    def record_handler(self, record: DynamoDBRecord) -> None:
        stream = record.dynamodb
        if record.event_name not in _ANALYSED_EVENTS or stream is None:
            self.ignored += 1
            logger.debug("record ignored", extra={"event_name": record.get("eventName"), "reason": "not a new tick"})
            return
        # The keys name the tick whatever the stream view type.
        keys = stream.keys
        symbol, timestamp = keys.get("symbol"), keys.get("timestamp")
        if not isinstance(symbol, str) or not symbol:
            self.ignored += 1
            logger.warning("record ignored", extra={"keys": str(keys), "reason": "no symbol in the keys"})
            return
        if symbol in self.failed:
            raise SymbolFailed(f"catch-up of {symbol} failed earlier in this batch")

        report = self.reports.get(symbol)
        if report is None:
            try:
                report = self._catch_up.run(symbol)
            except Exception:
                self.failed.add(symbol)
                raise
            self.reports[symbol] = report
            logger.info(
                "symbol caught up",
                extra={
                    "symbol": symbol,
                    "started_after": report.started_after,
                    "last_timestamp": report.last_timestamp,
                    "analysed": report.analysed,
                    "crosses": [cross.key for cross in report.crosses],
                    "published": [cross.key for cross in report.published],
                    "lost_races": report.lost_races,
                },
            )
        if isinstance(timestamp, str) and report.started_after is not None and timestamp <= report.started_after:
            logger.info(
                "record skipped",
                extra={
                    "symbol": symbol,
                    "tick_timestamp": timestamp,
                    "reason": f"at or before the last analysed tick {report.started_after}: analysed "
                    "already (a redelivery, or read from the table before its record came), or a late "
                    "arrival left out of the analysis",
                },
            )


def _count(name: str, value: int) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = dependencies()
    catch_up = TrendCatchUp(
        ticks=deps.ticks,
        states=deps.states,
        publisher=deps.publisher,
        short_window=deps.short_window,
        long_window=deps.long_window,
        logger=logger,
        count=_count,
    )
    invocation = _Invocation(catch_up)
    logger.info("batch received", extra={"records": len(event.get("Records", []))})
    try:
        return process_partial_response(
            event=event, record_handler=invocation.record_handler, processor=processor, context=context
        )
    finally:
        logger.info(
            "batch done",
            extra={
                "symbols": sorted(invocation.reports),
                "failed_symbols": sorted(invocation.failed),
                "ignored_records": invocation.ignored,
            },
        )
