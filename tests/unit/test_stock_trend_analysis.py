from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from stock_pipeline import stock_trend_analysis
from stock_pipeline.adapters import DynamoDBTickStore, DynamoDBTrendStateStore, SNSAlertPublisher
from stock_pipeline.stock_trend_analysis import TrendDependencies, lambda_handler

from .fakes import InMemoryTickStore, InMemoryTrendStateStore, RecordingPublisher
from .support import CapturedOutput, LambdaContext, captured, load_event, minute

# Powertools warns when an invocation emits no metric, as a batch without new ticks does.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

# The stream event names AAPL 15:22 (INSERT), AAPL 15:00 (REMOVE), MSFT 15:00 (INSERT), AAPL 15:23 (MODIFY).
AAPL_SEQUENCE_NUMBERS = ["4100000000000000000001", "4100000000000000000004"]
# AAPL falls to 21, then jumps: a golden cross at 15:23. MSFT has only 5 ticks: still warming up.
AAPL_PRICES = [40 - i for i in range(20)] + [21, 21, 60, 61]
MSFT_PRICES = [400, 401, 402, 403, 404]


class Fakes:
    def __init__(self) -> None:
        self.ticks = InMemoryTickStore()
        self.states = InMemoryTrendStateStore()
        self.publisher = RecordingPublisher()
        for symbol, prices in (("AAPL", AAPL_PRICES), ("MSFT", MSFT_PRICES)):
            for i, price in enumerate(prices):
                self.ticks.put({"symbol": symbol, "timestamp": minute(i), "price": Decimal(price)})

    def alerts(self) -> list[tuple[str, str, str]]:
        return [(a.attributes["symbol"], a.attributes["timestamp"], a.attributes["signal"])
                for a in self.publisher.published]


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    world = Fakes()
    deps = TrendDependencies(
        ticks=world.ticks, states=world.states, publisher=world.publisher, short_window=5, long_window=20
    )
    monkeypatch.setattr(stock_trend_analysis, "dependencies", lambda: deps)
    return world


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> Iterator[CapturedOutput]:
    with captured(stock_trend_analysis, capsys) as out:
        yield out


def stream_event() -> dict[str, Any]:
    return load_event("dynamodb_ticks_stream.json")


def test_a_stream_batch_catches_each_symbol_up_once_and_alerts_the_cross(
    fakes: Fakes, output: CapturedOutput, lambda_context: LambdaContext
) -> None:
    # GIVEN a stream batch naming AAPL three times and MSFT once
    # WHEN the handler runs
    response = lambda_handler(stream_event(), lambda_context)

    # THEN each symbol was read from the table once, and AAPL's golden cross was alerted
    assert response == {"batchItemFailures": []}
    assert [(symbol, after) for symbol, after, _ in fakes.ticks.queries] == [("AAPL", None), ("MSFT", None)]
    assert fakes.alerts() == [("AAPL", minute(23), "GOLDEN_CROSS")]
    assert fakes.publisher.published[0].message.startswith("AAPL is in an Uptrend. Consider a buy opportunity.\n")
    assert fakes.states.get("MSFT").trend.last_timestamp == minute(4)

    # ... and said so in its logs and metrics
    assert output.messages("batch received")[0]["records"] == 4
    caught_up = {line["symbol"]: line for line in output.messages("symbol caught up")}
    assert caught_up["AAPL"]["analysed"] == 24 and caught_up["AAPL"]["crosses"] == [f"AAPL-{minute(23)}-GOLDEN_CROSS"]
    assert caught_up["MSFT"]["analysed"] == 5 and caught_up["MSFT"]["crosses"] == []
    (cross,) = output.messages("cross detected")
    assert (cross["sma_short"], cross["sma_long"]) == ("36.8000", "30.9500")
    assert output.messages("batch done")[0]["symbols"] == ["AAPL", "MSFT"]
    assert output.metric("CrossesDetected") == 1
    assert output.metric("AlertsPublished") == 1


def test_a_redelivered_batch_alerts_nothing_new_and_says_why_it_skipped(
    fakes: Fakes, output: CapturedOutput, lambda_context: LambdaContext
) -> None:
    lambda_handler(stream_event(), lambda_context)

    # WHEN the same records come again
    response = lambda_handler(stream_event(), lambda_context)

    # THEN nothing new is alerted, and each redelivered record is logged as skipped with the reason
    assert response == {"batchItemFailures": []}
    assert fakes.alerts() == [("AAPL", minute(23), "GOLDEN_CROSS")]
    skipped = [(line["symbol"], line["tick_timestamp"]) for line in output.messages("record skipped")]
    assert skipped == [("AAPL", minute(22)), ("MSFT", minute(0)), ("AAPL", minute(23))]
    assert "a redelivery" in output.messages("record skipped")[0]["reason"]
    assert output.metric("AlertsPublished") == 1


