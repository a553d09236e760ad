"""The live dashboard: its state, its chart cache, its page in Chromium, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import urllib.error
import urllib.request
from decimal import Decimal

import pytest

from stock_pipeline.ticks import parse_tick
from stock_pipeline.trend import DEATH_CROSS, GOLDEN_CROSS
from tests.conftest import FIXTURE, ROOT
from tests.support_browser import chromium, parse_dom, png_size
from tickstack.dashboard import DashboardServer, DashboardSource, InMemorySource, SymbolData, serve
from tickstack.dashboard.page import PAGE
from tickstack.dashboard.server import Dashboard

TICKS = [parse_tick(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
GOLDEN_SUBJECT = "AAPL Golden Cross: uptrend"
GOLDEN_MESSAGE = (
    "AAPL is in an Uptrend. Consider a buy opportunity.\n"
    "Price 589.53, SMA-5 569.8747, SMA-20 565.8880 at 2012-11-26T21:00:00Z."
)
DEATH_SUBJECT = "AAPL Death Cross: downtrend"
DEATH_MESSAGE = (
    "AAPL is in a Downtrend. Consider selling.\n"
    "Price 533.25, SMA-5 556.2644, SMA-20 559.8011 at 2012-12-07T21:00:00Z."
)


class CountingSource:
    """An in-memory source that counts the chart reads the dashboard makes."""

    def __init__(self, inner: InMemorySource) -> None:
        self.inner = inner
        self.series_reads: list[str] = []

    def snapshot(self):
        return self.inner.snapshot()

    def symbol_series(self, symbol: str) -> SymbolData:
        self.series_reads.append(symbol)
        return self.inner.symbol_series(symbol)


def running_source() -> InMemorySource:
    """A stack part-way through the fixture: 60 ticks in, the golden cross alerted."""
    source = InMemorySource(label="in-memory test stack")
    source.add_ticks(TICKS[:60])
    source.reject("lastPrice must be greater than 0, got -3.5", at="2026-11-25T10:00:00Z", key="rejected/a.json")
    source.reject("payload is not valid JSON: Expecting value", at="2026-11-25T10:00:05Z", key="rejected/b.json")
    source.add_alert(
        "AAPL", GOLDEN_CROSS, "2012-11-26T21:00:00Z", "589.53",
        subject=GOLDEN_SUBJECT, message=GOLDEN_MESSAGE, sent_at="2026-11-25T10:00:01Z",
    )
    source.set_function("tickstack-process-stock-data", invocations=14, errors=0, duration_ms=41.5)
    source.set_function("tickstack-stock-trend-analysis", invocations=11, errors=1, duration_ms=63.25)
    source.set_iterator_age(120)
    return source


def counters(dom) -> dict[str, str]:
    return {e.attrs["data-counter"]: e.attrs["data-value"] for e in dom.find_all(data_counter=True)}


def alerts(dom) -> list[tuple[str, str, str, str]]:
    return [
        (li.attrs["data-signal"], li.attrs["data-timestamp"], li.find_all(class_="subject")[0].text(), li.find_all(class_="message")[0].text())
        for li in dom.by_id("alerts").find_all("li", class_="alert")
    ]


def functions(dom) -> dict[str, dict[str, str]]:
    return {
        tr.attrs["data-function"]: {td.attrs["data-field"]: td.attrs["data-value"] for td in tr.find_all("td", data_field=True)}
        for tr in dom.by_id("functions").find_all("tr", data_function=True)
    }


def test_in_memory_source_is_a_dashboard_source():
    assert isinstance(InMemorySource(), DashboardSource)


def test_state_orders_alerts_newest_first_and_falls_back_to_the_stored_count():
    source = InMemorySource(count_ticks_in=False)
    source.add_ticks(TICKS[:3])
    source.add_alert("AAPL", GOLDEN_CROSS, "2012-11-26T21:00:00Z", Decimal("589.53"), sent_at="2026-11-25T10:00:01Z")
    source.add_alert("AAPL", DEATH_CROSS, "2012-12-07T21:00:00Z", "533.25", subject=DEATH_SUBJECT, sent_at="2026-11-25T10:00:09Z")
    state = Dashboard(source).state()
    assert state["counters"]["ticks_in"] == 3
    assert state["counters"]["ticks_in_basis"] == "stored"
    assert state["counters"]["iterator_age_ms"] is None
    assert [a["signal"] for a in state["alerts"]] == [DEATH_CROSS, GOLDEN_CROSS]
    # An alert without its SNS text still says what it was.
    assert state["alerts"][1]["subject"] == "AAPL Golden Cross at 589.53 on 2012-11-26"
    json.dumps(state, default=str)


def test_a_chart_is_redrawn_only_when_its_symbol_changed():
    inner = running_source()
    source = CountingSource(inner)
    dashboard = Dashboard(source)
    first = dashboard.state()["charts"][0]
    drawn = dashboard.chart("AAPL")
    assert drawn.version == first["version"] and drawn.svg.startswith("<svg")
    assert "Golden Cross" in drawn.svg
    dashboard.state()
    assert dashboard.chart("AAPL") is drawn
    # Another symbol's tick does not redraw AAPL.
    inner.add_ticks([parse_tick(FIXTURE.read_text().splitlines()[0].replace('"AAPL"', '"MSFT"'))])
    dashboard.state()
    assert dashboard.chart("AAPL") is drawn
    assert source.series_reads == ["AAPL"]
    # A new alert for AAPL does.
    inner.add_alert("AAPL", DEATH_CROSS, "2012-12-07T21:00:00Z", "533.25", subject=DEATH_SUBJECT)
    dashboard.state()
    redrawn = dashboard.chart("AAPL")
    death = 'id="cross-aapl-death_cross-2012-12-07T21:00:00Z"'
    assert redrawn.version != drawn.version
    assert death in redrawn.svg and death not in drawn.svg
    assert source.series_reads == ["AAPL", "AAPL"]
    assert dashboard.chart("NOPE") is None


def test_page_needs_no_network():
    dom = parse_dom(PAGE)
    assert not dom.find_all("link") and not dom.find_all("img")
    assert all("src" not in s.attrs for s in dom.find_all("script"))
    assert "http://" not in PAGE and "https://" not in PAGE and "//" + "cdn" not in PAGE


def test_a_failing_source_answers_503_and_the_server_keeps_serving():
    class Broken(InMemorySource):
        def snapshot(self):
            raise ConnectionError("DynamoDB is not answering")

    with DashboardServer(Broken(), port=0) as server:
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(server.url + "api/state", timeout=10)
        assert failure.value.code == 503
        assert "DynamoDB is not answering" in json.load(failure.value)["error"]
        with urllib.request.urlopen(server.url, timeout=10) as page:
            assert page.status == 200


def test_page_in_chromium_follows_the_source():
    browser = chromium()
    source = running_source()
    with DashboardServer(source, port=0) as server:
        assert server.url.startswith("http://127.0.0.1:")
        # GIVEN a stack part-way through WHEN the page has polled THEN it shows the source's numbers
        dom = parse_dom(browser.dump_dom(server.url, virtual_time_ms=3000))
        assert int(dom.find_all("body")[0].attrs["data-polls"]) >= 1
        assert dom.by_id("status").attrs["data-state"] == "live"
        assert counters(dom) == {"ticks_in": "62", "stored": "60", "rejected": "2", "alerts": "1", "iterator_age_ms": "120"}
        assert alerts(dom) == [(GOLDEN_CROSS, "2012-11-26T21:00:00Z", GOLDEN_SUBJECT, GOLDEN_MESSAGE)]
        assert [li.attrs["data-reason"] for li in dom.by_id("rejected-latest").find_all("li")] == [
            "payload is not valid JSON: Expecting value",
            "lastPrice must be greater than 0, got -3.5",
        ]
        assert functions(dom) == {
            "tickstack-process-stock-data": {"invocations": "14", "errors": "0", "duration_ms": "41.5"},
            "tickstack-stock-trend-analysis": {"invocations": "11", "errors": "1", "duration_ms": "63.25"},
        }
        (figure,) = dom.by_id("charts").find_all("figure", data_symbol="AAPL")
        first_version = figure.attrs["data-chart-version"]
        assert first_version
        assert [t.text() for t in dom.by_id("cross-aapl-golden_cross-2012-11-26T21:00:00Z").find_all("text")] == [
            "Golden Cross", "2012-11-26", "589.53",
        ]

        # WHEN more ticks arrive and a new alert is sent THEN the next load shows them, newest alert first
        source.add_ticks(TICKS[60:])
        source.add_alert(
            "AAPL", DEATH_CROSS, "2012-12-07T21:00:00Z", "533.25",
            subject=DEATH_SUBJECT, message=DEATH_MESSAGE, sent_at="2026-11-25T10:00:30Z",
        )
        source.set_function("tickstack-stock-trend-analysis", invocations=19, errors=1, duration_ms=58.0)
        dom = parse_dom(browser.dump_dom(server.url, virtual_time_ms=3000))
        assert counters(dom) == {"ticks_in": "82", "stored": "80", "rejected": "2", "alerts": "2", "iterator_age_ms": "120"}
        assert alerts(dom) == [
            (DEATH_CROSS, "2012-12-07T21:00:00Z", DEATH_SUBJECT, DEATH_MESSAGE),
            (GOLDEN_CROSS, "2012-11-26T21:00:00Z", GOLDEN_SUBJECT, GOLDEN_MESSAGE),
        ]
        assert functions(dom)["tickstack-stock-trend-analysis"]["invocations"] == "19"
        (figure,) = dom.by_id("charts").find_all("figure", data_symbol="AAPL")
        assert figure.attrs["data-chart-version"] not in ("", first_version)
        assert [t.text() for t in dom.by_id("cross-aapl-death_cross-2012-12-07T21:00:00Z").find_all("text")] == [
            "Death Cross", "2012-12-07", "533.25",
        ]

        shot = browser.screenshot(server.url, ROOT / "build" / "dashboard.png", window=(1280, 1200))
        assert png_size(shot) == (1280, 1200)


def test_ctrl_c_stops_the_server_and_leaves_nothing_running():
    answered: list[int] = []

    def on_ready(url: str) -> None:
        def visit_then_interrupt() -> None:
            try:
                with urllib.request.urlopen(url + "api/state", timeout=10) as response:
                    answered.append(response.status)
            finally:
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C in the terminal sends

        threading.Thread(target=visit_then_interrupt, name="test-visitor").start()
        ready.append(url)

    ready: list[str] = []
    before = set(threading.enumerate())
    serve(InMemorySource(), port=0, on_ready=on_ready)  # returns on KeyboardInterrupt

    assert answered == [200]
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=10)  # the visitor, which sent the signal as its last act
    assert set(threading.enumerate()) <= before
    port = int(ready[0].rsplit(":", 1)[1].strip("/"))
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
