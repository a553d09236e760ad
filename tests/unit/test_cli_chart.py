"""`tickstack chart` on a recording (no stack): both files written, the crosses printed, one line per refusal."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.conftest import FIXTURE
from tests.support_browser import parse_dom, png_size
from tickstack import cli
from tickstack.cli import view
from tickstack.dashboard.stack_source import stack_windows

runner = CliRunner()
CROSSES = ["GOLDEN_CROSS 2012-11-26 589.53", "DEATH_CROSS 2012-12-07 533.25"]


def chart(*args: str):
    return runner.invoke(cli.app, ["chart", *args])


def cross_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.split(" ", 1)[0] in ("GOLDEN_CROSS", "DEATH_CROSS")]


def test_chart_of_the_fixture_writes_png_and_html_and_prints_the_two_crosses(tmp_path):
    # GIVEN the recorded AAPL closes WHEN charted from the file THEN no stack is needed
    png = tmp_path / "out" / "aapl.png"
    result = chart("AAPL", "--file", str(FIXTURE), "--out", str(png))
    assert result.exit_code == 0, result.output
    page = png.with_suffix(".html")
    assert png_size(png)[0] > 0 and page.is_file()
    assert f"chart: {png}" in result.stdout and f"page: {page}" in result.stdout
    assert cross_lines(result.stdout) == CROSSES
    dom = parse_dom(page.read_text())
    main = dom.by_id("chart-page")
    assert (main.attrs["data-symbol"], main.attrs["data-crosses-source"]) == ("AAPL", "computed")
    rows = dom.by_id("crosses").find_all("tr", class_="cross")
    assert [(r.attrs["data-signal"], r.attrs["data-timestamp"], r.attrs["data-price"]) for r in rows] == [
        ("GOLDEN_CROSS", "2012-11-26T21:00:00Z", "589.53"),
        ("DEATH_CROSS", "2012-12-07T21:00:00Z", "533.25"),
    ]


def test_default_output_is_named_after_the_symbol(tmp_path, monkeypatch):
    monkeypatch.setattr(view, "CHARTS_DIR", tmp_path / "charts")
    result = chart("aapl", "--file", str(FIXTURE))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == ["AAPL.html", "AAPL.png"]


def test_symbol_is_case_insensitive_and_the_range_cuts_after_computing(tmp_path):
    png = tmp_path / "december.png"
    result = chart("aapl", "--file", str(FIXTURE), "--from", "2012-12-01", "--to", "2012-12-31", "--out", str(png))
    assert result.exit_code == 0, result.output
    assert cross_lines(result.stdout) == ["DEATH_CROSS 2012-12-07 533.25"]
    assert "19 points" in result.stdout


def test_invalid_lines_are_skipped_and_counted(tmp_path):
    recording = tmp_path / "mixed.jsonl"
    lines = FIXTURE.read_text().splitlines()
    bad = json.dumps({**json.loads(lines[0]), "timestamp": "2012-09-04T20:30:00Z", "lastPrice": -3})
    recording.write_text("\n".join(["{not json", *lines[:40], bad, *lines[40:], ""]))
    result = chart("AAPL", "--file", str(recording), "--out", str(tmp_path / "a.png"))
    assert result.exit_code == 0, result.output
    assert "skipped 2 invalid lines" in result.stderr
    assert cross_lines(result.stdout) == CROSSES


def test_other_windows_find_other_crosses(tmp_path):
    result = chart("AAPL", "--file", str(FIXTURE), "--short", "3", "--long", "10", "--out", str(tmp_path / "w.png"))
    assert result.exit_code == 0, result.output
    assert "SMA-3/SMA-10" in result.stdout
    assert len(cross_lines(result.stdout)) == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["MSFT"], "error: no valid ticks of MSFT in"),
        (["AAPL", "--short", "20", "--long", "5"], "error: need 1 <= short window < long window, got 20 and 5"),
        (["AAPL", "--from", "2012-13-01"], "error: --from 2012-13-01: not a date"),
        (["AAPL", "--from", "2012-12-10", "--to", "2012-12-01"], "error: date range is empty"),
    ],
)
def test_what_cannot_be_charted_is_said_in_one_line(tmp_path, args, message):
    result = chart(*args, "--file", str(FIXTURE), "--out", str(tmp_path / "x.png"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.output
    assert not (tmp_path / "x.png").exists()


def test_out_must_name_a_png(tmp_path):
    result = chart("AAPL", "--file", str(FIXTURE), "--out", str(tmp_path / "x.html"))
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: --out ") and "name a .png file" in result.output
    assert list(tmp_path.iterdir()) == []


def test_windows_come_from_the_deployment_outputs_else_the_contract():
    assert stack_windows({"sma_windows": {"short": 8, "long": 21}}) == (8, 21)
    assert stack_windows({"sma_short_window": 3, "sma_long_window": 9}) == (3, 9)
    assert stack_windows({}) == (5, 20)
