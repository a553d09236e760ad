"""A persistent embedded stack terminated in the middle of its work and brought back loses nothing.

MiniStack saves its state when it is terminated and restores it on the next start, but not the
records still in its table's stream, and its trend mapping would then skip as many new records
as it had read before. So the restart replaces the trend mapping and wakes every stored symbol
(tickstack.ops.recovery). What the producer could not confirm before the stop is sent again.
The alerts are then those of the functions' own code over each recording.
"""

from __future__ import annotations

import os
import signal
import uuid

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.conftest import FIXTURE, free_port
from tickstack.deploy import pipeline
from tickstack.ops import sample_data
from tickstack.ops.alerts import read_alerts
from tickstack.ops.backtest import backtest
from producer.recording import read_lines
from tickstack.ops.replay import ReplayReport, classify, replay, wait_processed, wait_stored
from tickstack.settings import Settings
from tickstack.targets.ministack import MiniStack
from tickstack.waiting import wait_until

pytestmark = pytest.mark.e2e
COMPARED = ("alert_id", "symbol", "signal", "timestamp", "price", "sma5", "sma20", "subject", "message")


@pytest.fixture(scope="module")
def persistent(tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("home-restart"), port=free_port(), region="us-east-1",
                        name_prefix=f"rs{uuid.uuid4().hex[:6]}")
    target = MiniStack(settings, persist=True)
    said: list[str] = []
    try:
        pipeline.up(target, said.append)
        yield target, said
    finally:
        pipeline.down(target, said.append, wipe=True)


def goog_halves(folder):
    """Two years of real GOOG closes, in two halves: crosses on both sides of the stop."""
    ticks = [t for t in sample_data.recording("GOOG") if "2006-01-01" <= t["timestamp"] < "2008-01-01"]
    whole, first, second = folder / "goog.jsonl", folder / "goog-1.jsonl", folder / "goog-2.jsonl"
    sample_data.write_recording(whole, ticks)
    sample_data.write_recording(first, ticks[: len(ticks) // 2])
    sample_data.write_recording(second, ticks[len(ticks) // 2:])
    return whole, first, second


def compared(alerts, symbol):
    return [{k: a[k] for k in COMPARED} for a in alerts if a["symbol"] == symbol]


def test_a_stopped_emulator_brought_back_gives_the_clean_runs_alerts(persistent, tmp_path):
    target, said = persistent
    whole, first, second = goog_halves(tmp_path)

    # GIVEN half of GOOG processed (the trend mapping has read its records) ...
    wait_processed(target, replay(target, [first]), timeout=240)
    # ... and the AAPL recording stored but not yet analysed when the emulator is terminated
    lambda_client = target.client("lambda")
    trend = target.outputs["function_names"]["trend"]
    for mapping in lambda_client.list_event_source_mappings(FunctionName=trend)["EventSourceMappings"]:
        lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    wait_stored(target, replay(target, [FIXTURE]), timeout=120)
    os.killpg(target.pid(), signal.SIGTERM)
    wait_until(lambda: not target.running(), timeout=30, what="MiniStack to exit")

    # WHEN the producer cannot confirm the rest of GOOG while the emulator is down
    with pytest.raises((BotoCoreError, ClientError)):
        replay(target, [second])

    # AND the stack is brought back and the unconfirmed ticks are sent again
    pipeline.up(target, said.append)
    assert any("restored from saved state" in line for line in said)
    resent = replay(target, [second])

    # THEN every tick is stored and analysed, and the alerts are exactly each recording's own
    stored_aapl = ReplayReport()
    classify(read_lines([FIXTURE]), stored_aapl)
    wait_processed(target, stored_aapl, timeout=120)
    wait_processed(target, resent, timeout=240)
    seen = read_alerts(target)
    assert compared(seen, "AAPL") == compared(backtest([FIXTURE]).alerts, "AAPL")
    assert compared(seen, "GOOG") == compared(backtest([whole]).alerts, "GOOG")
    # At most an alert being published at the stop goes out twice.
    assert sum(a["deliveries"] - 1 for a in seen) <= 1