def test_records_in_any_order_give_the_same_alerts(fakes: Fakes, lambda_context: LambdaContext) -> None:
    event = stream_event()
    event["Records"].reverse()

    response = lambda_handler(event, lambda_context)

    assert response == {"batchItemFailures": []}
    assert fakes.alerts() == [("AAPL", minute(23), "GOLDEN_CROSS")]


def test_a_failed_publish_fails_that_symbols_records_and_the_retry_alerts_once(
    fakes: Fakes, output: CapturedOutput, lambda_context: LambdaContext
) -> None:
    # GIVEN SNS fails once
    fakes.publisher.fail_calls = {1}

    # WHEN the batch is processed, then retried as the mapping would
    first = lambda_handler(stream_event(), lambda_context)
    second = lambda_handler(stream_event(), lambda_context)

    # THEN the first attempt reported AAPL's records (the REMOVE aside) for retry, not MSFT's
    assert first == {"batchItemFailures": [{"itemIdentifier": seq} for seq in AAPL_SEQUENCE_NUMBERS]}
    assert output.messages("batch done")[0]["failed_symbols"] == ["AAPL"]
    # ... and the retry published the pending alert exactly once
    assert second == {"batchItemFailures": []}
    assert fakes.alerts() == [("AAPL", minute(23), "GOLDEN_CROSS")]
    assert fakes.states.get("AAPL").pending == ()
    assert output.metric("CrossesDetected") == 1
    assert output.metric("AlertsPublished") == 1


def test_remove_records_are_ignored(fakes: Fakes, lambda_context: LambdaContext) -> None:
    event = stream_event()
    event["Records"] = [r for r in event["Records"] if r["eventName"] == "REMOVE"]

    response = lambda_handler(event, lambda_context)

    assert response == {"batchItemFailures": []}
    assert fakes.ticks.queries == []


def test_a_batch_whose_every_record_fails_fails_the_invocation(fakes: Fakes, lambda_context: LambdaContext) -> None:
    fakes.ticks.fail_for_symbols = {"AAPL", "MSFT"}
    event = stream_event()
    event["Records"] = [r for r in event["Records"] if r["eventName"] != "REMOVE"]

    with pytest.raises(BatchProcessingError):
        lambda_handler(event, lambda_context)


def test_sma_values_are_logged_at_debug_level(
    fakes: Fakes, output: CapturedOutput, lambda_context: LambdaContext
) -> None:
    stock_trend_analysis.logger.setLevel("DEBUG")
    try:
        lambda_handler(stream_event(), lambda_context)
    finally:
        stock_trend_analysis.logger.setLevel("INFO")

    analysed = [line for line in output.messages("point analysed") if line["symbol"] == "AAPL"]
    assert len(analysed) == len(AAPL_PRICES)
    last = analysed[-1]
    assert (last["tick_timestamp"], last["price"], last["sma_short"], last["sma_long"], last["sign"]) == (
        minute(23), "61", "36.8000", "30.9500", 1
    )


def test_dependencies_come_from_the_environment_at_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "TICKS_TABLE": "tickstack-ticks",
        "TREND_STATE_TABLE": "tickstack-trend-state",
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:000000000000:tickstack-alerts",
        "SHORT_WINDOW": "3",
        "LONG_WINDOW": "10",
    }.items():
        monkeypatch.setenv(name, value)
    stock_trend_analysis.dependencies.cache_clear()
    try:
        deps = stock_trend_analysis.dependencies()
    finally:
        stock_trend_analysis.dependencies.cache_clear()

    assert isinstance(deps.ticks, DynamoDBTickStore) and deps.ticks.table_name == "tickstack-ticks"
    assert isinstance(deps.states, DynamoDBTrendStateStore) and deps.states.table_name == "tickstack-trend-state"
    assert isinstance(deps.publisher, SNSAlertPublisher) and deps.publisher.topic_arn.endswith(":tickstack-alerts")
    assert (deps.short_window, deps.long_window) == (3, 10)


def test_windows_in_the_wrong_order_are_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHORT_WINDOW", "20")
    monkeypatch.setenv("LONG_WINDOW", "5")
    stock_trend_analysis.dependencies.cache_clear()
    try:
        with pytest.raises(ValueError, match="short window < long window"):
            stock_trend_analysis.dependencies()
    finally:
        stock_trend_analysis.dependencies.cache_clear()


def test_tracing_is_off_outside_lambda() -> None:
    # No X-Ray daemon listens here; Terraform sets POWERTOOLS_TRACE_DISABLED on the emulators too.
    assert stock_trend_analysis.tracer.disabled
