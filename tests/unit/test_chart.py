"""The chart of price, SMA-short, SMA-long and crosses: its data, its files, and the page in Chromium."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stock_pipeline.ticks import parse_tick
from stock_pipeline.trend import DEATH_CROSS, GOLDEN_CROSS, PricePoint, sma
from tests.conftest import FIXTURE, ROOT
from tests.support_browser import chromium, parse_dom, png_size
from tickstack.ops.chart import ChartSeries, chart_series, render_chart, render_svg

BUILD = ROOT / "build"
GOLDEN = (GOLDEN_CROSS, "2012-11-26T21:00:00Z", Decimal("589.53"))
DEATH = (DEATH_CROSS, "2012-12-07T21:00:00Z", Decimal("533.25"))
ANNOTATIONS = {
    "cross-aapl-golden_cross-2012-11-26T21:00:00Z": ["Golden Cross", "2012-11-26", "589.53"],
    "cross-aapl-death_cross-2012-12-07T21:00:00Z": ["Death Cross", "2012-12-07", "533.25"],
}


@pytest.fixture(scope="module")
def aapl() -> ChartSeries:
    ticks = [parse_tick(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    return chart_series(ticks, 5, 20)


@pytest.fixture(scope="module")
def rendered(aapl: ChartSeries):
    BUILD.mkdir(exist_ok=True)
    png, page = BUILD / "chart-aapl-matplotlib.png", BUILD / "chart-aapl.html"
    render_chart(aapl, png, page, title="AAPL, Sep-Dec 2012: price, SMA-5 and SMA-20")
    return png, page


def crosses(series: ChartSeries) -> list[tuple[str, str, Decimal]]:
    return [(c.signal, c.timestamp, c.price) for c in series.crosses]


def annotation_lines(dom, gid: str) -> list[str]:
    """The text lines of one cross's annotation group, in drawing order."""
    group = dom.by_id(gid)
    return [t.text().strip() for t in group.find_all("text")]


def test_fixture_has_exactly_the_two_known_crosses(aapl):
    # GIVEN the recorded AAPL closes WHEN charted with windows 5/20 THEN the trend code finds two crosses
    assert crosses(aapl) == [GOLDEN, DEATH]
    assert (aapl.symbol, aapl.short_window, aapl.long_window, aapl.crosses_source) == ("AAPL", 5, 20, "computed")
    assert (aapl.short_label, aapl.long_label) == ("SMA-5", "SMA-20")
    assert len(aapl.points) == 80


def test_the_averages_drawn_are_the_trend_packages_own(aapl):
    prices = [p.price for p in aapl.points]
    for i, point in enumerate(aapl.points):
        for window, drawn in ((5, point.sma_short), (20, point.sma_long)):
            if i + 1 < 20:
                # Both averages start together, when the long window is full: as the function compares them.
                assert drawn is None
            else:
                assert drawn == sma(prices[: i + 1], window).quantize(Decimal("0.0001"))
    golden = aapl.crosses[0]
    assert golden.sma_short > golden.sma_long
    death = aapl.crosses[1]
    assert death.sma_short < death.sma_long


def test_date_range_cuts_after_computing(aapl):
    november = aapl.between("2012-11-01", "2012-11-30")
    assert november.points[0].timestamp.startswith("2012-11-01")
    assert november.points[-1].timestamp.startswith("2012-11-30")
    # The first average shown uses the October prices before it: no second warm-up.
    assert november.points[0].sma_long is not None
    assert crosses(november) == [GOLDEN]
    # A bare date as the end includes that whole day (the cross is at 21:00 UTC).
    assert crosses(aapl.between(end="2012-11-26")) == [GOLDEN]
    assert crosses(aapl.between(start="2012-12-01T00:00:00Z")) == [DEATH]
    assert crosses(aapl.between("2012-11-27", "2012-12-06")) == []
    ticks = [parse_tick(line) for line in FIXTURE.read_text().splitlines()]
    assert chart_series(ticks, 5, 20, start="2012-11-01", end="2012-11-30") == november
    with pytest.raises(ValueError, match="empty"):
        aapl.between("2012-12-01", "2012-11-01")


