from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from stock_pipeline import stock_trend_analysis
from stock_pipeline.adapters import DynamoDBAlertLog, DynamoDBTickStore, DynamoDBTrendStateStore, SNSAlertPublisher
from stock_pipeline.faults import FaultSpec, InjectedCrash, InjectedFault
from stock_pipeline.lateness import Arrival
from stock_pipeline.trend_batch import read_batch
from stock_pipeline.stock_trend_analysis import TrendDependencies, lambda_handler

from .fakes import InMemoryAlertLog, InMemoryTickStore, InMemoryTrendStateStore, RecordingPublisher
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
        self.alert_log = InMemoryAlertLog()
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
        ticks=world.ticks,
        states=world.states,
        publisher=world.publisher,
        alert_log=world.alert_log,
        short_window=5,
        long_window=20,
    )
    monkeypatch.setattr(stock_trend_analysis, "dependencies", lambda: deps)
    return world


def with_faults(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    deps = stock_trend_analysis.dependencies()
    monkeypatch.setattr(stock_trend_analysis, "dependencies", lambda: replace(deps, faults=FaultSpec.parse(spec)))


def insert_record(symbol: str, timestamp: str, written_at: int, sequence: str) -> dict[str, Any]:
    """A stream record of a new tick, as the table's stream gives it."""
    record = copy.deepcopy(stream_event()["Records"][0])
    record["eventID"] = f"late-{sequence}"
    record["dynamodb"].update(
        ApproximateCreationDateTime=written_at,
        Keys={"symbol": {"S": symbol}, "timestamp": {"S": timestamp}},
        SequenceNumber=sequence,
    )
    record["dynamodb"]["NewImage"].update(symbol={"S": symbol}, timestamp={"S": timestamp})
    return record


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


def test_once_a_symbol_has_state_its_ticks_are_read_from_the_records_not_the_table(
    fakes: Fakes, output: CapturedOutput, lambda_context: LambdaContext
) -> None:
    lambda_handler(stream_event(), lambda_context)  # AAPL and MSFT: no state yet, read from the table
    queries = list(fakes.ticks.queries)

    # WHEN a batch's records carry two new AAPL ticks
    for i, price in ((24, "70"), (25, "71")):
        fakes.ticks.put({"symbol": "AAPL", "timestamp": minute(i), "price": Decimal(price)})
    event = {"Records": [insert_record("AAPL", minute(i), 1709305300, str(4100000000000000000010 + i))
                         for i in (24, 25)]}
    for record, price in zip(event["Records"], ("70", "71")):
        record["dynamodb"]["NewImage"]["price"] = {"N": price}
    assert lambda_handler(event, lambda_context) == {"batchItemFailures": []}

    # THEN they are analysed from the records: no read of the table, the state read with the batch's
    assert fakes.ticks.queries == queries
    assert fakes.states.many_gets[-1] == ("AAPL",) and fakes.states.gets == []
    assert fakes.states.get("AAPL").trend.last_timestamp == minute(25)
    # ... and logged as one routine batch, with no line per symbol
    assert output.messages("batch done")[-1]["analysed"] == 2 and output.messages("batch done")[-1]["tables_read"] == 0
    assert len(output.messages("symbol caught up")) == 2  # AAPL's and MSFT's first batch, read from the table

    # WHEN a record carries no image (as the wake-up batch after an emulator restart)
    fakes.ticks.put({"symbol": "AAPL", "timestamp": minute(26), "price": Decimal("72")})
    keys_only = insert_record("AAPL", minute(26), 1709305400, "4100000000000000000040")
    del keys_only["dynamodb"]["NewImage"]
    assert lambda_handler({"Records": [keys_only]}, lambda_context) == {"batchItemFailures": []}

    # THEN the symbol is caught up from the table
    assert fakes.ticks.queries == [*queries, ("AAPL", minute(25), 500)]
    assert fakes.states.get("AAPL").trend.last_timestamp == minute(26)


def test_each_symbols_images_are_read_with_the_newest_write_of_the_batch() -> None:
    event = stream_event()

    _, images = read_batch(event["Records"])

    # AAPL's INSERT and MODIFY carry their ticks; the batch's newest record was written at 1709305200
    assert [point.timestamp for point in images["AAPL"].points] == [minute(22), minute(23)]
    assert images["AAPL"].written_by == 1709305200 and images["MSFT"].written_by == 1709305200
    # A record whose image is missing or names another tick makes the symbol's images unknown
    del event["Records"][3]["dynamodb"]["NewImage"]
    event["Records"][2]["dynamodb"]["NewImage"]["timestamp"] = {"S": minute(9)}
    _, images = read_batch(event["Records"])
    assert images["AAPL"] is None and images["MSFT"] is None


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


def test_a_late_tick_is_logged_once_with_its_lag_and_counted(
    fakes: Fakes, output: CapturedOutput, lambda_context: LambdaContext
) -> None:
    # GIVEN the batch was analysed (AAPL up to minute 23) by a read that returned 100 s ago
    lambda_handler(stream_event(), lambda_context)
    state = fakes.states.states["AAPL"]
    read_at = state.watch.read_at - 100
    fakes.states.states["AAPL"] = replace(state, watch=replace(state.watch, read_at=read_at))

    # WHEN a tick for minute 10.5 is written after that read, and its record comes (twice: a redelivery)
    fakes.ticks.put({"symbol": "AAPL", "timestamp": "2024-03-01T15:10:30Z", "price": Decimal(1000)})
    late = {"Records": [insert_record("AAPL", "2024-03-01T15:10:30Z", read_at + 2, "4100000000000000000009")]}
    first = lambda_handler(copy.deepcopy(late), lambda_context)
    second = lambda_handler(copy.deepcopy(late), lambda_context)

    # THEN it fails nothing, is logged once as late with its lag, and counted once
    assert first == second == {"batchItemFailures": []}
    (line,) = output.messages("late tick")
    assert (line["symbol"], line["tick_timestamp"], line["watermark"], line["lag_seconds"]) == (
        "AAPL", "2024-03-01T15:10:30Z", minute(23), 750)
    assert output.metric("LateTicks") == 1
    assert fakes.states.get("AAPL").watch.late_ticks == 1
    # ... the redelivery says why it skipped the record; the analysis and the alerts are untouched
    (skipped,) = [r for r in output.messages("record skipped") if r["tick_timestamp"] == "2024-03-01T15:10:30Z"]
    assert "a late tick, counted and logged" in skipped["reason"]
    assert fakes.alerts() == [("AAPL", minute(23), "GOLDEN_CROSS")]
    assert fakes.states.get("AAPL").trend.last_timestamp == minute(23)


def test_an_injected_trend_fault_fails_the_invocation_before_reading_anything(
    fakes: Fakes, output: CapturedOutput, monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    with_faults(monkeypatch, "trend=1")

    with pytest.raises(InjectedFault):
        lambda_handler(stream_event(), lambda_context)

    assert fakes.ticks.queries == [] and fakes.states.saves == 0 and fakes.alerts() == []
    assert [line["fault"] for line in output.messages("fault injected")] == ["trend"]


def test_a_crash_after_publishing_kills_the_invocation_and_the_retry_sends_the_alert_again(
    fakes: Fakes, output: CapturedOutput, monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    # GIVEN the function dies after SNS accepts an alert, before clearing it
    with_faults(monkeypatch, "trend_crash_after_publish=1")

    # WHEN the batch is processed: the crash is no partial failure, the whole invocation dies
    with pytest.raises(InjectedCrash):
        lambda_handler(stream_event(), lambda_context)

    # THEN the alert went out once and is still pending
    assert fakes.alerts() == [("AAPL", minute(23), "GOLDEN_CROSS")]
    assert [c.alert_id for c in fakes.states.get("AAPL").pending] == [f"AAPL-{minute(23)}-GOLDEN_CROSS"]
    assert [line["fault"] for line in output.messages("fault injected")] == ["trend_crash_after_publish"]

    # WHEN the mapping retries the batch and nothing crashes
    with_faults(monkeypatch, "")
    assert lambda_handler(stream_event(), lambda_context) == {"batchItemFailures": []}

    # THEN the same alert, same alert_id, went out a second time (the one duplicate per crash), and is cleared
    published = fakes.publisher.published
    assert len(published) == 2 and published[0] == published[1]
    assert published[1].attributes["alert_id"] == f"AAPL-{minute(23)}-GOLDEN_CROSS"
    assert published[1].message.endswith(f"Alert ID: AAPL-{minute(23)}-GOLDEN_CROSS")
    assert fakes.states.get("AAPL").pending == ()
    # ... and the alerts table holds it once; this crash came before its write, so it counted one publish
    assert fakes.alert_log.counts() == {f"AAPL-{minute(23)}-GOLDEN_CROSS": 1}


def test_each_new_tick_of_a_batch_is_an_arrival_with_when_it_was_written() -> None:
    event = stream_event()
    event["Records"][2]["dynamodb"].pop("ApproximateCreationDateTime")  # MSFT: none given
    event["Records"][3]["dynamodb"]["ApproximateCreationDateTime"] = "soon"  # AAPL MODIFY: not a number
    unreadable = [{"eventName": "TRUNCATE", "dynamodb": {}}, {"eventName": "INSERT", "dynamodb": {"Keys": 7}}]

    arrivals, _ = read_batch(event["Records"] + unreadable)

    # The REMOVE is no new tick; a creation time that is missing or not a number is None (nothing is late then)
    assert arrivals == {
        "AAPL": [Arrival(minute(22), 1709305200, 4100000000000000000001), Arrival(minute(23), None, 4100000000000000000004)],
        "MSFT": [Arrival(minute(0), None, 4100000000000000000003)],
    }


def test_dependencies_come_from_the_environment_at_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "TICKS_TABLE": "tickstack-ticks",
        "TREND_STATE_TABLE": "tickstack-trend-state",
        "ALERTS_TABLE": "tickstack-alerts",
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:000000000000:tickstack-alerts",
        "SHORT_WINDOW": "3",
        "LONG_WINDOW": "10",
        "STALLED_AFTER_SECONDS": "600",
        "FAULT_INJECTION": "trend=0.1,trend_crash_after_publish=0.2",
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
    assert isinstance(deps.alert_log, DynamoDBAlertLog) and deps.alert_log.table_name == "tickstack-alerts"
    assert (deps.short_window, deps.long_window) == (3, 10)
    assert deps.stalled_after == 600
    assert deps.faults.shares == {"trend": 0.1, "trend_crash_after_publish": 0.2}


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
