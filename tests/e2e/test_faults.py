"""Faults injected on the embedded emulator lose nothing, and the duplicates they cause are marked and bounded.

The deployed functions get the fault switch (FAULT_INJECTION, stock_pipeline/faults.py) through
UpdateFunctionConfiguration, not a redeploy, and it is switched off again at the end. Under each
fault a real recording, renamed to symbols of its own, is replayed at a steady pace (so that each
function is invoked many times) and must end as a clean replay of it ends: the backtest's alerts,
each at least once and at most once more per injected crash, the same items in the ticks table and
the same objects in the archive. MiniStack retries a failed batch about every 1.5 s and forever,
so the shares are moderate and every wait bounded.
"""

from __future__ import annotations

import json
import time
from datetime import date

import pytest

from stock_pipeline.contract import FAULT_KINDS, FAULT_TREND_CRASH_AFTER_PUBLISH, Env
from tickstack.ops import sample_data
from tickstack.ops.alerts import read_alerts
from tickstack.ops.archive import archive_objects, archived_ticks
from tickstack.ops.backtest import backtest
from tickstack.ops.replay import replay, wait_processed

pytestmark = pytest.mark.e2e

# Two real recordings (11 crosses between them), each renamed per scenario.
RECORDINGS = [("MSFT", date(2012, 1, 3), date(2012, 6, 29)), ("IBM", date(2012, 1, 3), date(2012, 6, 29))]
# Ticks per second. MiniStack's mappings invoke each function about once a second while records come, so
# the replay's length sets how often each share of faults is drawn: at 10/s the 250 ticks take 25 s, about
# 25 invocations of each function when its faults make its batches grow, more otherwise.
SPEED = 10
ALERT_KEYS = ("alert_id", "signal", "timestamp", "price", "sma5", "sma20")
SCENARIOS = {
    "process": "process=0.3",
    "trend": "trend=0.3",
    "crash": "trend_crash_after_publish=0.5",
    "all": "process=0.3,trend=0.3,trend_crash_after_publish=0.4",
}


def names(scenario: str) -> dict[str, str]:
    """The symbols a scenario's replay uses, by original symbol: e.g. MSFT -> FCRASHA."""
    return {original: f"F{scenario.upper()}{'AB'[i]}" for i, (original, _, _) in enumerate(RECORDINGS)}


def write_recording(folder, scenario: str):
    source = sample_data.source_path()
    renamed = names(scenario)
    ticks = []
    for symbol, start, end in RECORDINGS:
        ticks += [{**t, "symbol": renamed[symbol]}
                  for t in sample_data.ticks(sample_data.bars(source, symbol), symbol, start, end)]
    ticks.sort(key=lambda t: (t["timestamp"], t["symbol"]))
    path = folder / f"{scenario}.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in ticks))
    return path