def test_alerts_are_marked_instead_of_recomputed_crosses(aapl):
    alerts = [
        {"symbol": "AAPL", "signal": DEATH_CROSS, "timestamp": "2012-12-07T21:00:00Z", "price": "533.25"},
        {"symbol": "AAPL", "signal": DEATH_CROSS, "timestamp": "2012-12-07T21:00:00Z", "price": "533.25"},  # redelivered
        {"symbol": "MSFT", "signal": GOLDEN_CROSS, "timestamp": "2012-11-26T21:00:00Z", "price": "27.1"},
    ]
    marked = aapl.marking_alerts(alerts)
    assert marked.crosses_source == "alerts"
    assert crosses(marked) == [DEATH]
    assert (marked.crosses[0].sma_short, marked.crosses[0].sma_long) == (Decimal("556.2644"), Decimal("559.8011"))
    assert marked.points == aapl.points
    # Alerts outside the shown range are left out with the points.
    assert aapl.between(end="2012-11-30").marking_alerts(alerts).crosses == ()


def test_ticks_of_several_symbols_need_a_symbol():
    ticks = [
        parse_tick('{"symbol":"%s","timestamp":"2024-03-01T15:0%d:00Z","open":1,"dayHigh":1,"dayLow":1,'
                   '"lastPrice":1,"previousClose":1,"lastVolume":1}' % (s, i))
        for i, s in enumerate(["AAPL", "MSFT", "AAPL"])
    ]
    with pytest.raises(ValueError, match="several symbols"):
        chart_series(ticks, 5, 20)
    assert len(chart_series(ticks, 5, 20, symbol="aapl").points) == 2
    points = [PricePoint("2024-03-01T15:00:00Z", Decimal(1))]
    assert chart_series(points, 5, 20, symbol="IBM").symbol == "IBM"
    with pytest.raises(ValueError, match="symbol"):
        chart_series(points, 5, 20)


def test_an_empty_or_warming_up_series_still_draws():
    empty = chart_series([], 5, 20, symbol="AAPL")
    assert "no prices in this range yet" in render_svg(empty)
    short = chart_series([PricePoint("2024-03-01T15:00:00Z", Decimal("10.5"))], 5, 20, symbol="AAPL")
    assert "Price 10.50" in render_svg(short)


def test_png_and_html_are_written_and_self_contained(rendered):
    png, page = rendered
    width, height = png_size(png)
    assert (width, height) == (1200, 640)
    assert 20_000 < png.stat().st_size < 2_000_000
    markup = page.read_text()
    assert 10_000 < len(markup) < 500_000
    dom = parse_dom(markup)
    for gid, lines in ANNOTATIONS.items():
        assert annotation_lines(dom, gid) == lines
    # Each line is labelled at its right end with its window: no legend to hunt for.
    texts = [t.text() for t in dom.find_all("text")]
    assert any(t.startswith("SMA-5 ") for t in texts) and any(t.startswith("SMA-20 ") for t in texts)
    assert any(t.startswith("Price ") for t in texts)
    rows = dom.find_all("tr", class_="cross")
    assert [(r.attrs["data-signal"], r.attrs["data-timestamp"], r.attrs["data-price"]) for r in rows] == [
        (s, t, str(p)) for s, t, p in (GOLDEN, DEATH)
    ]
    # Needs no network: nothing loaded from anywhere (the SVG namespace URIs are names, not fetches).
    assert not dom.find_all("script") and not dom.find_all("link") and not dom.find_all("img")
    references = [e.attrs[a] for e in dom.iter() for a in ("src", "href", "xlink:href") if a in e.attrs]
    assert all(r.startswith("#") for r in references), references


def test_page_renders_in_chromium_with_both_annotations(rendered):
    browser = chromium()
    _, page = rendered
    shot = browser.screenshot(page.as_uri(), BUILD / "chart-aapl.png", window=(1200, 800))
    assert png_size(shot) == (1200, 800)
    assert shot.stat().st_size > 20_000
    dom = parse_dom(browser.dump_dom(page.as_uri()))
    for gid, lines in ANNOTATIONS.items():
        assert annotation_lines(dom, gid) == lines
    table = dom.by_id("crosses")
    assert [r.attrs["data-signal"] for r in table.find_all("tr", class_="cross")] == [GOLDEN_CROSS, DEATH_CROSS]
