"""Bars by event time (producer.bars) and the quotes they are cut from (producer.quotes): pure, no clock."""

from __future__ import annotations

import ast
import struct
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

import producer
from producer.bars import BarAggregator
from producer.quotes import BadPush, Quote, parse_push

BASE_MS = int(datetime(2026, 11, 25, 14, 30, tzinfo=timezone.utc).timestamp() * 1000)
BASE_S = BASE_MS / 1000


def float32(value: float) -> float:
    """What a float32 field holds: 589.53 becomes 589.530029296875."""
    return struct.unpack("f", struct.pack("f", value))[0]


def push(symbol: str, second: float, price: float, *, high: float = 0.0, low: float = 0.0, prev: float = 0.0,
         volume: int = 0, hint: int | None = 2) -> Quote:
    """A push as yfinance decodes it (MessageToDict: int64 as strings, zero fields left out), parsed."""
    message = {"id": symbol, "price": float32(price), "time": str(BASE_MS + int(second * 1000))}
    for name, value in (("day_high", high), ("day_low", low), ("previous_close", prev)):
        if value:
            message[name] = float32(value)
    if volume:
        message["day_volume"] = str(volume)
    if hint is not None:
        message["price_hint"] = str(hint)
    return parse_push(message)


def feed(bars: BarAggregator, quotes: list[Quote]) -> list[dict]:
    ticks = []
    for quote in quotes:
        ticks += bars.add(quote)
    return ticks


def tick(symbol, timestamp, open_, high, low, last, prev, volume):
    return {"symbol": symbol, "timestamp": timestamp, "open": open_, "dayHigh": high, "dayLow": low,
            "lastPrice": last, "previousClose": prev, "lastVolume": volume}


def test_a_scripted_series_becomes_exactly_these_ticks():
    # GIVEN 5-second bars for two symbols, pushes interleaved
    bars = BarAggregator(["AAPL", "MSFT"], bar_seconds=5)
    series = [
        push("AAPL", 0.5, 230.10, high=231.0, low=229.5, prev=229.9, volume=1000),
        push("MSFT", 1.0, 410.25, high=412.0, low=409.0, prev=408.5, volume=500),
        push("AAPL", 2.0, 231.50, high=231.5, low=229.5, prev=229.9, volume=1200),
        push("AAPL", 4.9, 230.75, high=231.5, low=229.5, prev=229.9, volume=1300),
        push("MSFT", 4.0, 410.50, high=412.0, low=409.0, prev=408.5, volume=650),
        # the next bar of AAPL closes its first one; MSFT's first bar stays open
        push("AAPL", 5.1, 232.00, high=232.0, low=229.5, prev=229.9, volume=1400),
        push("AAPL", 9.0, 232.25, high=232.25, low=229.5, prev=229.9, volume=1500),
        push("MSFT", 11.0, 411.00, high=412.0, low=409.0, prev=408.5, volume=700),
    ]

    # WHEN they are fed, then the clock passes the last bars' end plus the grace period
    ticks = feed(bars, series)
    ticks += bars.flush_due(BASE_S + 20)

    # THEN one tick per symbol and bar, stamped with the bar's end, in bar order
    assert ticks == [
        tick("AAPL", "2026-11-25T14:30:05Z", 230.1, 231.5, 229.5, 230.75, 229.9, 1300),
        tick("MSFT", "2026-11-25T14:30:05Z", 410.25, 412.0, 409.0, 410.5, 408.5, 650),
        tick("AAPL", "2026-11-25T14:30:10Z", 232.0, 232.25, 229.5, 232.25, 229.9, 1500),
        tick("MSFT", "2026-11-25T14:30:15Z", 411.0, 412.0, 409.0, 411.0, 408.5, 700),
    ]
    assert bars.counts.bars == 4 and bars.counts.pushes == 8


