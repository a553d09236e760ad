"""The chart and the dashboard over the deployed stack: crosses from its alerts, a page that follows a replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port
from tests.support_browser import chromium, parse_dom, png_size
from tickstack.dashboard import DashboardServer
from tickstack.dashboard.server import MAX_ALERTS
from tickstack.dashboard.stack_source import StackSource, stack_series
from tickstack.ops.alerts import read_alerts
from tickstack.ops.replay import replay, wait_processed
from tickstack.settings import Settings
from tickstack.targets.ministack import MiniStack

pytestmark = pytest.mark.e2e

AAPL_CROSSES = [("GOLDEN_CROSS", "2012-11-26T21:00:00Z", "589.53"), ("DEATH_CROSS", "2012-12-07T21:00:00Z", "533.25")]
# The fixture's closes under a symbol no other test uses, replayed while the dashboard runs.
LIVE = "LIVEDASH"


@pytest.fixture(scope="module")
def replayed(stack, fixture_path):
    report = replay(stack, [fixture_path])
    wait_processed(stack, report, timeout=180)
    return report


def cli_env(stack) -> dict[str, str]:
    return {**os.environ, "TARGET": stack.name, "TICKSTACK_HOME": str(stack.settings.home),
            "TICKSTACK_PORT": str(stack.settings.port), "TICKSTACK_PREFIX": stack.settings.name_prefix}


def stored_total(stack) -> int:
    """Every item in the ticks table, counted by a Scan: independent of the dashboard's per-symbol route."""
    dynamodb = stack.client("dynamodb")
    request = {"TableName": stack.outputs["table_name"], "Select": "COUNT"}
    total = 0
    while True:
        page = dynamodb.scan(**request)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def counters(dom) -> dict[str, str]:
    return {e.attrs["data-counter"]: e.attrs["data-value"] for e in dom.find_all(data_counter=True)}


def page_alerts(dom) -> list[tuple[str, str, str, str]]:
    return [(li.attrs["data-symbol"], li.attrs["data-signal"], li.attrs["data-timestamp"], li.attrs["data-price"])
            for li in dom.by_id("alerts").find_all("li", class_="alert")]


def newest_alerts(stack) -> list[tuple[str, str, str, str]]:
    """What the page should list: the stack's alerts, newest sent first, as many as it shows."""
    alerts = sorted(read_alerts(stack), key=lambda a: (a["sent_at"] or a["timestamp"], a["timestamp"]), reverse=True)
    return [(a["symbol"], a["signal"], a["timestamp"], a["price"]) for a in alerts[:MAX_ALERTS]]


def invocations(dom) -> dict[str, int]:
    found = {}
    for tr in dom.by_id("functions").find_all("tr", data_function=True):
        (cell,) = tr.find_all("td", data_field="invocations")
        found[tr.attrs["data-function"]] = int(cell.attrs["data-value"])
    return found


