"""`tickstack status` lists the stalled symbols, read from the trend-state table by the functions' rule."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.stub import Stubber

from stock_pipeline.adapters import state_to_item
from stock_pipeline.lateness import LateWatch
from stock_pipeline.ports import StoredTrendState
from stock_pipeline.trend import TrendState
from tickstack.cli.stack import describe
from tickstack.ops.health import stalled_symbols

NOW = 1_764_100_000  # 2025-11-25T19:46:40Z
OUTPUTS = {
    "stream_name": "s", "table_name": "t", "trend_state_table_name": "trend-state", "bucket_name": "b",
    "topic_arn": "arn", "alert_audit_queue_url": "q", "function_names": {"process": "p", "trend": "t"},
    "glue_database": None, "glue_table": None, "dashboard_name": "d", "stalled_after_seconds": 900,
}


def state_item(symbol: str, watch: LateWatch) -> dict[str, Any]:
    state = StoredTrendState(trend=TrendState(last_timestamp="2025-11-25T19:50:00Z"), version=7, watch=watch)
    item = state_to_item(symbol, state, updated_at="2025-11-25T19:20:00Z")
    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in item.items()}


class FakeTarget:
    name = "ministack"

    def __init__(self, pages: list[list[dict[str, Any]]], healthy: bool = True) -> None:
        self.outputs = OUTPUTS
        self._healthy = healthy
        self.dynamodb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x",
                                     aws_secret_access_key="x")
        self.stubber = Stubber(self.dynamodb)
        for index, items in enumerate(pages):
            response: dict[str, Any] = {"Items": items}
            if index < len(pages) - 1:
                response["LastEvaluatedKey"] = {"symbol": {"S": f"page-{index}"}}
            self.stubber.add_response("scan", response)
        self.stubber.activate()

    def client(self, service: str) -> Any:
        assert service == "dynamodb"
        return self.dynamodb

    def describe(self) -> dict:
        return {"target": self.name, "running": True}

    def healthy(self) -> bool:
        return self._healthy


STALLED = LateWatch(read_at=NOW - 1800, late_ticks=42, last_late_at=NOW - 5)
QUIET = LateWatch(read_at=NOW - 1800, late_ticks=3, last_late_at=NOW - 1700)  # late ticks stopped long ago
FRESH = LateWatch(read_at=NOW - 30, late_ticks=1, last_late_at=NOW - 5)  # analysed recently


def test_only_symbols_standing_still_while_late_ticks_arrive_are_listed() -> None:
    target = FakeTarget([[state_item("MSFT", STALLED), state_item("AAPL", QUIET)],
                         [state_item("IBM", FRESH), state_item("GOOG", STALLED)]])

    stalled = stalled_symbols(target, now=NOW)

    assert stalled == [
        {"symbol": symbol, "watermark": "2025-11-25T19:50:00Z", "analysed_last_at": "2025-11-25T19:16:40Z",
         "stalled_for_seconds": 1800, "late_ticks": 42, "last_late_at": "2025-11-25T19:46:35Z"}
        for symbol in ("GOOG", "MSFT")
    ]
    target.stubber.assert_no_pending_responses()


def test_status_shows_them_beside_the_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    target = FakeTarget([[state_item("MSFT", STALLED)]])
    monkeypatch.setattr("time.time", lambda: NOW)

    info = describe(target)

    assert info["stalled_after_seconds"] == 900
    assert [entry["symbol"] for entry in info["stalled_symbols"]] == ["MSFT"]


def test_status_of_an_emulator_that_does_not_answer_says_nothing_of_stalls() -> None:
    info = describe(FakeTarget([], healthy=False))

    assert info["stalled_symbols"] is None and "stalled_symbols_error" not in info


def test_a_failed_read_is_said_in_one_line_and_status_goes_on() -> None:
    target = FakeTarget([])
    target.stubber.add_client_error("scan", service_error_code="AccessDeniedException", service_message="no scan")

    info = describe(target)

    assert info["stalled_symbols"] is None
    assert "AccessDeniedException" in info["stalled_symbols_error"] and "\n" not in info["stalled_symbols_error"]