def test_float32_prices_are_rounded_to_the_quote_precision():
    assert float32(589.53) != 589.53  # the premise: float32 does not hold 589.53 exactly
    bars = BarAggregator(["SPY"], bar_seconds=0)

    [with_hint] = bars.add(push("SPY", 1, 589.53, high=590.12, low=588.07, prev=587.99, hint=2))
    [without_hint] = bars.add(push("SPY", 2, 589.5312, hint=None))

    assert (with_hint["lastPrice"], with_hint["dayHigh"], with_hint["dayLow"], with_hint["previousClose"]) == (
        589.53, 590.12, 588.07, 587.99)
    # No price_hint: four decimals
    assert without_hint["lastPrice"] == 589.5312


def test_reordered_pushes_in_an_open_bar_are_placed_by_event_time():
    bars = BarAggregator(["AAPL"], bar_seconds=5)

    feed(bars, [push("AAPL", 3, 103.0, prev=99.0, volume=30), push("AAPL", 1, 101.0, prev=99.0, volume=10),
                push("AAPL", 2, 102.0, prev=99.0, volume=20)])
    [closed] = bars.flush_all()

    # open is the earliest by time, lastPrice and lastVolume the latest by time, whatever the arrival order
    assert (closed["open"], closed["lastPrice"], closed["lastVolume"]) == (101.0, 103.0, 30)


def test_of_two_pushes_with_the_same_time_the_later_arrival_is_the_later_price():
    bars = BarAggregator(["AAPL"], bar_seconds=5)
    feed(bars, [push("AAPL", 1, 101.0), push("AAPL", 1, 101.5)])
    [closed] = bars.flush_all()
    assert (closed["open"], closed["lastPrice"]) == (101.0, 101.5)


def test_a_duplicate_push_changes_nothing():
    once, twice = BarAggregator(["AAPL"], 5), BarAggregator(["AAPL"], 5)
    series = [push("AAPL", 1, 101.0, volume=10), push("AAPL", 2, 102.0, volume=20)]

    feed(once, series)
    feed(twice, [series[0], series[1], series[0], series[1]])

    assert twice.flush_all() == once.flush_all()
    assert twice.counts.duplicates == 2 and once.counts.duplicates == 0


def test_a_late_push_is_counted_and_dropped_and_never_reopens_its_bar(caplog):
    bars = BarAggregator(["AAPL"], bar_seconds=5)
    [first] = feed(bars, [push("AAPL", 1, 101.0), push("AAPL", 6, 106.0)])

    # WHEN a push for the closed bar arrives after the next bar opened, and again once that one closed
    late_while_open = bars.add(push("AAPL", 4, 104.0))
    [second] = bars.flush_due(BASE_S + 10 + bars.grace)
    late_after_flush = bars.add(push("AAPL", 2, 102.0))
    late_for_flushed = bars.add(push("AAPL", 9, 109.0))

    # THEN nothing is emitted for them, no bar reopens, and each is counted and logged
    assert late_while_open == late_after_flush == late_for_flushed == []
    assert bars.open_bars == 0
    assert (first["lastPrice"], second["lastPrice"]) == (101.0, 106.0)
    assert bars.counts.late == 3
    assert sum("late push for AAPL" in r.getMessage() for r in caplog.records) == 3


def test_a_bar_nothing_followed_closes_after_the_grace_period_only():
    bars = BarAggregator(["AAPL"], bar_seconds=5, grace=2.0)
    bars.add(push("AAPL", 1, 101.0))

    assert bars.flush_due(BASE_S + 5) == []          # at the bar's end
    assert bars.flush_due(BASE_S + 6.999) == []      # inside the grace period
    [closed] = bars.flush_due(BASE_S + 7)            # grace over
    assert closed["timestamp"] == "2026-11-25T14:30:05Z"
    assert bars.flush_due(BASE_S + 100) == []        # closed once