def test_chart_of_the_stack_marks_the_crosses_its_alerts_name(stack, replayed, tmp_path):
    # GIVEN the AAPL recording processed WHEN `tickstack chart AAPL` runs against the stack
    png = tmp_path / "aapl.png"
    tickstack = Path(sys.executable).parent / "tickstack"
    run = subprocess.run([str(tickstack), "chart", "AAPL", "--out", str(png)], env=cli_env(stack),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    # THEN both files are written and the two crosses printed are the alerted ones
    assert png_size(png)[0] > 0 and png.with_suffix(".html").is_file()
    assert "2 crosses marked (from the stack's alerts, SMA-5/SMA-20, 80 points)" in run.stdout
    assert [line for line in run.stdout.splitlines() if line.endswith(("589.53", "533.25"))] == [
        "GOLDEN_CROSS 2012-11-26 589.53", "DEATH_CROSS 2012-12-07 533.25"]
    page = parse_dom(png.with_suffix(".html").read_text())
    assert page.by_id("chart-page").attrs["data-crosses-source"] == "alerts"
    rows = page.by_id("crosses").find_all("tr", class_="cross")
    assert [(r.attrs["data-signal"], r.attrs["data-timestamp"], r.attrs["data-price"]) for r in rows] == AAPL_CROSSES
    # ... and they are the alerts, not a recomputation: the same series marks exactly what read_alerts returns.
    alerted = [(a["signal"], a["timestamp"], a["price"]) for a in read_alerts(stack) if a["symbol"] == "AAPL"]
    drawn = stack_series(stack, "AAPL").series
    assert drawn.crosses_source == "alerts"
    assert [(c.signal, c.timestamp, str(c.price)) for c in drawn.crosses] == alerted == AAPL_CROSSES


def test_dashboard_page_follows_a_replay(stack, replayed, fixture_path, tmp_path):
    browser = chromium()
    recording = tmp_path / "live.jsonl"
    recording.write_text(fixture_path.read_text().replace('"symbol": "AAPL"', f'"symbol": "{LIVE}"'))
    # Metrics re-read on every refresh: the second load must see this replay's invocations.
    source = StackSource(stack, metrics_ttl_s=0)
    with DashboardServer(source, port=0) as server:
        # GIVEN the stack with the AAPL recording in it WHEN the page loads THEN it shows what the stack holds
        before = parse_dom(browser.dump_dom(server.url, virtual_time_ms=4000))
        assert before.by_id("status").attrs["data-state"] == "live"
        stored_before = stored_total(stack)
        assert int(counters(before)["stored"]) == stored_before
        assert page_alerts(before) == newest_alerts(stack)
        assert {("AAPL", *cross) for cross in AAPL_CROSSES} <= set(page_alerts(before))
        alerts_before = int(counters(before)["alerts"])
        calls_before = invocations(before)
        assert set(calls_before) == set(stack.outputs["function_names"].values())

        # WHEN the recording is replayed under another symbol while the dashboard runs
        report = replay(stack, [recording])
        wait_processed(stack, report, timeout=180)

        # THEN the next load shows the new ticks, its two alerts newest first, more invocations, and its chart
        after = parse_dom(browser.dump_dom(server.url, virtual_time_ms=6000))
        shot = browser.screenshot(server.url, ROOT / "build" / "dashboard-e2e.png", window=(1280, 1500),
                                  virtual_time_ms=6000)

    numbers = counters(after)
    assert int(numbers["stored"]) == stored_before + 80 == stored_total(stack)
    assert int(numbers["alerts"]) == alerts_before + 2 == len(read_alerts(stack))
    assert int(numbers["rejected"]) == len(source.client("s3").list_objects_v2(
        Bucket=stack.outputs["bucket_name"], Prefix=stack.outputs.get("rejected_prefix", "rejected/")).get("Contents", []))
    shown = page_alerts(after)
    assert shown == newest_alerts(stack)
    assert shown[:2] == [(LIVE, "DEATH_CROSS", "2012-12-07T21:00:00Z", "533.25"),
                         (LIVE, "GOLDEN_CROSS", "2012-11-26T21:00:00Z", "589.53")]
    calls_after = invocations(after)
    assert all(calls_after[name] > calls_before[name] for name in calls_before), (calls_before, calls_after)
    (figure,) = after.by_id("charts").find_all("figure", data_symbol=LIVE)
    assert figure.attrs["data-chart-version"]
    (label,) = figure.find_all(id=f"cross-{LIVE.lower()}-death_cross-2012-12-07T21:00:00Z")
    assert [t.text() for t in label.find_all("text")] == ["Death Cross", "2012-12-07", "533.25"]
    assert png_size(shot) == (1280, 1500)


def test_an_emulator_that_stops_answering_shows_on_the_page(stack, tmp_path):
    # GIVEN the stack's outputs, but nothing answering at the endpoint (an emulator that went away)
    gone = MiniStack(Settings(home=tmp_path, port=free_port(), region=stack.region, name_prefix="gone"))
    gone.outputs_path.parent.mkdir(parents=True, exist_ok=True)
    gone.outputs_path.write_text(json.dumps(stack.outputs))
    with DashboardServer(StackSource(gone), port=0) as server:
        # WHEN the page asks for the state THEN it gets a 503 saying so, and the server keeps serving
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(server.url + "api/state", timeout=30)
        assert failure.value.code == 503
        assert f"does not answer at {gone.endpoint}" in json.load(failure.value)["error"]
        dom = parse_dom(chromium().dump_dom(server.url, virtual_time_ms=2000))
        status = dom.by_id("status")
        assert status.attrs["data-state"] == "error" and "does not answer" in status.text()
