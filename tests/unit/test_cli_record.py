"""`tickstack record` with yfinance's network layer faked: ticks written, or one clear line when offline."""

import functools
import json

from typer.testing import CliRunner

from producer import live
from tests.unit.test_live_producer import FAST_INFO, FakeTicker, OfflineFastInfo, at_noon
from tickstack import cli
from tickstack.cli import produce

runner = CliRunner()


def test_record_writes_one_replayable_line_per_symbol(tmp_path, monkeypatch):
    fake = functools.partial(live.fetch_tick, ticker_factory=lambda s: FakeTicker(FAST_INFO), now=at_noon)
    monkeypatch.setattr(produce, "fetch_tick", fake)
    out = tmp_path / "ticks.jsonl"
    result = runner.invoke(cli.app, ["record", "--out", str(out), "--symbols", "aapl,msft", "--count", "1"])
    assert result.exit_code == 0, result.output
    ticks = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(t["symbol"], t["timestamp"], t["lastPrice"]) for t in ticks] == [
        ("AAPL", "2026-11-25T12:00:05Z", 232.25), ("MSFT", "2026-11-25T12:00:05Z", 232.25)]


def test_record_offline_fails_with_one_line_and_no_traceback(tmp_path, monkeypatch):
    fake = functools.partial(live.fetch_tick, ticker_factory=lambda s: FakeTicker(OfflineFastInfo()), now=at_noon)
    monkeypatch.setattr(produce, "fetch_tick", fake)
    out = tmp_path / "ticks.jsonl"
    result = runner.invoke(cli.app, ["record", "--out", str(out), "--count", "1"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no live quote for AAPL from Yahoo Finance")
    assert "Traceback" not in result.output
    assert out.read_text() == ""
