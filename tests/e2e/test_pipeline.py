"""Recorded AAPL ticks through the deployed pipeline: crosses alerted once each, data stored and archived."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from stock_pipeline.contract import rejected_sequence_number
from tickstack.ops.alerts import combine, parse_envelope, read_alerts
from tickstack.ops.archive import archive_objects, archived_ticks
from tickstack.ops.replay import replay, wait_processed
from tickstack.waiting import wait_until

pytestmark = pytest.mark.e2e

EXPECTED = [
    ("AAPL", "2012-11-26T21:00:00Z", "GOLDEN_CROSS", "589.53", "AAPL Golden Cross: uptrend",
     "AAPL is in an Uptrend. Consider a buy opportunity."),
    ("AAPL", "2012-12-07T21:00:00Z", "DEATH_CROSS", "533.25", "AAPL Death Cross: downtrend",
     "AAPL is in a Downtrend. Consider selling."),
]


@pytest.fixture(scope="module")
def replayed(stack, fixture_path):
    report = replay(stack, [fixture_path])
    wait_processed(stack, report, timeout=180)
    return report


def aapl_alerts(stack):
    # Other tests replay other symbols into the same stack; these assertions are about the AAPL recording.
    return [a for a in read_alerts(stack) if a["symbol"] == "AAPL"]


def _alert_tuples(stack):
    return [(a["symbol"], a["timestamp"], a["signal"], a["price"], a["subject"], a["message"].splitlines()[0])
            for a in aapl_alerts(stack)]


def test_replay_alerts_the_golden_and_the_death_cross_once_each(stack, replayed):
    assert len(replayed.sent) == 80
    assert _alert_tuples(stack) == EXPECTED


def test_alert_carries_the_averages_that_crossed(stack, replayed):
    golden, death = aapl_alerts(stack)
    assert Decimal(golden["sma5"]) > Decimal(golden["sma20"])
    assert Decimal(death["sma5"]) < Decimal(death["sma20"])
    assert Decimal(golden["sma5"]) == Decimal("569.8747")
    assert Decimal(golden["sma20"]) == Decimal("565.8880")


def test_every_tick_is_stored_and_archived(stack, replayed, fixture_path):
    outputs = stack.outputs
    items = stack.client("dynamodb").query(
        TableName=outputs["table_name"],
        KeyConditionExpression="symbol = :s",
        ExpressionAttributeValues={":s": {"S": "AAPL"}},
        Select="COUNT",
    )
    assert items["Count"] == 80
    # Archived as JSON Lines, one object per batch and arrival day, named after the batch's first record,
    # under the arrival day. Other tests replay AAPL too: these objects are the ones this replay's records name.
    # When an earlier test stored the same ticks, the table says nothing of this replay's progress:
    # wait (bounded) until its own objects hold every recorded tick.
    ours = {sent.sequence_number for sent in replayed.sent}
    recorded = [json.loads(line)["timestamp"] for line in fixture_path.read_text().splitlines() if line.strip()]

    def archived():
        objects = {key: parts for key, parts in archive_objects(stack).items() if parts.sequence_number in ours}
        ticks = archived_ticks(stack, objects, "AAPL")
        return (objects, ticks) if len(ticks) >= len(recorded) else None

    objects, ticks = wait_until(archived, timeout=60, what="this replay's AAPL archive objects")
    # ... every tick exactly once, in far fewer objects than ticks (a batch holds up to 100 records)
    assert sorted(tick["timestamp"] for tick in ticks) == sorted(recorded)
    assert 1 <= len(objects) <= 80 / 20
    now = datetime.now(timezone.utc)
    assert {parts.day for parts in objects.values()} <= {f"{now:%Y-%m-%d}", f"{now - timedelta(days=1):%Y-%m-%d}"}
    (golden,) = [tick for tick in ticks if tick["timestamp"] == "2012-11-26T21:00:00Z"]
    assert golden["price"] == 589.53 and golden["symbol"] == "AAPL" and golden["anomaly"] in ("Yes", "No")


def test_glue_table_describes_the_archive(stack, replayed, said):
    outputs = stack.outputs
    if outputs["glue_table"] is None:
        # An emulator without Glue (LocalStack's free tier): the table is switched off, and bring-up said so.
        assert outputs["glue_database"] is None
        assert any("the Glue table is switched off" in line for line in said)
        return
    table = stack.client("glue").get_table(DatabaseName=outputs["glue_database"], Name=outputs["glue_table"])["Table"]
    assert table["StorageDescriptor"]["Location"].rstrip("/") == f"s3://{outputs['bucket_name']}/raw-data"
    columns = {c["Name"] for c in table["StorageDescriptor"]["Columns"]}
    assert {"symbol", "timestamp", "price", "previous_close", "volume", "anomaly"} <= columns
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("dt", "string")]
    assert table["Parameters"]["projection.dt.type"] == "date"


def test_replaying_again_alerts_nothing_new(stack, replayed, fixture_path):
    report = replay(stack, [fixture_path])
    wait_processed(stack, report, timeout=180)
    assert _alert_tuples(stack) == EXPECTED


def test_malformed_records_are_quarantined_and_the_rest_lands(stack, replayed, tmp_path):
    good = {"symbol": "QRTN", "timestamp": "2012-12-03T21:00:00Z", "open": 10.0, "dayHigh": 11.0, "dayLow": 9.5,
            "lastPrice": 10.5, "previousClose": 10.1, "lastVolume": 1000}
    recording = tmp_path / "mixed.jsonl"
    recording.write_text("\n".join([
        "{not json",
        json.dumps({**good, "timestamp": "2012-12-04T21:00:00Z", "lastPrice": -3}),
        json.dumps(good),
    ]) + "\n")
    report = replay(stack, [recording])
    assert len(report.invalid) == 2
    wait_processed(stack, report, timeout=120)
    outputs = stack.outputs
    item = stack.client("dynamodb").get_item(
        TableName=outputs["table_name"], Key={"symbol": {"S": "QRTN"}, "timestamp": {"S": "2012-12-03T21:00:00Z"}})
    assert item["Item"]["price"]["N"] == "10.5"
    s3 = stack.client("s3")
    # Other tests of the session quarantine records too: these are the ones this replay sent.
    ours = {sent.sequence_number for sent in report.sent}
    rejected = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=outputs["bucket_name"], Prefix=outputs["rejected_prefix"]) for o in page.get("Contents", [])
        if rejected_sequence_number(o["Key"], outputs["rejected_prefix"]) in ours]
    reasons = [json.loads(s3.get_object(Bucket=outputs["bucket_name"], Key=k)["Body"].read())["reason"] for k in rejected]
    assert len(reasons) == 2
    assert any("JSON" in r for r in reasons) and any("lastPrice" in r for r in reasons)


def test_cli_reads_the_same_alerts_twice(stack, replayed):
    env = {**os.environ, "TARGET": stack.name, "TICKSTACK_HOME": str(stack.settings.home),
           "TICKSTACK_PORT": str(stack.settings.port), "TICKSTACK_PREFIX": stack.settings.name_prefix}
    tickstack = Path(sys.executable).parent / "tickstack"
    runs = [subprocess.run([str(tickstack), "alerts", "--json"], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    first, second = (json.loads(r.stdout) for r in runs)
    assert first == second
    assert [(a["symbol"], a["timestamp"], a["signal"]) for a in first if a["symbol"] == "AAPL"] == [e[:3] for e in EXPECTED]


def test_cli_lists_the_alerts_from_the_alerts_table_as_the_queue_alone_gave_them(stack, replayed):
    outputs = stack.outputs
    # The table holds the recording's two alerts, each published once ...
    items = [item for page in stack.client("dynamodb").get_paginator("scan").paginate(
        TableName=outputs["alerts_table_name"], ConsistentRead=True) for item in page["Items"]]
    logged = sorted((i["timestamp"]["S"], i["signal"]["S"], i["publish_count"]["N"]) for i in items
                    if i["symbol"]["S"] == "AAPL")
    assert logged == [(e[1], e[2], "1") for e in EXPECTED]
    # ... and `tickstack alerts --json` lists them exactly as reading the audit queue alone did before the table
    env = {**os.environ, "TARGET": stack.name, "TICKSTACK_HOME": str(stack.settings.home),
           "TICKSTACK_PORT": str(stack.settings.port), "TICKSTACK_PREFIX": stack.settings.name_prefix}
    tickstack = Path(sys.executable).parent / "tickstack"
    run = subprocess.run([str(tickstack), "alerts", "--json"], env=env, capture_output=True, text=True, check=True)
    listed = [a for a in json.loads(run.stdout) if a["symbol"] == "AAPL"]
    queue = stack.audit_messages(outputs["alert_audit_queue_url"])
    delivered = [r for r in (parse_envelope(m.get("Body", "")) for m in queue) if r]
    before = [a for a in combine([], delivered) if a["symbol"] == "AAPL"]
    assert [(a["timestamp"], a["signal"], a["deliveries"]) for a in listed] == [(e[1], e[2], 1) for e in EXPECTED]
    assert listed == before


def test_cli_runs_a_named_athena_query_over_the_archive(stack, replayed):
    env = {**os.environ, "TARGET": stack.name, "TICKSTACK_HOME": str(stack.settings.home),
           "TICKSTACK_PORT": str(stack.settings.port), "TICKSTACK_PREFIX": stack.settings.name_prefix}
    tickstack = Path(sys.executable).parent / "tickstack"
    result = subprocess.run([str(tickstack), "athena", "average_volume", "--json"], env=env, capture_output=True,
                            text=True, check=False)
    if stack.outputs["glue_table"] is None:
        # Without Glue (LocalStack's free tier) the command says why in one line instead of failing in Athena.
        assert result.returncode == 1 and "Glue table is switched off" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    rows = {row["symbol"]: row for row in json.loads(result.stdout)}
    assert rows["AAPL"]["ticks"] == "80"
