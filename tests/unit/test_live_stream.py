"""The live stream client (producer.stream, producer.live_stream) against a loopback stand-in for Yahoo.

yfinance's real WebSocket client talks to tests.support.yahoo_stream_server on 127.0.0.1; nothing leaves
the machine. Every run is bounded: a watchdog sets ``stop`` after a few seconds, so a test that goes
wrong fails on its assertions instead of hanging.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager

import pytest

from producer.bars import utc_timestamp
from producer.kinesis import KinesisSink
from producer.live_stream import Backoff, StreamUnavailable, run_live
from producer.spool import SpoolingSink
from producer.stream import URL_ENVIRONMENT_VARIABLE, stream_url, yfinance_client
from tests.conftest import free_port
from tests.support.yahoo_stream_server import Drop, YahooStreamServer, epoch_ms, pricing_frame, undecodable_frame

BASE_MS = epoch_ms("2026-11-25T14:30:00Z")
FAST = Backoff(initial=0.01, maximum=0.05, first_connect_attempts=3, max_attempts=4, max_outage=3.0)
WATCHDOG_SECONDS = 4.0

# yfinance's client opens its connection without a context manager; websockets 17 warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    # websockets honours proxy settings: make sure connections to 127.0.0.1 never go through one.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


@contextmanager
def watchdog(stop: threading.Event, seconds: float = WATCHDOG_SECONDS):
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def quote(symbol: str, second: float, price: float, volume: int) -> str:
    """A push with day fields that only the price and volume vary in, ``second`` after 14:30:00Z."""
    return pricing_frame(symbol, price, BASE_MS + int(second * 1000), day_high=500.0, day_low=100.0,
                         previous_close=200.0 if symbol == "AAPL" else 400.0, day_volume=volume, price_hint=2)


def tick(symbol, timestamp, open_, last, volume):
    return {"symbol": symbol, "timestamp": timestamp, "open": open_, "dayHigh": 500.0, "dayLow": 100.0,
            "lastPrice": last, "previousClose": 200.0 if symbol == "AAPL" else 400.0, "lastVolume": volume}


SCRIPT = [
    quote("AAPL", 0.5, 230.10, 1000),
    quote("MSFT", 1.0, 410.25, 500),
    quote("AAPL", 3.0, 231.00, 1300),
    quote("AAPL", 2.0, 230.50, 1200),   # reordered: earlier than the push before it
    quote("AAPL", 2.0, 230.50, 1200),   # duplicate
    undecodable_frame(),
    quote("TSLA", 1.5, 250.00, 10),     # not subscribed
    Drop(),                             # clean close mid-bar
    quote("MSFT", 4.0, 410.75, 650),
    quote("AAPL", 4.5, 589.53, 1400),   # float32 on the wire, 589.53 in the tick
    quote("AAPL", 6.0, 232.00, 1500),   # closes AAPL's first bar
    Drop(abrupt=True),                  # connection cut, no close frame
    quote("AAPL", 1.0, 229.00, 900),    # late: its bar is closed
    quote("MSFT", 7.0, 411.00, 700),    # closes MSFT's first bar
    quote("AAPL", 11.0, 233.00, 1600),  # closes AAPL's second bar
    quote("MSFT", 12.0, 412.00, 800),   # closes MSFT's second bar
]


def test_the_scripted_series_becomes_exactly_the_expected_bars_across_dropped_connections():
    stop = threading.Event()
    emitted: list[dict] = []
    with YahooStreamServer(SCRIPT) as server, watchdog(stop):
        # WHEN the client streams AAPL and MSFT in 5-second bars, the clock held at the series' start so
        # that only pushes of later bars close bars (no grace-period flush races the script)
        stats = run_live(["AAPL", "MSFT"], 5, emitted.append, stop, max_bars=4, url=server.url, backoff=FAST,
                         clock=lambda: BASE_MS / 1000)
        subscriptions = list(server.subscriptions)

    # THEN every bar is there once, as if the connection had never dropped
    assert not stop.is_set(), "the watchdog stopped the run: bars missing"
    assert emitted == [
        tick("AAPL", "2026-11-25T14:30:05Z", 230.1, 589.53, 1400),
        tick("MSFT", "2026-11-25T14:30:05Z", 410.25, 410.75, 650),
        tick("AAPL", "2026-11-25T14:30:10Z", 232.0, 232.0, 1500),
        tick("MSFT", "2026-11-25T14:30:10Z", 411.0, 411.0, 700),
    ]
    # AND the client subscribed again after each drop, and counted what it skipped
    assert subscriptions == [["AAPL", "MSFT"]] * 3
    assert (stats.reconnects, stats.decode_errors, stats.unknown_symbols, stats.late, stats.duplicates) == (
        2, 1, 1, 1, 1)
    assert (stats.pushes, stats.bars, stats.open_bars_left) == (13, 4, 2)


def test_a_stream_that_cannot_be_reached_raises_stream_unavailable_quickly():
    url = f"ws://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()

    with pytest.raises(StreamUnavailable, match=r"cannot reach the Yahoo Finance stream at ws://127\.0\.0\.1:\d+ "
                                                r"after 3 attempts \(ConnectionRefusedError"):
        run_live(["AAPL"], 5, lambda t: None, threading.Event(), url=url, backoff=FAST)

    assert time.monotonic() - started < 2.0


def test_a_quiet_stream_says_nothing_is_pushed_and_stopping_emits_the_open_bar(caplog):
    # GIVEN a stream that pushes two quotes of one bar, then nothing
    stop = threading.Event()
    emitted: list[dict] = []
    quiet: list[float] = []

    def on_idle(seconds: float) -> None:
        quiet.append(seconds)
        stop.set()  # as a user pressing Ctrl-C would

    script = [quote("AAPL", 0.5, 230.10, 1000), quote("AAPL", 1.0, 230.20, 1100)]
    with YahooStreamServer(script) as server, watchdog(stop):
        stats = run_live(["AAPL"], 5, emitted.append, stop, url=server.url, backoff=FAST, idle_after=0.3,
                         on_idle=on_idle, clock=lambda: BASE_MS / 1000)

    # THEN the quiet spell was reported (callback and log line), rather than the producer looking hung
    assert len(quiet) == 1 and quiet[0] >= 0.3
    assert "no quotes pushed for" in caplog.text and "outside market hours?" in caplog.text
    # AND stopping handed on the bar that was still open: a partial bar is still real prices
    assert emitted == [tick("AAPL", "2026-11-25T14:30:05Z", 230.1, 230.2, 1100)]
    assert stats.bars == 1 and stats.pushes == 2


def test_a_stream_lost_for_good_emits_the_open_bars_then_raises_stream_unavailable():
    # GIVEN a stream that pushes one quote then closes, and cannot be reached again
    dead_url = f"ws://127.0.0.1:{free_port()}"
    connects: list[str] = []

    def client_factory(url: str):
        connects.append(url)
        return yfinance_client(url if len(connects) == 1 else dead_url)

    stop = threading.Event()
    emitted: list[dict] = []
    with YahooStreamServer([quote("AAPL", 0.5, 230.10, 1000), Drop()]) as server, watchdog(stop):
        with pytest.raises(StreamUnavailable, match="lost the Yahoo Finance stream .* 4 reconnect attempts") as raised:
            run_live(["AAPL"], 5, emitted.append, stop, url=server.url, backoff=FAST, client_factory=client_factory,
                     clock=lambda: BASE_MS / 1000)

    # THEN the open bar reached on_tick before the error, and the error carries the counters
    assert emitted == [tick("AAPL", "2026-11-25T14:30:05Z", 230.1, 230.1, 1000)]
    assert raised.value.stats.bars == 1 and raised.value.stats.pushes == 1
    assert len(connects) == 1 + 4


def test_with_nothing_after_it_a_bar_closes_by_the_wall_clock_once_the_grace_period_is_over():
    # GIVEN one push stamped now, in 1-second bars with 0.2 s of grace, and the default (wall) clock
    now_ms = int(time.time() * 1000)
    bar_end_ms = now_ms - now_ms % 1000 + 1000
    stop = threading.Event()
    emitted: list[dict] = []
    with YahooStreamServer([pricing_frame("AAPL", 230.10, now_ms, day_high=231.0, day_low=229.0,
                                          previous_close=229.5, day_volume=1000)]) as server, watchdog(stop):
        # WHEN the client streams with nothing else pushed
        run_live(["AAPL"], 1, emitted.append, stop, max_bars=1, url=server.url, backoff=FAST, grace=0.2)

    # THEN the bar closed on its own, stamped with its end
    assert not stop.is_set(), "the watchdog stopped the run: the grace period never closed the bar"
    assert [(t["timestamp"], t["lastPrice"]) for t in emitted] == [(utc_timestamp(bar_end_ms), 230.1)]
    assert time.time() * 1000 >= bar_end_ms + 200


def test_the_stream_url_comes_from_the_environment_else_from_yfinance():
    assert stream_url({URL_ENVIRONMENT_VARIABLE: "ws://127.0.0.1:9"}) == "ws://127.0.0.1:9"
    assert stream_url({}) == "wss://streamer.finance.yahoo.com/?version=2"


class AcceptingKinesis:
    def __init__(self):
        self.records: list[dict] = []

    def put_records(self, StreamName, Records):
        self.records.extend(json.loads(r["Data"]) for r in Records)
        return {"FailedRecordCount": 0,
                "Records": [{"ShardId": "shardId-000000000000", "SequenceNumber": str(i)} for i in range(len(Records))]}


def test_the_documented_wiring_puts_the_bars_on_kinesis_through_a_spooling_sink(tmp_path):
    # As producer.spool's docstring shows it: run_live feeds the sink, the sink's poll sends batches on time
    kinesis = AcceptingKinesis()
    stop = threading.Event()
    with YahooStreamServer(SCRIPT) as server, watchdog(stop):
        with SpoolingSink(KinesisSink(kinesis, "ticks"), tmp_path / "spool.jsonl") as sink:
            run_live(["AAPL", "MSFT"], 5, sink.add, stop, max_bars=4, url=server.url, backoff=FAST,
                     on_wakeup=sink.poll, clock=lambda: BASE_MS / 1000)

    assert [(t["symbol"], t["timestamp"]) for t in kinesis.records] == [
        ("AAPL", "2026-11-25T14:30:05Z"), ("MSFT", "2026-11-25T14:30:05Z"),
        ("AAPL", "2026-11-25T14:30:10Z"), ("MSFT", "2026-11-25T14:30:10Z")]
    assert sink.spooled == 0
