"""`tickstack record`: live bars from a loopback stand-in for Yahoo's stream, polled ticks and daily history
with yfinance's network layer faked. Nothing leaves the machine."""

import functools
import json

import pandas as pd
import pytest
import yfinance
from curl_cffi.requests.exceptions import DNSError
from typer.testing import CliRunner

from producer import live
from producer.stream import URL_ENVIRONMENT_VARIABLE
from tests.conftest import free_port
from tests.support.yahoo_stream_server import YahooStreamServer
from tests.unit.test_live_producer import FAST_INFO, FakeTicker, OfflineFastInfo, at_noon
from tests.unit.test_live_stream import FAST, SCRIPT, tick
from tickstack import cli
from tickstack.cli import produce

runner = CliRunner()

# yfinance's client opens its connection without a context manager; websockets 17 warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    # websockets honours proxy settings: connections to 127.0.0.1 never go through one.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    monkeypatch.setattr(produce, "STREAM_BACKOFF", FAST)


def recorded(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- --poll: fast_info every --interval s ---------------------------------------------------------------


def test_record_poll_writes_one_replayable_line_per_symbol(tmp_path, monkeypatch):
    fake = functools.partial(live.fetch_tick, ticker_factory=lambda s: FakeTicker(FAST_INFO), now=at_noon)
    monkeypatch.setattr(produce, "fetch_tick", fake)
    out = tmp_path / "ticks.jsonl"
    result = runner.invoke(cli.app, ["record", "--poll", "--out", str(out), "--symbols", "aapl,msft", "--count", "1"])
    assert result.exit_code == 0, result.output
    assert [(t["symbol"], t["timestamp"], t["lastPrice"]) for t in recorded(out)] == [
        ("AAPL", "2026-11-25T12:00:05Z", 232.25), ("MSFT", "2026-11-25T12:00:05Z", 232.25)]
    assert "polled rounds 1, polled ticks 2" in result.output


def test_record_poll_offline_fails_with_one_line_and_no_traceback(tmp_path, monkeypatch):
    fake = functools.partial(live.fetch_tick, ticker_factory=lambda s: FakeTicker(OfflineFastInfo()), now=at_noon)
    monkeypatch.setattr(produce, "fetch_tick", fake)
    out = tmp_path / "ticks.jsonl"
    result = runner.invoke(cli.app, ["record", "--poll", "--out", str(out), "--count", "1"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no live quote for AAPL from Yahoo Finance")
    assert "Traceback" not in result.output
    assert out.read_text() == ""


# --- --live (the default): bars of pushed quotes ---------------------------------------------------------


def test_record_live_writes_exactly_the_bars_of_the_scripted_series_across_dropped_connections(tmp_path, monkeypatch):
    # GIVEN the stand-in stream playing a series with reordered, duplicate, late, undecodable and unsubscribed
    # pushes, and two dropped connections (one clean, one cut)
    out = tmp_path / "live.jsonl"
    with YahooStreamServer(SCRIPT) as server:
        monkeypatch.setenv(URL_ENVIRONMENT_VARIABLE, server.url)
        # WHEN four 5-second bars are recorded, live being the default mode
        result = runner.invoke(cli.app, ["record", "--out", str(out), "--symbols", "AAPL,MSFT", "--bar", "5s",
                                         "--count", "4"])

    # THEN the file holds those bars and nothing else, in the order they closed, prices as Yahoo sent them
    assert result.exit_code == 0, result.output
    assert recorded(out) == [
        tick("AAPL", "2026-11-25T14:30:05Z", 230.1, 589.53, 1400),
        tick("MSFT", "2026-11-25T14:30:05Z", 410.25, 410.75, 650),
        tick("AAPL", "2026-11-25T14:30:10Z", 232.0, 232.0, 1500),
        tick("MSFT", "2026-11-25T14:30:10Z", 411.0, 411.0, 700),
    ]
    assert '"lastPrice": 589.53,' in out.read_text()
    # AND the command said what it skipped and how often it reconnected
    assert ("pushes 13, bars 4, decode errors 1, unknown symbols 1, late 1, duplicates 1, reconnects 2"
            in result.output)
    assert "reconnected to" in result.output and "late push for AAPL" in result.output


def test_record_live_with_no_stream_to_reach_fails_in_one_line_naming_poll(tmp_path, monkeypatch):
    monkeypatch.setenv(URL_ENVIRONMENT_VARIABLE, f"ws://127.0.0.1:{free_port()}")  # nothing listens there
    out = tmp_path / "live.jsonl"
    result = runner.invoke(cli.app, ["record", "--out", str(out), "--count", "1"])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "cannot reach the Yahoo Finance stream at ws://127.0.0.1:" in errors[0]
    assert errors[0].endswith("to poll Yahoo Finance instead: tickstack record --poll")
    assert out.read_text() == ""


def test_one_mode_at_a_time_and_a_bar_length_that_parses(tmp_path):
    out = str(tmp_path / "x.jsonl")
    both = runner.invoke(cli.app, ["record", "--out", out, "--live", "--history"])
    assert both.exit_code == 2 and "choose one of --live, --poll, --history" in both.output
    bad_bar = runner.invoke(cli.app, ["record", "--out", out, "--bar", "5x"])
    assert bad_bar.exit_code == 2 and "'5x' is not a bar length" in bad_bar.output
    period_alone = runner.invoke(cli.app, ["record", "--out", out, "--period", "1y"])
    assert period_alone.exit_code == 2 and "goes with --history only" in period_alone.output
    counted_history = runner.invoke(cli.app, ["record", "--out", out, "--history", "--count", "3"])
    assert counted_history.exit_code == 2 and "goes with --live or --poll" in counted_history.output
    odd_period = runner.invoke(cli.app, ["record", "--out", out, "--history", "--period", "7y"])
    assert odd_period.exit_code == 2 and "'7y' is not one of 1mo" in odd_period.output
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("1m", 60), ("0", 0), ("5", 5), ("2M", 120)])
def test_bar_lengths(text, seconds):
    assert produce.bar_seconds(text) == seconds


# --- --history: daily bars from yfinance ---------------------------------------------------------------


def daily_frame(rows):
    """A frame shaped as yfinance's Ticker.history(interval="1d") returns it."""
    index = pd.DatetimeIndex([pd.Timestamp(day, tz="America/New_York") for day, _ in rows], name="Date")
    closes = [close for _, close in rows]
    return pd.DataFrame({"Open": [c - 1 for c in closes], "High": [c + 2 for c in closes],
                         "Low": [c - 2 for c in closes], "Close": closes, "Volume": [1000] * len(rows),
                         "Dividends": [0.0] * len(rows), "Stock Splits": [0.0] * len(rows)}, index=index)


class HistoryTicker:
    frames: dict = {}
    calls: list = []

    def __init__(self, symbol):
        self.symbol = symbol

    def history(self, **kwargs):
        self.calls.append((self.symbol, kwargs))
        outcome = self.frames[self.symbol]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def history(monkeypatch):
    monkeypatch.setattr(HistoryTicker, "frames", {})
    monkeypatch.setattr(HistoryTicker, "calls", [])
    monkeypatch.setattr(yfinance, "Ticker", HistoryTicker)
    return HistoryTicker


def test_record_history_writes_the_daily_bars_of_all_symbols_in_one_time_order(tmp_path, history):
    history.frames = {
        "AAPL": daily_frame([("2026-11-19", 230.0), ("2026-11-20", 231.5), ("2026-11-23", 229.25)]),
        "MSFT": daily_frame([("2026-11-19", 410.0), ("2026-11-20", 412.0), ("2026-11-23", 415.5)]),
    }
    out = tmp_path / "daily.jsonl"
    result = runner.invoke(cli.app, ["record", "--history", "--period", "1y", "--symbols", "aapl,msft",
                                     "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert history.calls == [("AAPL", {"period": "1y", "interval": "1d"}), ("MSFT", {"period": "1y", "interval": "1d"})]
    # Each stamped at the 16:00 New York close in UTC, the previous close from the bar before
    assert [(t["symbol"], t["timestamp"], t["lastPrice"], t["previousClose"]) for t in recorded(out)] == [
        ("AAPL", "2026-11-20T21:00:00Z", 231.5, 230.0), ("MSFT", "2026-11-20T21:00:00Z", 412.0, 410.0),
        ("AAPL", "2026-11-23T21:00:00Z", 229.25, 231.5), ("MSFT", "2026-11-23T21:00:00Z", 415.5, 412.0)]
    assert "4 ticks written to" in result.output


def test_record_history_defaults_to_five_years(tmp_path, history):
    history.frames = {"AAPL": daily_frame([("2026-11-19", 230.0), ("2026-11-20", 231.5)])}
    result = runner.invoke(cli.app, ["record", "--history", "--out", str(tmp_path / "d.jsonl")])
    assert result.exit_code == 0, result.output
    assert history.calls == [("AAPL", {"period": "5y", "interval": "1d"})]


@pytest.mark.parametrize("outcome, said", [
    # What yfinance 1.7.0 does without network: curl_cffi's DNSError (an OSError) from history()...
    (DNSError("Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com"),
     "error: Yahoo Finance is unreachable: no daily history for AAPL (DNSError: Failed to perform"),
    # ... or, on other paths, an empty frame.
    (pd.DataFrame(), "error: Yahoo Finance returned no daily history for AAPL (unreachable"),
])
def test_record_history_offline_is_one_line_pointing_to_import(tmp_path, history, outcome, said):
    history.frames = {"AAPL": outcome}
    out = tmp_path / "daily.jsonl"
    result = runner.invoke(cli.app, ["record", "--history", "--out", str(out)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(said), result.output
    assert lines[0].endswith("from a CSV you downloaded instead: tickstack import FILE.csv --symbol AAPL")
    assert not out.exists() or out.read_text() == ""