class FaultSwitch:
    """FAULT_INJECTION on both deployed functions, set without redeploying."""

    def __init__(self, stack):
        self.client = stack.client("lambda")
        self.functions = list(stack.outputs["function_names"].values())
        self.original = {fn: self._variables(fn).get(Env.FAULT_INJECTION, "") for fn in self.functions}

    def _variables(self, function: str) -> dict[str, str]:
        config = self.client.get_function_configuration(FunctionName=function)
        return dict(config.get("Environment", {}).get("Variables", {}))

    def set(self, spec: str | None) -> None:
        """`spec` on both functions; None puts back what was deployed."""
        for function in self.functions:
            variables = self._variables(function)
            variables[Env.FAULT_INJECTION] = self.original[function] if spec is None else spec
            self.client.update_function_configuration(FunctionName=function, Environment={"Variables": variables})
            self.client.get_waiter("function_updated_v2").wait(
                FunctionName=function, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


@pytest.fixture(scope="module")
def switch(stack):
    faults = FaultSwitch(stack)
    # Deployed without faults: the clean replay below needs none.
    assert set(faults.original.values()) == {""}
    yield faults
    faults.set(None)


def injected(stack, since_ms: int) -> dict[str, int]:
    """How many faults of each kind the functions logged since `since_ms`, from their CloudWatch logs."""
    logs = stack.client("logs")
    counts = {kind: 0 for kind in FAULT_KINDS}
    for function in stack.outputs["function_names"].values():
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{function}", startTime=since_ms)
        for page in pages:
            for event in page.get("events", []):
                for line in event["message"].splitlines():
                    if '"fault injected"' not in line:
                        continue
                    record = json.loads(line[line.index("{"):])
                    if record.get("message") == "fault injected":
                        counts[record["fault"]] += 1
    return counts


def stored(stack, symbol: str) -> dict[str, dict]:
    """The symbol's items, by timestamp, without the symbol."""
    items = {}
    for page in stack.client("dynamodb").get_paginator("query").paginate(
            TableName=stack.outputs["table_name"], KeyConditionExpression="symbol = :s",
            ExpressionAttributeValues={":s": {"S": symbol}}, ConsistentRead=True):
        for item in page["Items"]:
            items[item["timestamp"]["S"]] = {k: v for k, v in item.items() if k != "symbol"}
    return items


def archived(lines: list[dict], symbol: str) -> dict[str, dict]:
    """The symbol's ticks among the archive's `lines`, by timestamp, each without the symbol; each archived once.

    An injected fault fails a whole invocation before it writes anything, and its batch comes back
    from the same first record, so its object (one per batch and arrival day, of every symbol in the
    batch) keeps its key: no tick is archived twice.
    """
    ticks = {}
    for line in lines:
        if line["symbol"] != symbol:
            continue
        line = {k: v for k, v in line.items() if k != "symbol"}
        assert line["timestamp"] not in ticks, f"{symbol} {line['timestamp']} archived twice"
        ticks[line["timestamp"]] = line
    return ticks


def original_id(alert: dict, scenario: str) -> str:
    """The alert's alert_id with the recording's own symbol in it, the same in every scenario."""
    original = {name: symbol for symbol, name in names(scenario).items()}[alert["symbol"]]
    assert alert["alert_id"].startswith(f"{alert['symbol']}-")
    return original + alert["alert_id"][len(alert["symbol"]):]


def alerts_by_id(stack, scenario: str) -> dict[str, dict]:
    """The scenario's alerts as `tickstack alerts` reads them back, by original_id."""
    return {original_id(a, scenario): a for a in read_alerts(stack) if a["symbol"] in names(scenario).values()}


def backtest_by_id(path, scenario: str) -> dict[str, dict]:
    return {original_id(a, scenario): a for a in backtest(path).alerts}


@pytest.fixture(scope="module")
def clean(stack, switch, tmp_path_factory):
    """The recording replayed without faults, and its backtest."""
    path = write_recording(tmp_path_factory.mktemp("faults"), "clean")
    report = replay(stack, [path], speed=SPEED)
    wait_processed(stack, report, timeout=300)
    return path, report


def test_a_clean_replay_alerts_the_backtest_once_each(stack, clean):
    path, _ = clean
    expected = backtest_by_id(path, "clean")
    assert len(expected) >= 10
    alerts = alerts_by_id(stack, "clean")

    assert set(alerts) == set(expected)
    for alert_id, alert in alerts.items():
        assert [alert[k] for k in ALERT_KEYS] == [expected[alert_id][k] for k in ALERT_KEYS]
        assert alert["deliveries"] == 1


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_replay_under_faults_ends_as_the_clean_replay(stack, switch, clean, tmp_path, scenario):
    # GIVEN the functions fail (or die after publishing) for a share of their invocations
    spec = SCENARIOS[scenario]
    since_ms = int(time.time() * 1000)
    switch.set(spec)
    try:
        # WHEN the recording, renamed, is replayed and the pipeline catches up
        path = write_recording(tmp_path, scenario)
        report = replay(stack, [path], speed=SPEED)
        wait_processed(stack, report, timeout=420)
    finally:
        switch.set("")

    # THEN each kind of fault asked for was injected
    counts = injected(stack, since_ms)
    asked = {part.split("=")[0] for part in spec.split(",")}
    assert all(counts[kind] > 0 for kind in asked), counts
    assert all(counts[kind] == 0 for kind in set(FAULT_KINDS) - asked), counts
    crashes = counts[FAULT_TREND_CRASH_AFTER_PUBLISH]

    # ... the alerts are the backtest's, by alert_id and content, as the clean replay sent them
    expected = backtest_by_id(path, scenario)
    alerts = alerts_by_id(stack, scenario)
    clean_alerts = alerts_by_id(stack, "clean")
    assert set(alerts) == set(expected) == set(clean_alerts)
    for alert_id, alert in alerts.items():
        assert [alert[k] for k in ALERT_KEYS] == [expected[alert_id][k] for k in ALERT_KEYS]
        assert [alert[k] for k in ALERT_KEYS[1:]] == [clean_alerts[alert_id][k] for k in ALERT_KEYS[1:]]
        # every delivery names its alert the same way, in an attribute and the message's last line
        assert alert["message"].splitlines()[-1] == f"Alert ID: {alert['alert_id']}"

    # ... every duplicate is marked (one alert_id, its deliveries counted) and bounded by the crashes
    deliveries = [alert["deliveries"] for alert in alerts.values()]
    assert all(d >= 1 for d in deliveries)
    assert sum(d - 1 for d in deliveries) <= crashes, (deliveries, crashes)
    if scenario == "crash":
        assert sum(deliveries) > len(deliveries), "a crash after publishing sends that alert again"

    # ... and the table and the archive hold what the clean replay left
    lines = archived_ticks(stack, archive_objects(stack))
    for original, name in names(scenario).items():
        assert stored(stack, name) == stored(stack, names("clean")[original]), original
        assert archived(lines, name) == archived(lines, names("clean")[original]), original
