"""The stack's dashboard source and the chart's stack reads, over in-memory fakes of the AWS clients (no network).

The e2e test covers the emulator's side (no CloudWatch metrics: counts from the logs); these cover
what no emulator here gives: CloudWatch metrics, alerts a target cannot read back, caching.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from stock_pipeline.adapters import state_to_item
from stock_pipeline.ports import StoredTrendState
from stock_pipeline.ticks import parse_tick
from stock_pipeline.trend import TrendState
from tests.conftest import FIXTURE
from tickstack.dashboard import DashboardSource
from tickstack.dashboard.stack_source import StackSource, stack_series
from tickstack.errors import EmulatorError, TargetError

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
TICKS = [parse_tick(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
OUTPUTS = {
    "stream_name": "t-ticks",
    "table_name": "t-ticks",
    "trend_state_table_name": "t-trend-state",
    "bucket_name": "t-archive",
    "alert_audit_queue_url": "http://queue/t-alert-audit",
    "function_names": {"process": "t-ProcessStockData", "trend": "t-StockTrendAnalysis"},
    "rejected_prefix": "rejected/",
    "sma_windows": {"short": 5, "long": 20},
}
_serializer = TypeSerializer()


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items()}


def _no_such(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, operation)


class FakeDynamoDB:
    def __init__(self) -> None:
        self.ticks: dict[str, dict[str, Decimal]] = {}
        self.states: dict[str, StoredTrendState] = {}
        self.calls: list[str] = []

    def store(self, ticks) -> None:
        for tick in ticks:
            self.ticks.setdefault(tick.symbol, {})[tick.timestamp] = tick.price
            stored = self.states.get(tick.symbol, StoredTrendState())
            window = (*stored.trend.window, tick.price)[-19:]
            self.states[tick.symbol] = StoredTrendState(TrendState(tick.timestamp, 1, window), (), stored.version + 1)

    def scan(self, **request):
        self.calls.append("scan")
        items = [_item(state_to_item(s, state, updated_at="2026-11-25T12:00:00Z")) for s, state in self.states.items()]
        return {"Items": items, "Count": len(items)}

    def query(self, **request):
        symbol = request["ExpressionAttributeValues"][":symbol"]["S"]
        rows = sorted(self.ticks.get(symbol, {}).items())
        if request.get("Select") == "COUNT":
            self.calls.append(f"count {symbol}")
            return {"Count": len(rows)}
        # Pages of 30, as DynamoDB pages at 1 MB: the reader must follow LastEvaluatedKey.
        start = int(request.get("ExclusiveStartKey", {}).get("n", 0))
        page = rows[start:start + 30]
        response: dict[str, Any] = {"Items": [_item({"timestamp": t, "price": p}) for t, p in page]}
        if start + 30 < len(rows):
            response["LastEvaluatedKey"] = {"n": start + 30}
        return response


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[datetime, bytes]] = {}
        self.reads: list[str] = []

    def get_paginator(self, name):
        fake = self

        class Paginator:
            def paginate(self, Bucket, Prefix):  # noqa: N803 (boto3's names)
                yield {"Contents": [{"Key": k, "LastModified": at, "ETag": "e"} for k, (at, _) in fake.objects.items()
                                    if k.startswith(Prefix)]}

        return Paginator()

    def get_object(self, Bucket, Key):  # noqa: N803
        self.reads.append(Key)

        class Body:
            def read(inner):
                return self.objects[Key][1]

        return {"Body": Body()}


class FakeCloudWatch:
    """Metrics as AWS lists them: a name per dimension, datapoints per query."""

    def __init__(self, listed: dict[tuple[str, str], set[str]] | None = None,
                 values: dict[tuple[str, str, str], list[float]] | None = None) -> None:
        self.listed = listed or {}
        self.values = values or {}
        self.calls = 0

    def list_metrics(self, Namespace, Dimensions):  # noqa: N803
        value = Dimensions[0]["Value"]
        names = self.listed.get((Namespace, value), set())
        return {"Metrics": [{"MetricName": n, "Dimensions": [{"Name": Dimensions[0]["Name"], "Value": value}]}
                            for n in sorted(names)]}

    def get_metric_data(self, MetricDataQueries, StartTime, EndTime):  # noqa: N803
        self.calls += 1
        results = []
        for query in MetricDataQueries:
            stat = query["MetricStat"]
            key = (stat["Metric"]["MetricName"], stat["Metric"]["Dimensions"][0]["Value"], stat["Stat"])
            values = self.values.get(key, [])
            stamps = [NOW - timedelta(minutes=len(values) - i) for i in range(len(values))]
            results.append({"Id": query["Id"], "Timestamps": stamps[::-1], "Values": values[::-1]})
        return {"MetricDataResults": results}


class FakeLogs:
    def __init__(self) -> None:
        self.groups: dict[str, list[dict[str, Any]]] = {}
        self.calls = 0

    def write(self, function: str, stream: str, at_ms: int, *messages: str) -> None:
        events = self.groups.setdefault(f"/aws/lambda/{function}", [])
        events.extend({"logStreamName": stream, "timestamp": at_ms, "message": m} for m in messages)

    def filter_log_events(self, logGroupName, filterPattern, startTime):  # noqa: N803
        self.calls += 1
        if logGroupName not in self.groups:
            raise _no_such("FilterLogEvents")
        terms = filterPattern.lower().split()
        return {"events": [e for e in self.groups[logGroupName]
                           if e["timestamp"] >= startTime and all(t in e["message"].lower() for t in terms)]}


class FakeTarget:
    name = "fake"
    endpoint = None
    region = "us-east-1"

    def __init__(self, *, alerts: list[dict] | None = None, answering: bool = True, **clients) -> None:
        self.outputs = OUTPUTS
        self.clients = clients
        self.alerts = alerts
        self.answering = answering

    def client(self, service: str):
        return self.clients[service]

    def require_running(self) -> None:
        if not self.answering:
            raise EmulatorError("fake does not answer at http://127.0.0.1:1")

    def audit_messages(self, queue_url: str) -> list[dict]:
        if self.alerts is None:
            raise TargetError("on aws the alerts reach the topic's email/SMS subscribers")
        return [{"Body": json.dumps(envelope(**a))} for a in self.alerts]


def envelope(symbol: str, signal: str, timestamp: str, price: str, sent_at: str) -> dict:
    return {"Type": "Notification", "Subject": f"{symbol} {signal}", "Message": "m", "Timestamp": sent_at,
            "MessageAttributes": {k: {"Type": "String", "Value": v} for k, v in
                                  {"symbol": symbol, "signal": signal, "timestamp": timestamp, "price": price}.items()}}


GOLDEN_ALERT = {"symbol": "AAPL", "signal": "GOLDEN_CROSS", "timestamp": "2012-11-26T21:00:00Z", "price": "589.53",
                "sent_at": "2026-11-25T11:00:00.000Z"}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_source(target, clock=None, **kwargs) -> StackSource:
    return StackSource(target, clock=clock or Clock(), now=lambda: NOW, **kwargs)


@pytest.fixture
def dynamodb() -> FakeDynamoDB:
    fake = FakeDynamoDB()
    fake.store(TICKS)
    return fake


def test_stack_source_is_a_dashboard_source(dynamodb):
    assert isinstance(make_source(FakeTarget(dynamodb=dynamodb)), DashboardSource)


def test_metrics_the_target_lists_come_from_cloudwatch(dynamodb):
    # GIVEN a target that lists Kinesis and Lambda metrics (as AWS does)
    process, trend = OUTPUTS["function_names"]["process"], OUTPUTS["function_names"]["trend"]
    cloudwatch = FakeCloudWatch(
        listed={
            ("AWS/Kinesis", "t-ticks"): {"IncomingRecords", "GetRecords.IteratorAgeMilliseconds"},
            ("AWS/Lambda", process): {"Invocations", "Errors", "Duration"},
            ("AWS/Lambda", trend): {"Invocations", "Errors", "Duration"},
        },
        values={
            ("IncomingRecords", "t-ticks", "Sum"): [50.0, 32.0],
            ("GetRecords.IteratorAgeMilliseconds", "t-ticks", "Maximum"): [900.0, 0.0, 250.0],
            ("Invocations", process, "Sum"): [3.0, 4.0],
            ("Errors", process, "Sum"): [0.0, 1.0],
            ("Duration", process, "Sum"): [300.0, 400.0],
            ("Duration", process, "SampleCount"): [3.0, 4.0],
            ("Invocations", trend, "Sum"): [2.0],
            ("Errors", trend, "Sum"): [],
            ("Duration", trend, "Sum"): [90.0],
            ("Duration", trend, "SampleCount"): [2.0],
        },
    )
    logs = FakeLogs()
    target = FakeTarget(dynamodb=dynamodb, s3=FakeS3(), cloudwatch=cloudwatch, logs=logs, alerts=[GOLDEN_ALERT])
    snapshot = make_source(target).snapshot()
    # THEN every figure is CloudWatch's, and the logs are not read
    assert snapshot["ticks_in"] == 82
    assert snapshot["iterator_age_ms"] == 250.0  # the latest value, not the largest
    assert snapshot["functions"] == [
        {"name": process, "invocations": 7, "errors": 1, "duration_ms": 100.0},
        {"name": trend, "invocations": 2, "errors": 0, "duration_ms": 45.0},
    ]
    assert snapshot["notes"]["functions"] == "CloudWatch AWS/Lambda metrics, last 24 h"
    assert snapshot["notes"]["ticks_in"] == "records put on the stream, last 24 h"
    assert "iterator_age_ms" not in snapshot["notes"]
    assert logs.calls == 0
    assert snapshot["stored"] == 80
    assert snapshot["symbols"] == [
        {"symbol": "AAPL", "ticks": 80, "last_timestamp": "2012-12-28T21:00:00Z", "last_price": TICKS[-1].price}]


def test_without_metrics_the_functions_are_counted_from_their_logs(dynamodb):
    # GIVEN a target with no CloudWatch metrics (as MiniStack for stream-driven invocations)
    process, trend = OUTPUTS["function_names"]["process"], OUTPUTS["function_names"]["trend"]
    logs = FakeLogs()
    at = int(NOW.timestamp() * 1000)
    logs.write(process, "s1", at, "START RequestId: a1 Version: $LATEST",
               '{"level":"WARNING","message":"tick rejected","exception":"Traceback (most recent call last): ..."}',
               "END RequestId: a1", "REPORT RequestId: a1\tDuration: 120 ms\tBilled Duration: 120 ms")
    logs.write(process, "s2", at + 5, "START RequestId: a2 Version: $LATEST", "Traceback (most recent call last):",
               "ValueError: boom", "END RequestId: a2", "REPORT RequestId: a2\tDuration: 80 ms\tBilled Duration: 80 ms")
    logs.write(trend, "s3", at + 7, "REPORT RequestId: b1\tDuration: 9.5 ms\tBilled Duration: 10 ms")
    clock = Clock()
    target = FakeTarget(dynamodb=dynamodb, s3=FakeS3(), cloudwatch=FakeCloudWatch(), logs=logs, alerts=[])
    source = make_source(target, clock)
    snapshot = source.snapshot()
    # THEN one invocation per REPORT line, an unhandled error (not a logged one) counted, durations averaged
    assert snapshot["functions"] == [
        {"name": process, "invocations": 2, "errors": 1, "duration_ms": 100.0},
        {"name": trend, "invocations": 1, "errors": 0, "duration_ms": 9.5},
    ]
    assert snapshot["ticks_in"] is None and snapshot["iterator_age_ms"] is None
    assert "CloudWatch Logs" in snapshot["notes"]["functions"]
    assert snapshot["notes"]["iterator_age_ms"] == "not recorded by this target"

    # WHEN more invocations are logged THEN the next refresh adds them, counting none twice
    logs.write(trend, "s3", at + 900, "REPORT RequestId: b2\tDuration: 0.5 ms\tBilled Duration: 1 ms")
    clock.now += 1.5
    again = source.snapshot()
    assert again["functions"][0]["invocations"] == 2
    assert again["functions"][1] == {"name": trend, "invocations": 2, "errors": 0, "duration_ms": 5.0}


def test_a_target_without_log_groups_or_metrics_gives_none():
    target = FakeTarget(dynamodb=FakeDynamoDB(), s3=FakeS3(), cloudwatch=FakeCloudWatch(), logs=FakeLogs(), alerts=[])
    snapshot = make_source(target).snapshot()
    assert [f["invocations"] for f in snapshot["functions"]] == [None, None]
    assert snapshot["notes"]["functions"].startswith("not recorded by this target")
    assert snapshot["stored"] == 0 and snapshot["symbols"] == []


def test_rejections_counted_and_the_newest_reasons_read_once(dynamodb):
    s3 = FakeS3()
    for minute in range(8):
        body = {"reason": f"bad {minute}", "rejected_at": f"2026-11-25T10:0{minute}:00Z", "raw": "x"}
        s3.objects[f"rejected/2026-11-25/shardId-0-{minute}.json"] = (NOW + timedelta(minutes=minute), json.dumps(body).encode())
    s3.objects["raw-data/AAPL/x.json"] = (NOW, b"{}")
    clock = Clock()
    source = make_source(FakeTarget(dynamodb=dynamodb, s3=s3, cloudwatch=FakeCloudWatch(), logs=FakeLogs(), alerts=[]), clock)
    snapshot = source.snapshot()
    assert snapshot["rejected"] == 8
    assert [r["reason"] for r in snapshot["rejected_latest"]] == ["bad 7", "bad 6", "bad 5", "bad 4", "bad 3"]
    clock.now += 5
    source.snapshot()
    assert len(s3.reads) == 5  # a rejected object's body never changes: read once


def test_refreshes_are_shared_and_counts_redone_only_when_the_state_moved(dynamodb):
    clock = Clock()
    target = FakeTarget(dynamodb=dynamodb, s3=FakeS3(), cloudwatch=FakeCloudWatch(), logs=FakeLogs(), alerts=[])
    source = make_source(target, clock)
    first = source.snapshot()
    clock.now += 0.5
    assert source.snapshot() is first  # within the TTL: no read at all
    assert dynamodb.calls == ["scan", "count AAPL"]
    clock.now += 1.0
    source.snapshot()
    assert dynamodb.calls == ["scan", "count AAPL", "scan"]  # state unchanged: no recount
    dynamodb.store([parse_tick(FIXTURE.read_text().splitlines()[0].replace("2012-09-04T20", "2013-01-02T20"))])
    clock.now += 1.0
    assert source.snapshot()["stored"] == 81
    assert dynamodb.calls[-2:] == ["scan", "count AAPL"]


def test_an_emulator_that_stops_answering_is_one_error_not_a_wait(dynamodb):
    target = FakeTarget(dynamodb=dynamodb, answering=False)
    with pytest.raises(EmulatorError, match="does not answer"):
        make_source(target).snapshot()
    assert dynamodb.calls == []


def test_alerts_a_target_cannot_read_back_leave_the_crosses_computed(dynamodb):
    # GIVEN a target whose alerts cannot be read back (aws)
    target = FakeTarget(dynamodb=dynamodb, s3=FakeS3(), cloudwatch=FakeCloudWatch(), logs=FakeLogs(), alerts=None)
    source = make_source(target)
    snapshot = source.snapshot()
    assert snapshot["alerts"] == []
    assert "alerts cannot be read back here" in snapshot["notes"]["alerts"]
    assert source.symbol_series("AAPL").alerts is None
    drawn = stack_series(target, "AAPL")
    assert drawn.series.crosses_source == "computed" and len(drawn.series.crosses) == 2
    assert "crosses computed from the stored ticks" in drawn.notes[0]


def test_the_chart_of_a_stack_marks_its_alerts_not_a_recomputation(dynamodb):
    # GIVEN a stack that alerted only the golden cross WHEN charted THEN only that cross is marked
    target = FakeTarget(dynamodb=dynamodb, alerts=[GOLDEN_ALERT])
    drawn = stack_series(target, "aapl")
    assert drawn.notes == ()
    assert drawn.series.crosses_source == "alerts"
    assert [(c.signal, c.timestamp, str(c.price)) for c in drawn.series.crosses] == [
        ("GOLDEN_CROSS", "2012-11-26T21:00:00Z", "589.53")]
    assert len(drawn.series.points) == 80  # every page of the Query read
    # Other windows than the stack's: its alerts do not apply, and that is said
    other = stack_series(target, "AAPL", short_window=3, long_window=10)
    assert other.series.crosses_source == "computed"
    assert other.notes == ("crosses computed with SMA-3/SMA-10: the stack alerts on SMA-5/SMA-20",)

