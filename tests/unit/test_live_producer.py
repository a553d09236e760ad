"""The live producer against a faked yfinance network layer: no traffic leaves the machine."""

from datetime import datetime, timezone

import pytest

from producer.live import LiveDataUnavailable, fetch_tick

FAST_INFO = {"open": 230.1, "dayHigh": 233.0, "dayLow": 229.5, "lastPrice": 232.25, "previousClose": 229.9,
             "lastVolume": 41234567}


class FakeTicker:
    def __init__(self, fast_info):
        self.fast_info = fast_info


class OfflineFastInfo(dict):
    """What yfinance's fast_info does with no network: a KeyError from its lazy lookups."""

    def __getitem__(self, key):
        raise KeyError("currentTradingPeriod")


def at_noon():
    return datetime(2026, 11, 25, 12, 0, 5, 123456, tzinfo=timezone.utc)


def test_fast_info_becomes_a_recorded_tick():
    tick = fetch_tick("aapl", ticker_factory=lambda s: FakeTicker(FAST_INFO), now=at_noon)
    assert tick == {"symbol": "AAPL", "timestamp": "2026-11-25T12:00:05Z", "open": 230.1, "dayHigh": 233.0,
                    "dayLow": 229.5, "lastPrice": 232.25, "previousClose": 229.9, "lastVolume": 41234567}


def test_no_network_is_one_clear_error():
    with pytest.raises(LiveDataUnavailable, match="no live quote for AAPL from Yahoo Finance.*network"):
        fetch_tick("AAPL", ticker_factory=lambda s: FakeTicker(OfflineFastInfo()), now=at_noon)


def test_dns_failure_is_one_clear_error():
    def unreachable(symbol):
        raise OSError("Could not resolve host: query1.finance.yahoo.com")

    with pytest.raises(LiveDataUnavailable, match="OSError"):
        fetch_tick("AAPL", ticker_factory=unreachable, now=at_noon)


def test_a_missing_price_is_refused():
    with pytest.raises(LiveDataUnavailable, match="no lastPrice"):
        fetch_tick("AAPL", ticker_factory=lambda s: FakeTicker({**FAST_INFO, "lastPrice": float("nan")}), now=at_noon)