def test_pushes_for_symbols_not_subscribed_are_counted_not_fatal(caplog):
    bars = BarAggregator(["AAPL"], bar_seconds=5)

    assert feed(bars, [push("TSLA", 1, 250.0), push("TSLA", 2, 251.0), push("AAPL", 1, 101.0)]) == []

    assert bars.counts.unknown_symbols == 2 and bars.counts.pushes == 1
    # logged once per symbol, not once per push
    assert sum("TSLA" in r.getMessage() for r in caplog.records) == 1
    assert [t["symbol"] for t in bars.flush_all()] == ["AAPL"]


def test_zero_seconds_makes_every_push_its_own_tick_stamped_with_its_second():
    bars = BarAggregator(["AAPL"], bar_seconds=0)

    ticks = feed(bars, [push("AAPL", 1.25, 101.0, volume=10), push("AAPL", 1.25, 101.0, volume=10),
                        push("AAPL", 2.5, 102.0, volume=20), push("AAPL", 2.0, 100.0)])

    assert [(t["timestamp"], t["open"], t["lastPrice"], t["lastVolume"]) for t in ticks] == [
        ("2026-11-25T14:30:01Z", 101.0, 101.0, 10), ("2026-11-25T14:30:02Z", 102.0, 102.0, 20)]
    assert (bars.counts.duplicates, bars.counts.late) == (1, 1)
    assert bars.flush_due(BASE_S + 100) == [] and bars.flush_all() == []


def test_fields_the_latest_push_lacks_fall_back_to_what_the_bar_knows():
    # proto3 leaves zero fields out: no day high/low, no volume, no previous close in this push
    bars = BarAggregator(["BTC-USD"], bar_seconds=5)
    feed(bars, [push("BTC-USD", 1, 97000.5), push("BTC-USD", 2, 96990.25), push("BTC-USD", 3, 97010.0)])
    [closed] = bars.flush_all()
    assert (closed["dayHigh"], closed["dayLow"], closed["lastVolume"], closed["previousClose"]) == (
        97010.0, 96990.25, 0, None)


@pytest.mark.parametrize("message, reason", [
    ({"price": 1.0, "time": "1"}, "without a symbol"),
    ({"id": "AAPL", "price": 1.0}, "without a usable time"),
    ({"id": "AAPL", "time": "1764081000000"}, "without a price"),
    ({"id": "AAPL", "price": "NaN", "time": "1764081000000"}, "without a price"),
    ({}, "without a symbol"),
])
def test_a_push_that_is_no_quote_is_refused_with_a_reason(message, reason):
    with pytest.raises(BadPush, match=reason):
        parse_push(message)


def test_bar_length_must_be_whole_seconds():
    with pytest.raises(ValueError, match="whole number"):
        BarAggregator(["AAPL"], bar_seconds=1.5)


def test_a_feed_delayed_on_the_wall_clock_still_gets_whole_bars():
    # GIVEN pushes that reach us 15 minutes after their own time, as for an exchange Yahoo delays
    delay = 900.0
    bars = BarAggregator(["^FTSE"], bar_seconds=5, grace=2.0)
    first = push("^FTSE", 1, 8100.5)
    second = push("^FTSE", 3, 8101.25)

    # WHEN the first arrives and the wall clock runs on to just before the second arrives
    assert bars.add(first, received_at=BASE_S + 1 + delay) == []
    assert bars.flush_due(BASE_S + 3 + delay) == []
    assert bars.add(second, received_at=BASE_S + 3 + delay) == []

    # THEN the bar closes by the feed's clock, with both pushes in it
    assert bars.flush_due(BASE_S + 6.9 + delay) == []
    [closed] = bars.flush_due(BASE_S + 7 + delay)
    assert (closed["open"], closed["lastPrice"], bars.counts.late) == (8100.5, 8101.25, 0)


@pytest.mark.parametrize("module", ["bars", "quotes", "batching"])
def test_the_pure_producer_modules_import_only_the_standard_library(module):
    tree = ast.parse((Path(producer.__file__).parent / f"{module}.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__", "producer"}
