"""Parity: what the deployed stack alerted equals the backtest of the same recording, field for field.

The recordings are the ones the other end-to-end modules replay (their fixtures, imported), and a
CSV import of the AAPL bars under a symbol of its own. Only `sent_at` and `deliveries` (when and how
often SNS delivered) are left out of the comparison. Last, the dev loop's direct code update on the
deployed stack: both functions live again, and answering, in under 3 s.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.test_other_recordings import recordings, replayed_others  # noqa: F401  (fixtures)
from tests.e2e.test_pipeline import replayed  # noqa: F401  (fixture)
from tickstack.deploy.package import PACKAGE_DIR
from tickstack.ops import dev_loop
from tickstack.ops.alerts import read_alerts
from tickstack.ops.csv_import import import_csv
from tickstack.ops.replay import replay, wait_processed
from tickstack.ops.verify import IGNORED_FIELDS, compare, deployment_windows, run_backtest
from tickstack.waiting import wait_until

pytestmark = pytest.mark.e2e

# The AAPL bars imported from a CSV get a symbol of their own, so that their alerts are theirs alone.
CSV_SYMBOL = "AAPLCSV"
DEV_LOOP_SECONDS = 3.0


def comparable(alerts: list[dict]) -> list[dict]:
    return sorted(({k: v for k, v in a.items() if k not in IGNORED_FIELDS} for a in alerts),
                  key=lambda a: (a["timestamp"], a["symbol"], a["signal"]))


def assert_parity(stack, paths: list[Path]) -> list[dict]:
    windows = deployment_windows(stack)
    expected = run_backtest(paths, windows.short, windows.long)
    sent = [a for a in read_alerts(stack) if a["symbol"] in expected.symbols]
    assert comparable(sent) == comparable(expected.alerts)
    parity = compare(expected.alerts, sent)
    assert parity.ok and parity.identical == len(expected.alerts)
    return expected.alerts


def cli_env(stack) -> dict[str, str]:
    return {**os.environ, "TARGET": stack.name, "TICKSTACK_HOME": str(stack.settings.home),
            "TICKSTACK_PORT": str(stack.settings.port), "TICKSTACK_PREFIX": stack.settings.name_prefix}


def test_the_aapl_alerts_are_the_backtest_of_the_aapl_recording(stack, replayed, fixture_path):
    alerts = assert_parity(stack, [fixture_path])
    assert [(a["signal"], a["timestamp"]) for a in alerts] == [("GOLDEN_CROSS", "2012-11-26T21:00:00Z"),
                                                               ("DEATH_CROSS", "2012-12-07T21:00:00Z")]


def test_each_other_recording_alerts_what_its_backtest_finds(stack, replayed_others, recordings):  # noqa: F811
    for path in recordings:
        assert len(assert_parity(stack, [path])) >= 2  # a golden and a death cross at least


def test_verify_on_the_aapl_recording_finds_parity(stack, replayed, fixture_path):
    tickstack = Path(sys.executable).parent / "tickstack"
    result = subprocess.run([str(tickstack), "verify", str(fixture_path)], env=cli_env(stack), capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    windows = deployment_windows(stack)
    assert result.stdout.strip() == f"parity: 2 alerts identical (SMA {windows.short}/{windows.long}, {stack.name})"


def test_a_csv_import_of_the_aapl_bars_alerts_what_its_backtest_finds(stack, fixture_path, tmp_path):
    # GIVEN the fixture's daily bars as a CSV download, with the bar before the first day
    ticks = [json.loads(line) for line in fixture_path.read_text().splitlines()]
    first = ticks[0]["previousClose"]
    rows = ["Date,Open,High,Low,Close,Adj Close,Volume", f"2012-08-31,{first},{first},{first},{first},{first},0"]
    rows += [f"{t['timestamp'][:10]},{t['open']},{t['dayHigh']},{t['dayLow']},{t['lastPrice']},0,{t['lastVolume']}"
             for t in ticks]
    csv_file = tmp_path / "aapl.csv"
    csv_file.write_text("\n".join(rows) + "\n")

    # WHEN it is imported under a symbol of its own and replayed through the stack
    recording = tmp_path / "aaplcsv.jsonl"
    imported = import_csv(csv_file, CSV_SYMBOL, out=recording)
    assert len(imported.ticks) == 80
    report = replay(stack, [recording])
    wait_processed(stack, report, timeout=180)

    # THEN the stack alerts what the backtest of the import finds, the crosses of the AAPL recording
    alerts = assert_parity(stack, [recording])
    aapl = run_backtest([fixture_path]).alerts
    assert [{**a, "symbol": "AAPL", "alert_id": a["alert_id"].replace(CSV_SYMBOL, "AAPL", 1),
             "subject": a["subject"].replace(CSV_SYMBOL, "AAPL"), "message": a["message"].replace(CSV_SYMBOL, "AAPL")}
            for a in alerts] == aapl


def invocations(stack, fixture_path) -> dict[str, dict]:
    """An event each function handles without changing anything the other tests read.

    The ingest function gets the AAPL recording's last tick, already stored: the same item again (no
    stream record) and the same archive object. The trend function gets a stream record of a removal,
    which it passes over.
    """
    last = fixture_path.read_text().splitlines()[-1].encode()
    kinesis = {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "AAPL", "sequenceNumber": "1",
                    "data": base64.b64encode(last).decode(), "approximateArrivalTimestamp": 1356728400.0},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": "shardId-000000000000:1",
        "eventName": "aws:kinesis:record", "awsRegion": stack.region}]}
    removal = {"Records": [{
        "eventID": "1", "eventName": "REMOVE", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": stack.region,
        "dynamodb": {"Keys": {"symbol": {"S": "AAPL"}, "timestamp": {"S": "2012-12-28T21:00:00Z"}},
                     "SequenceNumber": "1", "SizeBytes": 1, "StreamViewType": "NEW_IMAGE"}}]}
    names = stack.outputs["function_names"]
    return {names["process"]: kinesis, names["trend"]: removal}


def test_a_code_change_is_live_on_both_functions_within_seconds(stack, replayed, fixture_path, tmp_path):
    # GIVEN a changed copy of the functions' code
    package = tmp_path / "lambda" / PACKAGE_DIR.name
    shutil.copytree(PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    marker = f"# dev loop test {tmp_path.name}\n"
    (package / "__init__.py").write_text((package / "__init__.py").read_text() + marker)
    out = tmp_path / "changed.zip"
    events = invocations(stack, fixture_path)
    lambda_client = stack.client("lambda")
    try:
        # WHEN the dev loop applies it
        seconds = dev_loop.apply_change(stack, out=out, package_dir=package)
        print(f"dev loop on {stack.name}: both functions live {seconds:.2f} s after the change was applied")

        # THEN both run it, are ready, and answer an invocation
        digest = base64.b64encode(hashlib.sha256(out.read_bytes()).digest()).decode()
        assert sorted(events) == sorted(dev_loop.function_names(stack))
        for name, event in events.items():
            configuration = lambda_client.get_function(FunctionName=name)["Configuration"]
            assert (configuration["State"], configuration["LastUpdateStatus"]) == ("Active", "Successful")
            assert configuration["CodeSha256"] == digest
            response = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
            assert "FunctionError" not in response, response["Payload"].read()
            assert json.loads(response["Payload"].read()) == {"batchItemFailures": []}
        assert seconds < DEV_LOOP_SECONDS

        # AND a save in the watched folder is live within seconds of the save, as `tickstack dev` says it
        said: list[str] = []
        watching, stop = threading.Event(), threading.Event()

        def sleep(seconds: float) -> None:
            watching.set()  # the loop has its first snapshot
            time.sleep(seconds)

        result: list[float] = []
        watcher = threading.Thread(target=lambda: result.extend(dev_loop.watch(
            stack, said.append, package_dir=package, out=out, stop=stop.is_set, sleep=sleep)))
        watcher.start()
        try:
            assert watching.wait(timeout=10)
            (package / "__init__.py").write_text((package / "__init__.py").read_text() + "# saved again\n")
            wait_until(lambda: any(line.startswith(("live ", "not deployed")) for line in said), timeout=30,
                       what="the dev loop to put the saved change live")
        finally:
            stop.set()
            watcher.join(timeout=30)
        print(f"dev loop on {stack.name}: {said[-1]}")
        assert len(result) == 1 and result[0] < DEV_LOOP_SECONDS, said
    finally:
        # The rest of the session runs on the working tree's code, as deployed.
        dev_loop.apply_change(stack, out=tmp_path / "restored.zip")
