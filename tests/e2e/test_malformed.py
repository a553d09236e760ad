"""A real recording with every tick sent twice and one malformed record of each kind mixed in.

The deployed pipeline must end exactly where the backtest of the clean recording ends: the same
alerts, every valid tick stored and archived with its own values, and each malformed record
quarantined once with its reason. A malformed record that got in would show: each is built from a
real tick of the same symbol with another price, or stamped far in the future, which would move
the symbol's analysis out of reach of every tick after it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from stock_pipeline.contract import MAX_TICK_BYTES, rejected_sequence_number
from tickstack.ops import sample_data
from tickstack.ops.alerts import read_alerts
from tickstack.ops.archive import archive_objects, archived_ticks
from tickstack.ops.backtest import backtest, load_recording
from tickstack.ops.replay import replay, wait_processed

pytestmark = pytest.mark.e2e

# Two real recordings under fresh names, interleaved in time as a live feed would be.
RECORDINGS = {
    "MALA": ("GOOG", date(2011, 1, 3), date(2011, 12, 30)),
    "MALB": ("IBM", date(2011, 1, 3), date(2011, 12, 30)),
}
COPY_DISTANCE = 3  # each tick is sent again this many records later
MALFORMED_EVERY = 15  # one malformed record every this many records
# What the alerts are compared on: all but when they were sent and how often.
ALERT_KEYS = ("alert_id", "symbol", "signal", "timestamp", "price", "sma5", "sma20", "subject", "message")


@dataclass(frozen=True)
class Malformed:
    kind: str
    data: bytes
    reason: str  # a part of the reason it must be quarantined with


def malformed_records(tick: dict) -> list[Malformed]:
    """One record of each kind, from a real tick (`tick`) of a symbol of the recording."""

    def with_(**overrides) -> bytes:
        return json.dumps({**tick, "lastPrice": tick["lastPrice"] * 2, **overrides}).encode()

    without_close = {k: v for k, v in tick.items() if k != "previousClose"}
    return [
        Malformed("invalid JSON", with_()[:-7], "payload is not valid JSON"),
        Malformed("not UTF-8", with_()[:-2] + b'\xff\xfe"}', "payload is not UTF-8 text"),
        Malformed("not an object", json.dumps([tick]).encode(), "payload must be a JSON object, got array"),
        Malformed("zero-width space in the symbol", with_(symbol=tick["symbol"] + "\u200b"),
                  "invisible or non-printing character U+200B"),
        Malformed("no-break space before the symbol", with_(symbol="\u00a0" + tick["symbol"]),
                  "invisible or non-printing character U+00A0"),
        Malformed("tab in the symbol", with_(symbol=tick["symbol"][:2] + "\t" + tick["symbol"][2:]),
                  "invisible or non-printing character U+0009"),
        Malformed("missing field", json.dumps(without_close).encode(), "missing or null field(s): previousClose"),
        Malformed("unexpected field", with_(currency="USD"), "unexpected field(s): 'currency'"),
        Malformed("wrong type", with_(lastPrice=str(tick["lastPrice"])), "lastPrice must be a number, got string"),
        Malformed("NaN", with_(lastPrice=float("nan")), "lastPrice must be finite"),
        Malformed("Infinity", with_(dayHigh=float("inf")), "dayHigh must be finite"),
        Malformed("zero price", with_(lastPrice=0), "lastPrice must be greater than 0"),
        Malformed("negative price", with_(open=-tick["open"]), "open must be greater than 0"),
        Malformed("high below low", with_(dayHigh=tick["dayLow"] / 2), "is below dayLow"),
        Malformed("unparseable timestamp", with_(timestamp="yesterday at 4"), "is not ISO 8601"),
        Malformed("naive timestamp", with_(timestamp=tick["timestamp"].rstrip("Z")), "has no UTC offset"),
        Malformed("far-future timestamp", with_(timestamp="2999-01-01T21:00:00Z"), "is in the future"),
        Malformed("oversized", with_(symbol=tick["symbol"] + " " * MAX_TICK_BYTES),
                  f"more than the {MAX_TICK_BYTES} a tick may take"),
        Malformed("over-long symbol", with_(symbol=tick["symbol"] * 5), "is longer than 16 characters"),
        Malformed("malformed symbol", with_(symbol=tick["symbol"] + ";DROP"), "is not a ticker"),
    ]


def clean_ticks() -> list[dict]:
    source = sample_data.source_path()
    ticks = []
    for name, (symbol, start, end) in RECORDINGS.items():
        recorded = sample_data.ticks(sample_data.bars(source, symbol), symbol, start, end)
        ticks += [{**t, "symbol": name} for t in recorded]
    return sorted(ticks, key=lambda t: (t["timestamp"], t["symbol"]))


def dirty_lines(clean: list[bytes], malformed: list[Malformed]) -> list[bytes]:
    """Every clean line, its copy COPY_DISTANCE records later, and a malformed one every MALFORMED_EVERY."""
    out: list[bytes] = []
    bad = iter(malformed)
    for index, line in enumerate(clean):
        out.append(line)
        if index >= COPY_DISTANCE:
            out.append(clean[index - COPY_DISTANCE])
        if index % MALFORMED_EVERY == MALFORMED_EVERY - 1:
            out.extend(m.data for m in [next(bad, None)] if m is not None)
    out.extend(clean[-COPY_DISTANCE:])
    out.extend(m.data for m in bad)
    return out


@dataclass
class Run:
    clean_path: object
    malformed: list[Malformed]
    report: object


@pytest.fixture(scope="module")
def run(stack, tmp_path_factory):
    folder = tmp_path_factory.mktemp("malformed")
    ticks = clean_ticks()
    clean = [json.dumps(t).encode() for t in ticks]
    clean_path = folder / "clean.jsonl"
    clean_path.write_bytes(b"\n".join(clean) + b"\n")
    # Built from a tick in the middle of the first symbol's recording.
    mala = [t for t in ticks if t["symbol"] == "MALA"]
    malformed = malformed_records(mala[len(mala) // 2])
    assert all(b"\n" not in m.data for m in malformed)
    dirty_path = folder / "dirty.jsonl"
    dirty_path.write_bytes(b"\n".join(dirty_lines(clean, malformed)) + b"\n")

    report = replay(stack, [dirty_path])
    # The replay tells valid from invalid with the function's code, this machine's clock standing in
    # for the function's: the far-future tick is among the invalid ones.
    future = next(m for m in malformed if m.kind == "far-future timestamp")
    assert any(line.data == future.data and "is in the future" in reason for line, reason in report.invalid)
    wait_processed(stack, report, timeout=300)
    yield Run(clean_path, malformed, report)

    # The quarantined objects of this test go: other tests count what they quarantine themselves.
    outputs = stack.outputs
    s3 = stack.client("s3")
    for key in quarantined_keys(stack, run_sent_sequences(report, malformed)).values():
        s3.delete_object(Bucket=outputs["bucket_name"], Key=key)


def run_sent_sequences(report, malformed: list[Malformed]) -> dict[str, Malformed]:
    by_data = {m.data: m for m in malformed}
    return {s.sequence_number: by_data[s.data] for s in report.sent if s.data in by_data}


def quarantined_keys(stack, sequences) -> dict[str, str]:
    outputs = stack.outputs
    prefix = outputs["rejected_prefix"]
    found = {}
    s3 = stack.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=outputs["bucket_name"], Prefix=prefix):
        for obj in page.get("Contents", []):
            sequence = rejected_sequence_number(obj["Key"], prefix)
            if sequence in sequences:
                found[sequence] = obj["Key"]
    return found


def test_the_alerts_are_the_backtests_of_the_clean_recording(stack, run):
    expected = backtest(run.clean_path).alerts
    assert len(expected) >= 20  # the recordings hold crosses enough to tell
    alerts = [a for a in read_alerts(stack) if a["symbol"] in RECORDINGS]

    assert sorted((tuple(a[k] for k in ALERT_KEYS) for a in alerts)) == sorted(
        tuple(a[k] for k in ALERT_KEYS) for a in expected)
    assert all(a["deliveries"] == 1 for a in alerts)


def test_each_malformed_record_is_quarantined_once_with_its_reason(stack, run):
    sequences = run_sent_sequences(run.report, run.malformed)
    assert sorted(m.kind for m in sequences.values()) == sorted(m.kind for m in run.malformed)
    keys = quarantined_keys(stack, sequences)
    assert set(keys) == set(sequences)

    s3 = stack.client("s3")
    for sequence, key in keys.items():
        body = json.loads(s3.get_object(Bucket=stack.outputs["bucket_name"], Key=key)["Body"].read())
        malformed = sequences[sequence]
        assert malformed.reason in body["reason"], (malformed.kind, body["reason"])
        assert body["raw"] == malformed.data.decode("utf-8", errors="backslashreplace")
        assert body["sequence_number"] == sequence


def test_no_valid_tick_is_lost_or_changed(stack, run):
    table = load_recording([run.clean_path])
    outputs = stack.outputs
    dynamodb = stack.client("dynamodb")
    archive = archived_ticks(stack, archive_objects(stack))
    for symbol, prices in table.prices.items():
        stored = {}
        for page in dynamodb.get_paginator("query").paginate(
                TableName=outputs["table_name"], KeyConditionExpression="symbol = :s",
                ExpressionAttributeValues={":s": {"S": symbol}}, ConsistentRead=True):
            stored.update({item["timestamp"]["S"]: Decimal(item["price"]["N"]) for item in page["Items"]})
        assert stored == prices, symbol
        # Archived with its own price; a tick whose copy came in a later batch is archived twice, no more.
        lines = [line for line in archive if line["symbol"] == symbol]
        assert {line["timestamp"] for line in lines} == set(prices), symbol
        assert all(Decimal(str(line["price"])) == prices[line["timestamp"]] for line in lines), symbol
        assert max(Counter(line["timestamp"] for line in lines).values()) <= 2, symbol
