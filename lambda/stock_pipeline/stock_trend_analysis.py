"""StockTrendAnalysis: DynamoDB stream of the ticks table -> SMA cross alerts on SNS, each kept in the alerts table.

This module only wires: dependencies from the environment Terraform sets, and the
Powertools-decorated handler. A batch is processed by trend_batch.py, one symbol's
analysis by catch_up.py. On an emulator, faults.py may fail an invocation on purpose.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters import DynamoDBAlertLog, DynamoDBTickStore, DynamoDBTrendStateStore, SNSAlertPublisher
from stock_pipeline.catch_up import TrendCatchUp
from stock_pipeline.contract import (
    DEFAULT_LONG_WINDOW,
    DEFAULT_SHORT_WINDOW,
    DEFAULT_STALLED_AFTER_SECONDS,
    FAULT_TREND,
    FAULT_TREND_CRASH_AFTER_PUBLISH,
    Env,
)
from stock_pipeline.faults import CrashAfterPublish, Faults, FaultSpec
from stock_pipeline.ports import AlertLog, AlertPublisher, TickStore, TrendStateStore
from stock_pipeline.tracing import make_tracer
from stock_pipeline.trend import check_windows
from stock_pipeline.trend_batch import TrendBatch

logger = Logger()
metrics = Metrics()
tracer = make_tracer()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, logger=logger)


@dataclass(frozen=True)
class TrendDependencies:
    ticks: TickStore
    states: TrendStateStore
    publisher: AlertPublisher
    alert_log: AlertLog
    short_window: int
    long_window: int
    stalled_after: int = DEFAULT_STALLED_AFTER_SECONDS
    faults: FaultSpec = FaultSpec()


@cache
def dependencies() -> TrendDependencies:
    """Built at the first invocation, not at import, from the variables Terraform sets."""
    short_window = int(os.environ.get(Env.SHORT_WINDOW, DEFAULT_SHORT_WINDOW))
    long_window = int(os.environ.get(Env.LONG_WINDOW, DEFAULT_LONG_WINDOW))
    check_windows(short_window, long_window)
    return TrendDependencies(
        ticks=DynamoDBTickStore(os.environ[Env.TICKS_TABLE]),
        states=DynamoDBTrendStateStore(os.environ[Env.TREND_STATE_TABLE]),
        publisher=SNSAlertPublisher(os.environ[Env.ALERT_TOPIC_ARN]),
        alert_log=DynamoDBAlertLog(os.environ[Env.ALERTS_TABLE]),
        short_window=short_window,
        long_window=long_window,
        stalled_after=int(os.environ.get(Env.STALLED_AFTER_SECONDS, DEFAULT_STALLED_AFTER_SECONDS)),
        faults=FaultSpec.parse(os.environ.get(Env.FAULT_INJECTION)),
    )


def _count(name: str, value: int) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _log_fault(kind: str) -> None:
    logger.warning("fault injected", extra={"fault": kind})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = dependencies()
    publisher = deps.publisher
    if deps.faults:
        faults = Faults(deps.faults, seed=context.aws_request_id, on_inject=_log_fault)
        faults.fail_invocation(FAULT_TREND)
        if deps.faults.share(FAULT_TREND_CRASH_AFTER_PUBLISH):
            publisher = CrashAfterPublish(publisher, faults)
    catch_up = TrendCatchUp(
        ticks=deps.ticks,
        states=deps.states,
        publisher=publisher,
        alert_log=deps.alert_log,
        short_window=deps.short_window,
        long_window=deps.long_window,
        logger=logger,
        count=_count,
        clock=time.time,
        stalled_after=deps.stalled_after,
    )
    # One trace subsegment per symbol caught up: the table reads, state writes and publishes.
    batch = TrendBatch(catch_up=tracer.capture_method(catch_up.run, capture_response=False), logger=logger,
                       prefetch=catch_up.prefetch)
    return batch.process(event, processor, context)
