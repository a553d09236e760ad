"""`tickstack logs`: the functions' CloudWatch Logs read, merged and made readable, against a fake client.

The events below have the shapes MiniStack 1.5.33 returned from FilterLogEvents for a deployed stack
(measured): no eventId, every line of one invocation stamped alike, Powertools JSON between START and
END/REPORT, and the metrics as an embedded-metric-format line.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from tests.conftest import ROOT
from tickstack.cli import app
from tickstack.cli.logs import render
from tickstack.ops import logs as ops_logs
from tickstack.ops.logs import LogEvent, LogReader, LogsError, entry, follow, log_groups, parse_since, read_logs

FUNCTIONS = {"process": "tickstack-ProcessStockData", "trend": "tickstack-StockTrendAnalysis"}
PROCESS_GROUP = "/aws/lambda/tickstack-ProcessStockData"
TREND_GROUP = "/aws/lambda/tickstack-StockTrendAnalysis"
STREAM = "2026/11/25/[$LATEST]b054e2c37423495da8ff504d8d0508a7"
T0 = 1795647071545  # 2026-11-25T22:51:11.545Z

CROSS = {"level": "INFO", "location": "_attempt:136", "message": "cross detected",
         "timestamp": "2026-11-25 22:51:11,505+0000", "service": "stock-trend-analysis", "cold_start": True,
         "function_name": "tickstack-StockTrendAnalysis", "function_memory_size": 256,
         "function_arn": "arn:aws:lambda:us-east-1:000000000000:function:tickstack-StockTrendAnalysis",
         "function_request_id": "db4ce7a1", "alert_id": "AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS", "symbol": "AAPL",
         "signal": "GOLDEN_CROSS", "price": 589.53, "sma_short": "569.8747", "sma_long": "565.8880",
         "xray_trace_id": "1-6b07665e-0778b2cda6b58c8202e75ed0"}
METRICS = {"_aws": {"Timestamp": T0 - 8, "CloudWatchMetrics": [{"Namespace": "Tickstack", "Dimensions": [["service"]],
                                                                "Metrics": [{"Name": "CrossesDetected", "Unit": "Count"},
                                                                            {"Name": "AlertsPublished", "Unit": "Count"}]}]},
           "service": "stock-trend-analysis", "CrossesDetected": [1.0, 1.0], "AlertsPublished": [1.0, 1.0]}
FAILED = {"level": "ERROR", "message": "publish failed", "timestamp": "2026-11-25 22:51:12,001+0000",
          "symbol": "AAPL", "exception_name": "ClientError",
          "exception": "Traceback (most recent call last):\n  ...\nClientError: throttled"}


def invocation(stamp: int, *lines) -> list[dict]:
    messages = ["START RequestId: db4ce7a1 Version: $LATEST", *(json.dumps(line) for line in lines),
                "END RequestId: db4ce7a1", "REPORT RequestId: db4ce7a1\tDuration: 807 ms\tBilled Duration: 807 ms"]
    return [{"logStreamName": STREAM, "timestamp": stamp, "message": m, "ingestionTime": stamp} for m in messages]


class FakeLogs:
    """FilterLogEvents over stored events: startTime honoured, pages of `page_size`, unknown groups refused."""

    def __init__(self, page_size: int = 100):
        self.groups: dict[str, list[dict]] = {}
        self.page_size = page_size
        self.calls: list[dict] = []

    def filter_log_events(self, **kwargs):
        self.calls.append(kwargs)
        if kwargs["logGroupName"] not in self.groups:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException",
                                         "Message": "The specified log group does not exist"}}, "FilterLogEvents")
        matching = [e for e in self.groups[kwargs["logGroupName"]] if e["timestamp"] >= kwargs.get("startTime", 0)]
        offset = int(kwargs.get("nextToken", "0"))
        page = {"events": matching[offset:offset + self.page_size]}
        if offset + self.page_size < len(matching):
            page["nextToken"] = str(offset + self.page_size)
        return page


def plain(event: LogEvent) -> str:
    return render(entry(event)).plain


# --- which groups --------------------------------------------------------------------------------------


def test_log_groups_are_named_after_the_deployed_functions():
    assert log_groups(FUNCTIONS) == {"process": PROCESS_GROUP, "trend": TREND_GROUP}
    assert log_groups(FUNCTIONS, "trend") == {"trend": TREND_GROUP}
    with pytest.raises(LogsError, match="no function 'alerts': choose one of process, trend"):
        log_groups(FUNCTIONS, "alerts")


def test_the_group_name_is_the_one_terraform_creates():
    compute = (ROOT / "terraform" / "compute.tf").read_text()
    block = re.search(r'resource "aws_cloudwatch_log_group" "function" \{(.*?)\n\}', compute, re.DOTALL).group(1)
    assert re.search(r'name\s*=\s*"' + re.escape(ops_logs.LOG_GROUP_PREFIX) + r'\$\{each\.value\.name\}"', block)


@pytest.mark.parametrize("text, expected", [("30s", timedelta(seconds=30)), ("10m", timedelta(minutes=10)),
                                            ("2h", timedelta(hours=2)), ("1d", timedelta(days=1)),
                                            ("1h30m", timedelta(minutes=90)), (" 5M ", timedelta(minutes=5))])
def test_since_durations(text, expected):
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "10", "m", "10 minutes", "-5m", "1.5h", "10x"])
def test_since_refuses_what_is_not_a_duration(text):
    with pytest.raises(LogsError, match="is not a duration"):
        parse_since(text)


# --- readable lines -----------------------------------------------------------------------------------


def test_a_powertools_line_reads_time_level_function_message_and_its_own_fields():
    line = plain(LogEvent("trend", T0, json.dumps(CROSS)))
    assert line == ("22:51:11.505 INFO    trend   cross detected  alert_id=AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS  "
                    "symbol=AAPL  signal=GOLDEN_CROSS  price=589.53  sma_short=569.8747  sma_long=565.8880  "
                    "cold_start=true")
    # The invocation's context (ARN, request id, trace id, memory, service) is not repeated on every line.
    for noise in ("function_arn", "xray_trace_id", "function_request_id", "service", "location"):
        assert noise not in line


def test_metrics_lines_show_the_summed_metrics():
    item = entry(LogEvent("trend", T0, json.dumps(METRICS)))
    assert (item.level, item.message, item.fields) == ("METRIC", "metrics", {"CrossesDetected": "2",
                                                                              "AlertsPublished": "2"})
    assert render(item).plain.startswith("22:51:11.537 METRIC  trend   metrics  CrossesDetected=2")


def test_an_error_shows_its_traceback_under_it():
    line = plain(LogEvent("trend", T0, json.dumps(FAILED)))
    first, *rest = line.splitlines()
    assert first == "22:51:12.001 ERROR   trend   publish failed  symbol=AAPL"
    assert rest[-1] == "ClientError: throttled"


def test_platform_lines_stay_text_with_the_event_time():
    line = plain(LogEvent("process", T0, "REPORT RequestId: r1\tDuration: 807 ms\tBilled Duration: 807 ms\n"))
    assert line == "22:51:11.545 -       process REPORT RequestId: r1  Duration: 807 ms  Billed Duration: 807 ms"
    assert plain(LogEvent("process", T0, "{not json")).endswith("process {not json")


# --- reading ------------------------------------------------------------------------------------------


def test_both_groups_merged_in_time_order_invocations_kept_in_their_order():
    client = FakeLogs()
    client.groups[PROCESS_GROUP] = invocation(T0 - 800, METRICS)
    client.groups[TREND_GROUP] = invocation(T0, CROSS, METRICS)
    events = LogReader(client, log_groups(FUNCTIONS)).read(0)
    assert [e.function for e in events] == ["process"] * 4 + ["trend"] * 5
    assert [e.message.split()[0] for e in events[4:]] == ["START", json.dumps(CROSS).split()[0], '{"_aws":', "END",
                                                          "REPORT"]
    assert len({e.key for e in events}) == len(events)  # no event ids here, yet every event is told apart


def test_reading_pages_through_and_starts_at_since(monkeypatch):
    client = FakeLogs(page_size=2)
    client.groups[TREND_GROUP] = invocation(T0 - 3_600_000, CROSS) + invocation(T0, CROSS, CROSS)
    reader = LogReader(client, log_groups(FUNCTIONS, "trend"))
    events = read_logs(reader, timedelta(minutes=10), clock=lambda: T0 + 1000)
    assert len(events) == 5 and {e.timestamp for e in events} == {T0}
    assert client.calls[0]["startTime"] == T0 + 1000 - 600_000
    assert len(client.calls) == 3  # three pages of two


def test_a_group_not_created_yet_reads_as_nothing():
    client = FakeLogs()
    assert LogReader(client, log_groups(FUNCTIONS)).read(0) == []


def test_other_client_errors_are_not_hidden():
    class Denied(FakeLogs):
        def filter_log_events(self, **kwargs):
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "FilterLogEvents")

    with pytest.raises(ClientError):
        LogReader(Denied(), log_groups(FUNCTIONS)).read(0)


def test_follow_prints_each_event_once_including_new_ones_at_the_same_millisecond():
    client = FakeLogs()
    client.groups[TREND_GROUP] = invocation(T0, CROSS)
    printed: list[LogEvent] = []
    polls = iter(range(10))

    def sleep(_seconds):
        n = next(polls)
        if n == 0:  # a second invocation, stamped at the same millisecond, on another stream
            client.groups[TREND_GROUP] += [dict(e, logStreamName="other") for e in invocation(T0, METRICS)]
        if n == 1:
            client.groups[TREND_GROUP] += invocation(T0 + 5000, FAILED)

    follow(LogReader(client, log_groups(FUNCTIONS, "trend")), timedelta(minutes=1), printed.append,
           clock=lambda: T0, sleep=sleep, polls=3)

    assert len(printed) == 4 + 4 + 4
    assert len({e.key for e in printed}) == 12
    assert [e.timestamp for e in printed] == sorted(e.timestamp for e in printed)


def test_follow_uses_event_ids_where_the_target_gives_them():
    client = FakeLogs()
    client.groups[TREND_GROUP] = [dict(e, eventId=f"id-{i}") for i, e in enumerate(invocation(T0, CROSS))]
    printed: list[LogEvent] = []
    follow(LogReader(client, log_groups(FUNCTIONS, "trend")), timedelta(minutes=1), printed.append,
           clock=lambda: T0, sleep=lambda s: None, polls=3)
    assert [e.key[1] for e in printed] == [f"id-{i}" for i in range(4)]


# --- the command --------------------------------------------------------------------------------------


class StubTarget:
    def __init__(self, client):
        self.outputs = {"function_names": FUNCTIONS}
        self._client = client
        self.asked: list[str] = []

    def client(self, service):
        self.asked.append(service)
        return self._client


@pytest.fixture
def deployed(monkeypatch):
    import tickstack.cli.logs as cli_logs

    client = FakeLogs()
    now = T0 + 60_000
    client.groups[TREND_GROUP] = invocation(T0, CROSS)
    client.groups[PROCESS_GROUP] = invocation(T0 - 1000, METRICS)
    stub = StubTarget(client)
    monkeypatch.setattr(cli_logs, "running_target", lambda name: stub)
    monkeypatch.setattr(ops_logs, "now_ms", lambda: now)
    monkeypatch.setattr(cli_logs, "read_logs", lambda reader, window: ops_logs.read_logs(reader, window, lambda: now))
    return stub


def test_tickstack_logs_prints_one_line_per_event_of_the_chosen_function(deployed):
    result = CliRunner().invoke(app, ["logs", "trend", "--since", "5m"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and all(" trend " in line for line in lines)
    assert lines[1].startswith("22:51:11.505 INFO    trend   cross detected  alert_id=")
    assert deployed.asked == ["logs"]


def test_tickstack_logs_of_both_functions(deployed):
    result = CliRunner().invoke(app, ["logs"])
    assert result.exit_code == 0, result.output
    assert [line.split()[2] for line in result.stdout.splitlines()] == ["process"] * 4 + ["trend"] * 4


def test_tickstack_logs_says_when_nothing_was_logged(deployed):
    result = CliRunner().invoke(app, ["logs", "trend", "--since", "10s"])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "nothing logged in the last 10s in /aws/lambda/tickstack-StockTrendAnalysis" in result.output


@pytest.mark.parametrize("args, message", [(["logs", "alerts"], "error: no function 'alerts': choose one of process, trend"),
                                           (["logs", "--since", "soon"], "error: --since 'soon' is not a duration")])
def test_tickstack_logs_refuses_in_one_line(deployed, args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith(message)
