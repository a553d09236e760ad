"""Live quotes end to end: a stand-in for Yahoo's stream, `tickstack record` and `produce`, the deployed stack.

One scripted series (two symbols, one push a second, in the past, long enough for SMA-5 to cross SMA-20 both
ways) is played twice by tests.support.yahoo_stream_server on 127.0.0.1: to `tickstack record --live`, which
writes the 1-second bars to a recording; and, with the connection cut halfway, to `tickstack produce --live`
into the stack, stopped with Ctrl-C as a user would. The stack then holds exactly the recorded bars, and
its alerts are the alerts of replaying that recording (the backtest, through the functions' own code).
The symbols are this module's own, so other tests replaying into the same stack do not interfere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from producer.recording import read_lines
from producer.stream import URL_ENVIRONMENT_VARIABLE
from stock_pipeline.contract import TickItem
from tests.support.yahoo_stream_server import Drop, YahooStreamServer, epoch_ms, pricing_frame
from tickstack.ops.alerts import read_alerts
from tickstack.ops.backtest import backtest
from tickstack.ops.replay import ReplayReport, classify, wait_processed
from tickstack.waiting import wait_until

pytestmark = pytest.mark.e2e

SYMBOLS = ("LIVEA", "LIVEB")
START_MS = epoch_ms("2026-11-24T15:00:00Z")
POINTS = 70
BARS = POINTS * len(SYMBOLS)
ALERT_FIELDS = ("alert_id", "symbol", "signal", "timestamp", "price", "sma5", "sma20", "subject", "message")
TICKSTACK = Path(sys.executable).parent / "tickstack"
COMMAND_SECONDS = 90


def price(symbol: str, i: int) -> float:
    """Down for 25 s, up for 20 s, down for 25 s: SMA-5 falls below SMA-20, crosses above it, then below."""
    base, scale = (100.53, 1.0) if symbol == "LIVEA" else (250.37, 2.5)
    if i < 25:
        move = -0.4 * i
    elif i < 45:
        move = -0.4 * 24 + 1.5 * (i - 24)
    else:
        move = -0.4 * 24 + 1.5 * 20 - 1.6 * (i - 44)
    return round(base + scale * move, 2)


def push(symbol: str, i: int) -> str:
    high, low, previous = (130.0, 75.0, 100.0) if symbol == "LIVEA" else (330.0, 190.0, 250.0)
    return pricing_frame(symbol, price(symbol, i), START_MS + i * 1000, day_high=high, day_low=low,
                         previous_close=previous, day_volume=10_000 + 100 * i, price_hint=2)


SERIES = [push(symbol, i) for i in range(POINTS) for symbol in SYMBOLS]
# The same series with the connection cut halfway, as a network failure would (no close frame).
SERIES_WITH_A_DROP = SERIES[:BARS // 2] + [Drop(abrupt=True)] + SERIES[BARS // 2:]


def bar_end(i: int) -> str:
    """The timestamp of the 1-second bar of push ``i``: its end."""
    end = datetime.fromtimestamp(START_MS / 1000, timezone.utc) + timedelta(seconds=i + 1)
    return end.strftime("%Y-%m-%dT%H:%M:%SZ")


def environment(url: str, stack=None) -> dict[str, str]:
    env = {**os.environ, URL_ENVIRONMENT_VARIABLE: url, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1"}
    if stack is not None:
        env.update({"TARGET": stack.name, "TICKSTACK_HOME": str(stack.settings.home),
                    "TICKSTACK_PORT": str(stack.settings.port), "TICKSTACK_PREFIX": stack.settings.name_prefix})
    return env


def stored_items(stack, symbol: str) -> list[dict]:
    pages = stack.client("dynamodb").get_paginator("query").paginate(
        TableName=stack.outputs["table_name"], KeyConditionExpression="symbol = :s",
        ExpressionAttributeValues={":s": {"S": symbol}})
    return [item for page in pages for item in page["Items"]]


def stored_count(stack) -> int:
    return sum(len(stored_items(stack, symbol)) for symbol in SYMBOLS)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("live") / "live.jsonl"
    with YahooStreamServer(SERIES) as server:
        result = subprocess.run(
            [str(TICKSTACK), "record", "--live", "--symbols", ",".join(SYMBOLS), "--bar", "1s", "--count", str(BARS),
             "--out", str(out)],
            env=environment(server.url), capture_output=True, text=True, timeout=COMMAND_SECONDS)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def produced(stack, recording) -> subprocess.CompletedProcess:
    """`tickstack produce --live` until the stack has every closed bar, then Ctrl-C; then wait until the
    pipeline has processed the recording's ticks (stored and analysed)."""
    with YahooStreamServer(SERIES_WITH_A_DROP) as server:
        command = [str(TICKSTACK), "produce", "--live", "--symbols", ",".join(SYMBOLS), "--bar", "1s"]
        process = subprocess.Popen(command, env=environment(server.url, stack), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            # Every bar but each symbol's last is closed by a later push: once those are stored, every push
            # has been handled, and Ctrl-C (SIGINT, as a terminal sends it) closes and sends the last ones.
            def closed_bars_stored() -> bool:
                if process.poll() is not None:
                    raise AssertionError(f"produce ended early: {process.communicate()[1]}")
                return stored_count(stack) >= BARS - len(SYMBOLS)

            wait_until(closed_bars_stored, timeout=180, what="the closed bars in the ticks table",
                       give_up_on=(AssertionError,))
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=COMMAND_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    report = ReplayReport()
    classify(read_lines([recording]), report)
    wait_processed(stack, report, timeout=180)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def test_the_recording_holds_every_bar_of_the_series_with_prices_as_sent(recording):
    ticks = [json.loads(line) for line in recording.read_text().splitlines()]
    assert len(ticks) == BARS
    for symbol in SYMBOLS:
        own = [t for t in ticks if t["symbol"] == symbol]
        # One-second bars, each stamped with its end, one push each: the push's price is the bar's.
        assert [(t["timestamp"], t["open"], t["lastPrice"]) for t in own] == [
            (bar_end(i), price(symbol, i), price(symbol, i)) for i in range(POINTS)]


def test_the_series_crosses_both_ways_for_each_symbol(recording):
    signals = {(a["symbol"], a["signal"]) for a in backtest(recording).alerts}
    assert signals == {(s, g) for s in SYMBOLS for g in ("GOLDEN_CROSS", "DEATH_CROSS")}


def test_produce_stops_on_ctrl_c_and_counts_the_dropped_connection(produced):
    assert produced.returncode == 0, produced.stderr
    lines = produced.stderr.splitlines()
    assert lines[-2] == "stopped: open bars closed and sent"
    assert lines[-1] == (f"pushes {BARS}, bars {BARS}, decode errors 0, unknown symbols 0, late 0, duplicates 0, "
                         f"reconnects 1, sent {BARS}, spooled 0")
    assert any(line.startswith("stream connection lost") for line in lines)


def test_no_bar_is_lost_across_the_dropped_connection(stack, produced, recording):
    recorded = sorted((t["symbol"], t["timestamp"], Decimal(str(t["open"])), Decimal(str(t["dayHigh"])),
                       Decimal(str(t["dayLow"])), Decimal(str(t["lastPrice"])), Decimal(str(t["previousClose"])),
                       t["lastVolume"]) for t in map(json.loads, recording.read_text().splitlines()))
    stored = sorted((item[TickItem.SYMBOL]["S"], item[TickItem.TIMESTAMP]["S"], Decimal(item[TickItem.OPEN]["N"]),
                     Decimal(item[TickItem.HIGH]["N"]), Decimal(item[TickItem.LOW]["N"]),
                     Decimal(item[TickItem.PRICE]["N"]), Decimal(item[TickItem.PREVIOUS_CLOSE]["N"]),
                     int(item[TickItem.VOLUME]["N"]))
                    for symbol in SYMBOLS for item in stored_items(stack, symbol))
    assert stored == recorded
    assert not (stack.home / "producer-spool.jsonl").exists()


def test_the_stack_alerts_what_replaying_the_recording_alerts(stack, produced, recording):
    def fields(alerts):
        return sorted(tuple(a[name] for name in ALERT_FIELDS) for a in alerts if a["symbol"] in SYMBOLS)

    expected = fields(backtest(recording).alerts)
    # Published once analysed; read back from the audit queue SNS delivers to.
    wait_until(lambda: len(fields(read_alerts(stack))) >= len(expected), timeout=60,
               what=f"{len(expected)} alerts for {', '.join(SYMBOLS)}")
    assert fields(read_alerts(stack)) == expected
