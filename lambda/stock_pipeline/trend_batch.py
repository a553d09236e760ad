"""One batch of the ticks table's stream: each symbol it names caught up at most once.

The stream records only name the symbols that changed; each symbol is caught up from the
table once per batch (see catch_up.py), however many of its records the batch holds, and
that one outcome is shared by all its records. A symbol whose catch-up raised fails its
records, which the mapping then retries; the other symbols' records succeed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.catch_up import CatchUpReport
from stock_pipeline.contract import TICKS_PARTITION_KEY, TICKS_SORT_KEY

_ANALYSED_EVENTS = (DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.MODIFY)

CatchUp = Callable[[str], CatchUpReport]


class SymbolFailed(RuntimeError):
    """An earlier record of the same symbol failed in this batch; this one is retried with it."""


class TrendBatch:
    def __init__(self, catch_up: CatchUp, logger: Any) -> None:
        """`catch_up` brings one symbol up to date (TrendCatchUp.run); `logger` takes extra=."""
        self._catch_up = catch_up
        self._log = logger
        self.reports: dict[str, CatchUpReport] = {}
        self.failed: set[str] = set()
        self.ignored = 0

    def process(self, event: dict[str, Any], processor: BatchProcessor, context: LambdaContext) -> dict[str, Any]:
        """The partial batch response: the records of every symbol whose catch-up failed."""
        self._log.info("batch received", extra={"records": len(event.get("Records", []))})
        try:
            return process_partial_response(
                event=event, record_handler=self.record_handler, processor=processor, context=context
            )
        finally:
            self._log.info(
                "batch done",
                extra={
                    "symbols": sorted(self.reports),
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
            report = self._catch_up(symbol)
        except Exception:
            self.failed.add(symbol)
            raise
        self.reports[symbol] = report
        self._log.info(
            "symbol caught up",
            extra={
                "symbol": symbol,
                "started_after": report.started_after,
                "last_timestamp": report.last_timestamp,
                "analysed": report.analysed,
                "crosses": [cross.alert_id for cross in report.crosses],
                "published": [cross.alert_id for cross in report.published],
                "lost_races": report.lost_races,
            },
        )
        return report
