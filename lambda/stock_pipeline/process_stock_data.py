"""ProcessStockData: Kinesis ticks -> validated, enriched items in DynamoDB and the S3 archive.

Each record is checked on its own (record_handler, run by the Powertools batch utility); the
valid ones are written once the whole batch is read, with BatchWriteItem and one JSON Lines
object per batch and arrival day, a single S3 PUT for all its symbols (ingest_batch.py). A
record whose data can never become a tick is quarantined under REJECTED_PREFIX and counts as
processed: a stream retries a failed record until it expires, and on MiniStack forever, so bad
data must never fail the batch. Only infrastructure errors fail records, only those whose data
did not land; the batch utility reports them as batchItemFailures for the mapping to retry.

The function's clock is read here and passed in: a tick stamped more than the future
tolerance ahead of it is quarantined (see lateness.py for why). On an emulator, faults.py
may fail an invocation on purpose.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters import DynamoDBTickStore, S3Archive
from stock_pipeline.contract import (
    ARCHIVE_DAY_FORMAT,
    DEFAULT_FUTURE_TOLERANCE_SECONDS,
    FAULT_PROCESS,
    RAW_PREFIX,
    REJECTED_PREFIX,
    TIMESTAMP_FORMAT,
    Env,
    RejectedObject,
    rejected_key,
)
from stock_pipeline.faults import Faults, FaultSpec
from stock_pipeline.ingest_batch import Accepted, write_batch
from stock_pipeline.ports import Archive, TickStore
from stock_pipeline.ticks import InvalidTick, check_not_future, enrich, parse_tick
from stock_pipeline.tracing import make_tracer

logger = Logger()
metrics = Metrics()
tracer = make_tracer()
processor = BatchProcessor(event_type=EventType.KinesisDataStreams, logger=logger)

_RAW_PREVIEW_CHARS = 200


@dataclass(frozen=True)
class IngestDependencies:
    ticks: TickStore
    archive: Archive
    raw_prefix: str
    rejected_prefix: str
    future_tolerance: int = DEFAULT_FUTURE_TOLERANCE_SECONDS
    faults: FaultSpec = FaultSpec()


@cache
def dependencies() -> IngestDependencies:
    """Built on the first record, not at import, from the variables Terraform sets."""
    return IngestDependencies(
        ticks=DynamoDBTickStore(os.environ[Env.TICKS_TABLE]),
        archive=S3Archive(os.environ[Env.ARCHIVE_BUCKET]),
        raw_prefix=os.environ.get(Env.RAW_PREFIX, RAW_PREFIX),
        rejected_prefix=os.environ.get(Env.REJECTED_PREFIX, REJECTED_PREFIX),
        future_tolerance=int(os.environ.get(Env.FUTURE_TOLERANCE_SECONDS, DEFAULT_FUTURE_TOLERANCE_SECONDS)),
        faults=FaultSpec.parse(os.environ.get(Env.FAULT_INJECTION)),
    )


@tracer.capture_method
def record_handler(record: KinesisStreamRecord) -> Accepted[KinesisStreamRecord] | None:
    """The record's item, to be written with the batch's; None when the record was quarantined."""
    deps = dependencies()
    payload: bytes | None = None
    try:
        payload = _decoded_data(record)
        tick = check_not_future(parse_tick(payload), now=time.time(), tolerance_seconds=deps.future_tolerance)
    except InvalidTick as exc:
        # The payload as text, not parsed; bytes that are not UTF-8 stay visible as escapes.
        raw = record.kinesis.data if payload is None else payload.decode("utf-8", errors="backslashreplace")
        _quarantine(record, exc.reason, raw, deps)
        return None
    return Accepted(
        source=record,
        item=enrich(tick),
        shard_id=_shard_id(record),
        sequence_number=record.kinesis.sequence_number,
        arrival_day=_arrival_day(record, datetime.now(timezone.utc)),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = dependencies()
    if deps.faults:
        Faults(deps.faults, seed=context.aws_request_id, on_inject=_log_fault).fail_invocation(FAULT_PROCESS)
    # process_partial_response, with the batch's writes between reading the records and reporting on them.
    with processor(records=event["Records"], handler=record_handler, lambda_context=context):
        results = processor.process()
        _write([result for status, result, _ in results if status == "success" and result is not None], deps)
    return processor.response()


@tracer.capture_method
def _write(accepted: list[Accepted[KinesisStreamRecord]], deps: IngestDependencies) -> None:
    """Write the batch's valid records; each whose data did not land becomes a failure of the batch utility."""
    written = write_batch(accepted, deps.ticks, deps.archive, deps.raw_prefix)
    for failure in written.failed:
        processor.success_messages.remove(failure.source.raw_event)
        processor.failure_handler(failure.source, (type(failure.error), failure.error, failure.error.__traceback__))
    if accepted:
        metrics.add_metric(name="TicksProcessed", unit=MetricUnit.Count, value=len(accepted) - len(written.failed))
    logger.debug(
        "batch written",
        extra={"ticks": len(accepted), "failed": len(written.failed), "archive_objects": len(written.archive_keys)},
    )


def _log_fault(kind: str) -> None:
    logger.warning("fault injected", extra={"fault": kind})


def _decoded_data(record: KinesisStreamRecord) -> bytes:
    try:
        return base64.b64decode(record.kinesis.data, validate=True)
    except ValueError:  # binascii.Error, and non-ASCII characters in the string
        raise InvalidTick("record data is not valid base64") from None


def _quarantine(record: KinesisStreamRecord, reason: str, raw: str, deps: IngestDependencies) -> None:
    now = datetime.now(timezone.utc)
    sequence_number = record.kinesis.sequence_number
    shard_id = _shard_id(record)
    key = rejected_key(deps.rejected_prefix, _arrival_day(record, now), shard_id, sequence_number)
    body = {
        RejectedObject.REASON: reason,
        RejectedObject.RAW: raw,
        RejectedObject.SEQUENCE_NUMBER: sequence_number,
        RejectedObject.PARTITION_KEY: record.kinesis.partition_key,
        RejectedObject.REJECTED_AT: now.strftime(TIMESTAMP_FORMAT),
    }
    deps.archive.put_object(key, json.dumps(body, sort_keys=True))
    metrics.add_metric(name="RejectedTicks", unit=MetricUnit.Count, value=1)
    logger.warning(
        "tick rejected",
        extra={
            "reason": reason,
            "key": key,
            "sequence_number": sequence_number,
            "partition_key": record.kinesis.partition_key,
            "raw_preview": raw[:_RAW_PREVIEW_CHARS],
        },
    )


def _shard_id(record: KinesisStreamRecord) -> str | None:
    # eventID is "<shardId>:<sequenceNumber>" on AWS and on the emulators.
    shard, _, _ = str(record.get("eventID", "")).partition(":")
    return shard if shard.startswith("shardId-") else None


def _arrival_day(record: KinesisStreamRecord, fallback: datetime) -> str:
    """The record's arrival date, so a redelivered record lands on the same key (archived or quarantined)."""
    arrival = record.kinesis.get("approximateArrivalTimestamp")
    when = datetime.fromtimestamp(float(arrival), timezone.utc) if arrival is not None else fallback
    return when.strftime(ARCHIVE_DAY_FORMAT)
