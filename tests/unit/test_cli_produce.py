"""`tickstack produce`: the loopback stand-in for Yahoo's stream in, a fake Kinesis client out.

The target is faked (its home and its Kinesis client); yfinance's real WebSocket client talks to
tests.support.yahoo_stream_server on 127.0.0.1, and polling goes through a faked fast_info. Nothing leaves
the machine; a run that goes wrong is stopped by a bounded watchdog instead of hanging.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import signal
import threading
from contextlib import contextmanager

import pytest
from botocore.exceptions import EndpointConnectionError
from typer.testing import CliRunner

from producer import live
from producer.stream import URL_ENVIRONMENT_VARIABLE
from tests.conftest import free_port
from tests.support.yahoo_stream_server import YahooStreamServer, epoch_ms, pricing_frame
from tests.unit.test_live_producer import FAST_INFO, FakeTicker, at_noon
from tests.unit.test_live_stream import FAST, SCRIPT, quote, tick
from tickstack import cli
from tickstack.cli import produce

runner = CliRunner()
WATCHDOG_SECONDS = 5.0

pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")


class FakeKinesis:
    """Takes every record, or (``down``) answers as an endpoint that is not there."""

    def __init__(self, down: bool = False):
        self.down = down
        self.calls: list[list[dict]] = []

    @property
    def records(self) -> list[dict]:
        return [json.loads(r["Data"]) for call in self.calls for r in call]

    def put_records(self, StreamName, Records):
        if self.down:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9/")
        self.calls.append(list(Records))
        return {"FailedRecordCount": 0,
                "Records": [{"ShardId": "shardId-000000000000", "SequenceNumber": str(i)} for i in range(len(Records))]}


class FakeTarget:
    name = "ministack"

    def __init__(self, home, kinesis):
        self.home = home
        self.outputs = {"stream_name": "ticks"}
        self.kinesis = kinesis

    def client(self, service):
        assert service == "kinesis"
        return self.kinesis


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    # websockets honours proxy settings: connections to 127.0.0.1 never go through one.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    monkeypatch.setattr(produce, "STREAM_BACKOFF", FAST)


@pytest.fixture
def kinesis(monkeypatch, tmp_path):
    fake = FakeKinesis()
    target = FakeTarget(tmp_path / "home" / "ministack", fake)
    monkeypatch.setattr(produce, "running_target", lambda name: target)
    fake.target = target
    return fake


@pytest.fixture
def polled(monkeypatch):
    """fast_info faked: every poll gets the same quote, stamped at noon."""
    fake = functools.partial(live.fetch_tick, ticker_factory=lambda s: FakeTicker(FAST_INFO), now=at_noon)
    monkeypatch.setattr(produce, "fetch_tick", fake)


@pytest.fixture
def interrupts():
    """SIGINT caught by the test while the command's own handler is not installed, so a stray one never
    stops pytest; yields a function that sends SIGINT to this process (Ctrl-C, as a terminal sends it)."""
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield lambda: os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not caught, "SIGINT arrived while produce was not running"


@contextmanager
def when(condition: threading.Event, action, seconds: float = WATCHDOG_SECONDS):
    """Run ``action`` in a thread once ``condition`` is set, or after ``seconds`` whatever happens (bounded)."""
    thread = threading.Thread(target=lambda: (condition.wait(seconds), action()), daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(seconds + 1)


def test_produce_live_puts_the_bars_on_kinesis_and_prints_the_counters(kinesis, monkeypatch):
    # GIVEN the stand-in stream playing a series with reordered, duplicate, late, undecodable and
    # unsubscribed pushes and two dropped connections
    with YahooStreamServer(SCRIPT) as server:
        url = server.url
        monkeypatch.setenv(URL_ENVIRONMENT_VARIABLE, url)
        # WHEN four 5-second bars are produced, live being the default
        result = runner.invoke(cli.app, ["produce", "--symbols", "AAPL,MSFT", "--bar", "5s", "--count", "4"])

    # THEN the stream got exactly those bars, in order, prices as sent
    assert result.exit_code == 0, result.output
    assert kinesis.records == [
        tick("AAPL", "2026-11-25T14:30:05Z", 230.1, 589.53, 1400),
        tick("MSFT", "2026-11-25T14:30:05Z", 410.25, 410.75, 650),
        tick("AAPL", "2026-11-25T14:30:10Z", 232.0, 232.0, 1500),
        tick("MSFT", "2026-11-25T14:30:10Z", 411.0, 411.0, 700),
    ]
    assert all(r["PartitionKey"] == json.loads(r["Data"])["symbol"] for call in kinesis.calls for r in call)
    # AND the counters say what was pushed, skipped, reconnected and sent
    assert result.output.splitlines()[-1] == (
        "pushes 13, bars 4, decode errors 1, unknown symbols 1, late 1, duplicates 1, reconnects 2, sent 4, spooled 0")
    assert f"streaming AAPL, MSFT from {url} in 5 s bars onto ticks" in result.output
    assert not (kinesis.target.home / produce.SPOOL_FILE).exists()


def test_produce_live_sends_in_batches_not_one_call_per_tick(kinesis, monkeypatch):
    # GIVEN 60 pushes of three symbols arriving together, each its own tick (--bar 0)
    base = epoch_ms("2026-11-25T14:30:00Z")
    script = [pricing_frame(symbol, 100.0 + i, base + i * 1000, day_high=200.0, day_low=50.0, previous_close=99.5,
                            day_volume=1000 + i)
              for i in range(20) for symbol in ("AAA", "BBB", "CCC")]
    with YahooStreamServer(script) as server:
        monkeypatch.setenv(URL_ENVIRONMENT_VARIABLE, server.url)
        result = runner.invoke(cli.app, ["produce", "--symbols", "AAA,BBB,CCC", "--bar", "0", "--count", "60"])

    assert result.exit_code == 0, result.output
    # THEN all 60 landed, each symbol's in time order, in a few PutRecords calls (each at most 200 ms of
    # ticks or 500 records), not 60
    assert len(kinesis.records) == 60
    for symbol in ("AAA", "BBB", "CCC"):
        prices = [t["lastPrice"] for t in kinesis.records if t["symbol"] == symbol]
        assert prices == [100.0 + i for i in range(20)]
    assert 1 <= len(kinesis.calls) <= 10 and all(len(call) <= 500 for call in kinesis.calls)
    assert "sent 60, spooled 0" in result.output


def test_an_unreachable_stream_is_one_line_then_polling(kinesis, polled, monkeypatch):
    # GIVEN no stream to reach
    monkeypatch.setenv(URL_ENVIRONMENT_VARIABLE, f"ws://127.0.0.1:{free_port()}")
    # WHEN two ticks of two symbols are produced
    result = runner.invoke(cli.app, ["produce", "--symbols", "AAPL,MSFT", "--count", "2", "--interval", "1"])

    # THEN one line says why it falls back, and polling (one round, a tick per symbol) takes over
    assert result.exit_code == 0, result.output
    fallback = [line for line in result.output.splitlines() if "falling back to polling" in line]
    assert len(fallback) == 1
    assert re.fullmatch(r"cannot reach the Yahoo Finance stream at ws://127\.0\.0\.1:\d+ after 3 attempts "
                        r"\(ConnectionRefusedError.*\); falling back to polling every 1 s", fallback[0])
    assert [(t["symbol"], t["timestamp"], t["lastPrice"]) for t in kinesis.records] == [
        ("AAPL", "2026-11-25T12:00:05Z", 232.25), ("MSFT", "2026-11-25T12:00:05Z", 232.25)]
    assert result.output.splitlines()[-1].endswith("polled rounds 1, polled ticks 2, sent 2, spooled 0")


def test_a_quiet_stream_is_said_and_ctrl_c_sends_the_open_bar(kinesis, monkeypatch, interrupts):
    # GIVEN a stream that pushes two quotes of one bar, then nothing (as outside market hours)
    monkeypatch.setattr(produce, "IDLE_AFTER_SECONDS", 0.3)
    quiet = threading.Event()

    class NoticeQuiet(logging.Handler):
        def emit(self, record):
            if "no quotes pushed" in record.getMessage():
                quiet.set()

    notice = NoticeQuiet()
    logging.getLogger("producer.stream").addHandler(notice)
    script = [quote("AAPL", 0.5, 230.10, 1000), quote("AAPL", 1.0, 230.20, 1100)]
    try:
        with YahooStreamServer(script) as server, when(quiet, interrupts):
            monkeypatch.setenv(URL_ENVIRONMENT_VARIABLE, server.url)
            # WHEN the user presses Ctrl-C once the quiet spell was reported
            result = runner.invoke(cli.app, ["produce", "--bar", "5s"])
    finally:
        logging.getLogger("producer.stream").removeHandler(notice)

    # THEN the quiet spell was said, the command stopped cleanly, and the open bar reached the stream
    assert result.exit_code == 0, result.output
    assert quiet.is_set()
    assert "no quotes pushed for 0 s" in result.output and "outside market hours?" in result.output
    assert kinesis.records == [tick("AAPL", "2026-11-25T14:30:05Z", 230.1, 230.2, 1100)]
    lines = result.output.splitlines()
    assert lines[-2:] == ["stopped: open bars closed and sent",
                          "pushes 2, bars 1, decode errors 0, unknown symbols 0, late 0, duplicates 0, reconnects 0, "
                          "sent 1, spooled 0"]


def test_ticks_the_stream_cannot_take_are_spooled_and_go_first_on_the_next_start(kinesis, polled, tmp_path):
    spool = tmp_path / "spool.jsonl"
    # GIVEN a stream that does not answer: polled ticks go to the spool, and the command says so at exit
    kinesis.down = True
    first = runner.invoke(cli.app, ["produce", "--poll", "--symbols", "AAPL,MSFT", "--count", "1",
                                    "--spool", str(spool)])
    assert first.exit_code == 0, first.output
    assert f"2 ticks wait in {spool}; they go first on the next start" in first.output
    assert first.output.splitlines()[-1] == "polled rounds 1, polled ticks 2, sent 0, spooled 2"
    assert [json.loads(line)["symbol"] for line in spool.read_text().splitlines()] == ["AAPL", "MSFT"]

    # WHEN the stream is back and the producer starts again
    kinesis.down = False
    second = runner.invoke(cli.app, ["produce", "--poll", "--symbols", "TSLA", "--count", "1", "--spool", str(spool)])

    # THEN the spooled ticks went first, in order, then the new one; the spool is empty
    assert second.exit_code == 0, second.output
    assert f"2 ticks spooled in {spool} by an earlier run: sending them first" in second.output
    assert [t["symbol"] for t in kinesis.records] == ["AAPL", "MSFT", "TSLA"]
    assert [json.loads(r["Data"])["symbol"] for r in kinesis.calls[0]] == ["AAPL", "MSFT"]
    assert second.output.splitlines()[-1] == "polled rounds 1, polled ticks 1, sent 3, spooled 0"
    assert not spool.exists()


def test_the_spool_lives_under_the_targets_home_by_default(kinesis, polled):
    kinesis.down = True
    result = runner.invoke(cli.app, ["produce", "--poll", "--count", "1"])
    assert result.exit_code == 0, result.output
    assert (kinesis.target.home / "producer-spool.jsonl").read_text().count("\n") == 1


def test_one_mode_at_a_time():
    result = runner.invoke(cli.app, ["produce", "--live", "--poll"])
    assert result.exit_code == 2 and "choose one of --live, --poll, not --live and --poll" in result.output
