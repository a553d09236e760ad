from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from boto3.dynamodb.types import TypeSerializer
from botocore.stub import Stubber

from stock_pipeline import process_stock_data
from stock_pipeline.adapters import Backoff, DynamoDBTickStore, S3Archive
from stock_pipeline.contract import MAX_TICK_BYTES
from stock_pipeline.faults import FaultSpec, InjectedFault
from stock_pipeline.process_stock_data import IngestDependencies, lambda_handler
from stock_pipeline.ticks import enrich, parse_tick, to_archive_json

from .fakes import InMemoryArchive, InMemoryTickStore
from .support import CapturedOutput, LambdaContext, captured, load_event, raw_tick

SEQUENCE_NUMBERS = [
    "49656110987463540371012348301244735211937213316212162562",
    "49656110987463540371012348301245944137756827945386868738",
    "49656110987463540371012348301247153063576442574561574914",
]


@dataclass
class Ingest:
    ticks: InMemoryTickStore
    archive: InMemoryArchive

    def raw_objects(self) -> dict[str, list[dict[str, Any]]]:
        """Each archive object under raw-data/, as the JSON objects of its lines."""
        return {k: [json.loads(line) for line in v.splitlines()]
                for k, v in self.archive.objects.items() if k.startswith("raw-data/")}

    def rejected_objects(self) -> dict[str, dict[str, Any]]:
        return {k: json.loads(v) for k, v in self.archive.objects.items() if k.startswith("rejected/")}


@pytest.fixture
def ingest(monkeypatch: pytest.MonkeyPatch) -> Ingest:
    fakes = Ingest(InMemoryTickStore(), InMemoryArchive())
    deps = IngestDependencies(
        ticks=fakes.ticks,
        archive=fakes.archive,
        raw_prefix="raw-data/",
        rejected_prefix="rejected/",
        future_tolerance=300,
    )
    monkeypatch.setattr(process_stock_data, "dependencies", lambda: deps)
    return fakes


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> Iterator[CapturedOutput]:
    with captured(process_stock_data, capsys) as out:
        yield out


def with_data(event: dict[str, Any], index: int, data: str) -> dict[str, Any]:
    event["Records"][index]["kinesis"]["data"] = data
    return event


def test_good_ticks_are_stored_and_archived_and_a_bad_one_is_quarantined(
    ingest: Ingest, output: CapturedOutput, lambda_context: LambdaContext
) -> None:
    # GIVEN a Kinesis batch: AAPL, an AAPL tick whose lastPrice is "n/a", and MSFT with a -05:00 offset
    event = load_event("kinesis_ticks.json")

    # WHEN the handler runs
    response = lambda_handler(event, lambda_context)

    # THEN no record fails: the good ticks are stored and archived ...
    assert response == {"batchItemFailures": []}
    assert sorted(ingest.ticks.items) == [("AAPL", "2012-11-26T21:00:00Z"), ("MSFT", "2012-11-26T21:00:00Z")]
    assert ingest.ticks.items[("AAPL", "2012-11-26T21:00:00Z")]["moving_average"] == Decimal("574.9325")
    # ... in one BatchWriteItem and one JSON Lines object for the whole batch, under the arrival day,
    # named after the batch's first record, its lines the stored items of every symbol in stream order
    assert ingest.ticks.batches == [[("AAPL", "2012-11-26T21:00:00Z"), ("MSFT", "2012-11-26T21:00:00Z")]]
    raw = ingest.raw_objects()
    key = f"raw-data/dt=2012-11-26/shardId-000000000000-{SEQUENCE_NUMBERS[0]}.jsonl"
    assert list(raw) == [key]
    assert [(line["symbol"], line["price"]) for line in raw[key]] == [("AAPL", 589.53), ("MSFT", 27.39)]
    assert ingest.archive.objects[key] == "".join(
        to_archive_json(ingest.ticks.items[(symbol, "2012-11-26T21:00:00Z")]) + "\n" for symbol in ("AAPL", "MSFT"))
    assert ingest.archive.content_types[key] == "application/x-ndjson"

    # ... and the bad one is kept, with its reason, under the rejected prefix
    rejected = ingest.rejected_objects()
    key = f"rejected/2012-11-26/shardId-000000000000-{SEQUENCE_NUMBERS[1]}.json"
    assert list(rejected) == [key]
    body = rejected[key]
    assert body["reason"] == "lastPrice must be a number, got string"
    assert json.loads(body["raw"])["lastPrice"] == "n/a"
    assert body["sequence_number"] == SEQUENCE_NUMBERS[1]
    assert body["partition_key"] == "AAPL"
    assert datetime.strptime(body["rejected_at"], "%Y-%m-%dT%H:%M:%SZ")

    # ... logged and counted
    (warning,) = output.messages("tick rejected")
    assert warning["level"] == "WARNING"
    assert warning["reason"] == "lastPrice must be a number, got string"
    assert warning["key"] == key
    assert output.metric("TicksProcessed") == 2
    assert output.metric("RejectedTicks") == 1


@pytest.mark.parametrize(
    ("data", "reason", "raw"),
    [
        (base64.b64encode(b"{not json").decode(), "payload is not valid JSON", "{not json"),
        (base64.b64encode(b'{"symbol": "AAPL\xff"}').decode(), "payload is not UTF-8 text", '{"symbol": "AAPL\\xff"}'),
        ("@@not base64@@", "record data is not valid base64", "@@not base64@@"),
    ],
)
def test_undecodable_payloads_are_quarantined_not_failed(
    ingest: Ingest, lambda_context: LambdaContext, data: str, reason: str, raw: str
) -> None:
    event = with_data(load_event("kinesis_ticks.json"), 0, data)

    response = lambda_handler(event, lambda_context)

    assert response == {"batchItemFailures": []}
    body = ingest.rejected_objects()[f"rejected/2012-11-26/shardId-000000000000-{SEQUENCE_NUMBERS[0]}.json"]
    assert body["reason"].startswith(reason)
    assert body["raw"] == raw


GOOD = raw_tick()


def tick_json(**overrides: Any) -> bytes:
    return json.dumps({**GOOD, **overrides}).encode()


def stamped(seconds_from_now: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds_from_now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def without(name: str) -> bytes:
    return json.dumps({k: v for k, v in GOOD.items() if k != name}).encode()


# Every kind of record that can never become a tick, with (the start of) the reason it is quarantined with.
MALFORMED = {
    "invalid JSON": (b'{"symbol": "AAPL", "timestamp": ', "payload is not valid JSON"),
    "JSON after the object": (tick_json() + b" {}", "payload is not valid JSON: Extra data"),
    "not UTF-8": (b'{"symbol": "AAPL\xff\xfe"}', "payload is not UTF-8 text"),
    "JSON array": (b"[1, 2, 3]", "payload must be a JSON object, got array"),
    "JSON string": (b'"AAPL"', "payload must be a JSON object, got string"),
    "JSON null": (b"null", "payload must be a JSON object, got null"),
    "empty": (b"", "payload is not valid JSON"),
    "zero-width space in the symbol": (tick_json(symbol="AAPL\u200b"),
                                       "symbol 'AAPL\\u200b' holds an invisible or non-printing character U+200B"),
    "no-break space before the symbol": (tick_json(symbol="\u00a0AAPL"),
                                         "symbol '\\xa0AAPL' holds an invisible or non-printing character U+00A0"),
    "tab in the symbol": (tick_json(symbol="AA\tPL"),
                          "symbol 'AA\\tPL' holds an invisible or non-printing character U+0009"),
    "missing field": (without("previousClose"), "missing or null field(s): previousClose"),
    "null field": (tick_json(dayLow=None), "missing or null field(s): dayLow"),
    "unexpected field": (tick_json(currency="USD"), "unexpected field(s): 'currency'"),
    "price of the wrong type": (tick_json(lastPrice="589.53"), "lastPrice must be a number, got string"),
    "boolean price": (tick_json(open=True), "open must be a number, got boolean"),
    "symbol of the wrong type": (tick_json(symbol=["AAPL"]), "symbol must be a string, got array"),
    "volume of the wrong type": (tick_json(lastVolume="4625000"), "lastVolume must be a non-negative integer"),
    "NaN": (tick_json(lastPrice=float("nan")), "lastPrice must be finite, got nan"),
    "Infinity": (tick_json(dayHigh=float("inf")), "dayHigh must be finite, got inf"),
    "-Infinity": (tick_json(dayLow=float("-inf")), "dayLow must be finite, got -inf"),
    "zero price": (tick_json(lastPrice=0), "lastPrice must be greater than 0"),
    "negative price": (tick_json(previousClose=-571.5), "previousClose must be greater than 0"),
    "high below low": (tick_json(dayHigh=550.0), "dayHigh 550.0 is below dayLow 558.5"),
    "unparseable timestamp": (tick_json(timestamp="26/11/2012 21:00"), "timestamp '26/11/2012 21:00' is not ISO 8601"),
    "naive timestamp": (tick_json(timestamp="2012-11-26T21:00:00"), "has no UTC offset"),
    "timestamp before the year 1000": (tick_json(timestamp="0500-01-01T00:00:00Z"), "is before the year 1000"),
    "far-future timestamp": (tick_json(timestamp="2999-01-01T00:00:00Z"), "timestamp 2999-01-01T00:00:00Z is in the future"),
    # Stamped when the test runs, not when it is collected: the clock moves on in between.
    "timestamp just past the tolerance": (lambda: tick_json(timestamp=stamped(400)), "is in the future: more than 300 s"),
    "oversized record": (tick_json(symbol="AAPL" + " " * MAX_TICK_BYTES),
                         f"more than the {MAX_TICK_BYTES} a tick may take"),
    "over-long symbol": (tick_json(symbol="A" * 17), "is longer than 16 characters"),
    "malformed symbol": (tick_json(symbol="AAPL;DROP"), "is not a ticker"),
    "empty symbol": (tick_json(symbol=" "), "symbol is empty"),
}


@pytest.mark.parametrize(("payload", "reason"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_every_kind_of_bad_record_is_quarantined_with_its_reason_and_the_rest_lands(
    ingest: Ingest, output: CapturedOutput, lambda_context: LambdaContext, payload, reason: str
) -> None:
    payload = payload() if callable(payload) else payload
    # GIVEN a batch whose first record is malformed, beside the fixture's other two (a bad AAPL, a good MSFT)
    event = with_data(load_event("kinesis_ticks.json"), 0, base64.b64encode(payload).decode())

    # WHEN the handler runs
    response = lambda_handler(event, lambda_context)

    # THEN nothing fails, the malformed record is kept with its reason and its bytes ...
    assert response == {"batchItemFailures": []}
    body = ingest.rejected_objects()[f"rejected/2012-11-26/shardId-000000000000-{SEQUENCE_NUMBERS[0]}.json"]
    assert body["reason"].startswith(reason) or reason in body["reason"], body["reason"]
    assert body["raw"] == payload.decode("utf-8", errors="backslashreplace")
    # ... the valid record of the same batch lands, archived under the batch's first valid record, and each
    # bad one is counted
    assert list(ingest.ticks.items) == [("MSFT", "2012-11-26T21:00:00Z")]
    assert {key: [line["symbol"] for line in lines] for key, lines in ingest.raw_objects().items()} == {
        f"raw-data/dt=2012-11-26/shardId-000000000000-{SEQUENCE_NUMBERS[2]}.jsonl": ["MSFT"]}
    assert len(ingest.rejected_objects()) == 2
    assert output.metric("RejectedTicks") == 2 and output.metric("TicksProcessed") == 1


def test_a_tick_inside_the_future_tolerance_is_stored(ingest: Ingest, lambda_context: LambdaContext) -> None:
    timestamp = stamped(60)
    event = with_data(load_event("kinesis_ticks.json"), 0, base64.b64encode(tick_json(timestamp=timestamp)).decode())

    lambda_handler(event, lambda_context)

    assert ("AAPL", timestamp) in ingest.ticks.items


def test_the_future_tolerance_is_the_configured_one(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    # GIVEN a tolerance of 10 s
    deps = process_stock_data.dependencies()
    monkeypatch.setattr(process_stock_data, "dependencies", lambda: IngestDependencies(
        ticks=deps.ticks, archive=deps.archive, raw_prefix="raw-data/", rejected_prefix="rejected/",
        future_tolerance=10))
    event = with_data(load_event("kinesis_ticks.json"), 0, base64.b64encode(tick_json(timestamp=stamped(60))).decode())

    lambda_handler(event, lambda_context)

    # THEN a tick a minute ahead is quarantined
    body = ingest.rejected_objects()[f"rejected/2012-11-26/shardId-000000000000-{SEQUENCE_NUMBERS[0]}.json"]
    assert "is in the future: more than 10 s after the function's clock" in body["reason"]


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_an_injected_fault_fails_the_whole_invocation_before_anything_is_written(
    ingest: Ingest, output: CapturedOutput, monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    # GIVEN every invocation is to fail
    deps = process_stock_data.dependencies()
    monkeypatch.setattr(process_stock_data, "dependencies", lambda: IngestDependencies(
        ticks=deps.ticks, archive=deps.archive, raw_prefix="raw-data/", rejected_prefix="rejected/",
        faults=FaultSpec.parse("process=1")))

    # WHEN a batch comes
    with pytest.raises(InjectedFault):
        lambda_handler(load_event("kinesis_ticks.json"), lambda_context)

    # THEN nothing was written (the whole batch is retried), and the fault was logged
    assert ingest.ticks.items == {} and ingest.archive.objects == {}
    assert [line["fault"] for line in output.messages("fault injected")] == ["process"]


def test_a_redelivered_batch_rewrites_the_same_items_and_keys(ingest: Ingest, lambda_context: LambdaContext) -> None:
    lambda_handler(load_event("kinesis_ticks.json"), lambda_context)
    items, objects = dict(ingest.ticks.items), dict(ingest.archive.objects)

    response = lambda_handler(load_event("kinesis_ticks.json"), lambda_context)

    # THEN the batch's one archive object (and its rejected one) is overwritten with the same lines
    assert response == {"batchItemFailures": []}
    assert ingest.ticks.items == items
    assert ingest.archive.objects == objects
    assert len(ingest.raw_objects()) == 1


def test_an_infrastructure_error_fails_only_its_record(ingest: Ingest, lambda_context: LambdaContext) -> None:
    # GIVEN DynamoDB refuses MSFT writes
    ingest.ticks.fail_for_symbols = {"MSFT"}

    response = lambda_handler(load_event("kinesis_ticks.json"), lambda_context)

    # THEN only the MSFT record is reported for retry; the others went through
    assert response == {"batchItemFailures": [{"itemIdentifier": SEQUENCE_NUMBERS[2]}]}
    assert list(ingest.ticks.items) == [("AAPL", "2012-11-26T21:00:00Z")]
    assert len(ingest.rejected_objects()) == 1


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_when_the_archive_is_down_even_bad_records_fail_rather_than_vanish(
    ingest: Ingest, lambda_context: LambdaContext
) -> None:
    ingest.archive.fail = True

    # THEN every record failed, and the batch utility fails the invocation so the whole batch is retried
    with pytest.raises(BatchProcessingError):
        lambda_handler(load_event("kinesis_ticks.json"), lambda_context)


def kinesis_event(ticks: list[dict[str, Any]], arrivals: list[float] | None = None) -> dict[str, Any]:
    """A batch of one shard holding `ticks` in order, sequence numbers rising, all arriving on 2012-11-26."""
    template = load_event("kinesis_ticks.json")["Records"][0]
    records = []
    for n, tick in enumerate(ticks):
        sequence = str(int(SEQUENCE_NUMBERS[0]) + n * 1000)
        kinesis = {**template["kinesis"], "partitionKey": tick["symbol"], "sequenceNumber": sequence,
                   "data": base64.b64encode(json.dumps(tick).encode()).decode(),
                   "approximateArrivalTimestamp": arrivals[n] if arrivals else 1353963600.0 + n}
        records.append({**template, "kinesis": kinesis, "eventID": f"shardId-000000000004:{sequence}"})
    return {"Records": records}


def day_ticks(symbol: str, days: range, **overrides: Any) -> list[dict[str, Any]]:
    return [{**GOOD, "symbol": symbol, "timestamp": f"2012-11-{day:02d}T21:00:00Z", **overrides} for day in days]


def sequence(event: dict[str, Any], index: int) -> str:
    return event["Records"][index]["kinesis"]["sequenceNumber"]


def test_a_batch_is_archived_as_one_json_lines_object_in_stream_order(
    ingest: Ingest, lambda_context: LambdaContext
) -> None:
    # GIVEN a batch interleaving ten AAPL and ten MSFT ticks, MSFT first
    msft, aapl = day_ticks("MSFT", range(1, 11), lastPrice=27.5), day_ticks("AAPL", range(1, 11))
    ticks = [tick for pair in zip(msft, aapl) for tick in pair]
    event = kinesis_event(ticks)

    # WHEN the handler runs
    response = lambda_handler(event, lambda_context)

    # THEN one object, one PUT, holds the twenty ticks of both symbols: named after the batch's first record,
    # its lines the items in stream order, as the table holds them
    assert response == {"batchItemFailures": []}
    raw = ingest.raw_objects()
    key = f"raw-data/dt=2012-11-26/shardId-000000000004-{sequence(event, 0)}.jsonl"
    assert list(raw) == [key]
    assert [(line["symbol"], line["timestamp"]) for line in raw[key]] == [(t["symbol"], t["timestamp"]) for t in ticks]
    assert ingest.archive.objects[key] == "".join(
        to_archive_json(ingest.ticks.items[(t["symbol"], t["timestamp"])]) + "\n" for t in ticks)
    assert ingest.archive.puts == 1


def test_a_batch_is_stored_with_one_batch_write(ingest: Ingest, lambda_context: LambdaContext) -> None:
    event = kinesis_event(day_ticks("AAPL", range(1, 31)) + day_ticks("IBM", range(1, 31)))

    lambda_handler(event, lambda_context)

    # The store chunks it into requests of 25 (see test_adapters); the handler hands it over once.
    (batch,) = ingest.ticks.batches
    assert len(batch) == 60 == len(ingest.ticks.items)


def test_the_last_record_of_a_key_in_a_batch_wins(
    ingest: Ingest, output: CapturedOutput, lambda_context: LambdaContext
) -> None:
    # GIVEN a batch holding the same AAPL tick twice, corrected the second time, and a MSFT tick between
    first, correction = {**GOOD, "lastPrice": 580.0}, {**GOOD, "lastPrice": 589.53}
    event = kinesis_event([first, {**GOOD, "symbol": "MSFT"}, correction])

    # WHEN the handler runs
    response = lambda_handler(event, lambda_context)

    # THEN nothing fails; one write per key, holding the correction, as one PutItem after the other left it
    assert response == {"batchItemFailures": []}
    assert ingest.ticks.batches == [[("MSFT", "2012-11-26T21:00:00Z"), ("AAPL", "2012-11-26T21:00:00Z")]]
    assert ingest.ticks.items[("AAPL", "2012-11-26T21:00:00Z")]["price"] == Decimal("589.53")
    # ... archived once, after MSFT as the table was written, in the batch's object
    ((key, lines),) = ingest.raw_objects().items()
    assert key == f"raw-data/dt=2012-11-26/shardId-000000000004-{sequence(event, 0)}.jsonl"
    assert [(line["symbol"], line["price"]) for line in lines] == [("MSFT", 589.53), ("AAPL", 589.53)]
    assert output.metric("TicksProcessed") == 3


def test_a_batch_arriving_across_midnight_is_archived_under_both_days(
    ingest: Ingest, lambda_context: LambdaContext
) -> None:
    # GIVEN a batch of AAPL, MSFT and AAPL ticks, the last arriving after midnight
    midnight = datetime(2012, 11, 27, tzinfo=timezone.utc).timestamp()
    event = kinesis_event([*day_ticks("AAPL", range(1, 2)), *day_ticks("MSFT", range(1, 2)),
                           *day_ticks("AAPL", range(2, 3))],
                          arrivals=[midnight - 1, midnight - 0.5, midnight + 0.1])

    lambda_handler(event, lambda_context)

    # THEN two objects, one per arrival day, each named after its day's first record
    raw = ingest.raw_objects()
    assert {key: [(line["symbol"], line["timestamp"]) for line in lines] for key, lines in raw.items()} == {
        f"raw-data/dt=2012-11-26/shardId-000000000004-{sequence(event, 0)}.jsonl": [
            ("AAPL", "2012-11-01T21:00:00Z"), ("MSFT", "2012-11-01T21:00:00Z")],
        f"raw-data/dt=2012-11-27/shardId-000000000004-{sequence(event, 2)}.jsonl": [("AAPL", "2012-11-02T21:00:00Z")],
    }
    assert ingest.archive.puts == 2


def test_a_failed_archive_put_fails_only_that_objects_records(ingest: Ingest, lambda_context: LambdaContext) -> None:
    # GIVEN a batch of AAPL and MSFT ticks arriving across midnight, and S3 refusing the second day's object
    midnight = datetime(2012, 11, 27, tzinfo=timezone.utc).timestamp()
    event = kinesis_event([*day_ticks("AAPL", range(1, 2)), *day_ticks("MSFT", range(1, 2)),
                           *day_ticks("AAPL", range(2, 3)), *day_ticks("MSFT", range(2, 3))],
                          arrivals=[midnight - 1, midnight - 0.5, midnight + 0.1, midnight + 0.2])
    first_day = f"raw-data/dt=2012-11-26/shardId-000000000004-{sequence(event, 0)}.jsonl"
    ingest.archive.fail_keys = {f"raw-data/dt=2012-11-27/shardId-000000000004-{sequence(event, 2)}.jsonl"}

    response = lambda_handler(event, lambda_context)

    # THEN the two records of that object, of both symbols, are retried (their items were stored; rewriting
    # them changes nothing); the first day's object, of both symbols too, landed
    assert len(ingest.ticks.items) == 4
    assert response == {"batchItemFailures": [{"itemIdentifier": sequence(event, 2)},
                                              {"itemIdentifier": sequence(event, 3)}]}
    assert {key: [line["symbol"] for line in lines] for key, lines in ingest.raw_objects().items()} == {
        first_day: ["AAPL", "MSFT"]}


def test_a_failed_archive_put_fails_every_record_of_its_batch_and_no_quarantined_one(
    ingest: Ingest, lambda_context: LambdaContext
) -> None:
    # GIVEN S3 refuses the one archive object of the fixture batch (AAPL, a bad AAPL, MSFT)
    ingest.archive.fail_keys = {f"raw-data/dt=2012-11-26/shardId-000000000000-{SEQUENCE_NUMBERS[0]}.jsonl"}

    response = lambda_handler(load_event("kinesis_ticks.json"), lambda_context)

    # THEN both valid records fail, though their items were stored; the quarantined one counts as processed
    assert response == {"batchItemFailures": [{"itemIdentifier": SEQUENCE_NUMBERS[0]},
                                              {"itemIdentifier": SEQUENCE_NUMBERS[2]}]}
    assert sorted(ingest.ticks.items) == [("AAPL", "2012-11-26T21:00:00Z"), ("MSFT", "2012-11-26T21:00:00Z")]
    assert ingest.raw_objects() == {} and len(ingest.rejected_objects()) == 1


def test_a_failed_archive_put_fails_the_records_its_items_superseded(
    ingest: Ingest, lambda_context: LambdaContext
) -> None:
    # GIVEN an AAPL tick, a MSFT tick, and after midnight a correction of the AAPL tick, whose object S3 refuses
    midnight = datetime(2012, 11, 27, tzinfo=timezone.utc).timestamp()
    event = kinesis_event([{**GOOD, "lastPrice": 580.0}, {**GOOD, "symbol": "MSFT"}, GOOD],
                          arrivals=[midnight - 1, midnight - 0.5, midnight + 0.1])
    ingest.archive.fail_keys = {f"raw-data/dt=2012-11-27/shardId-000000000004-{sequence(event, 2)}.jsonl"}

    response = lambda_handler(event, lambda_context)

    # THEN the correction fails and so does the AAPL record it replaced, so the retry starts no later than it;
    # the first day's object holds MSFT alone, the superseded AAPL tick never being archived
    assert response == {"batchItemFailures": [{"itemIdentifier": sequence(event, 0)},
                                              {"itemIdentifier": sequence(event, 2)}]}
    assert {key: [line["symbol"] for line in lines] for key, lines in ingest.raw_objects().items()} == {
        f"raw-data/dt=2012-11-26/shardId-000000000004-{sequence(event, 0)}.jsonl": ["MSFT"]}


def test_a_superseded_record_fails_with_the_record_that_replaced_it(
    ingest: Ingest, lambda_context: LambdaContext
) -> None:
    # GIVEN DynamoDB refuses MSFT, which the batch holds twice
    ingest.ticks.fail_for_symbols = {"MSFT"}
    event = kinesis_event([{**GOOD, "symbol": "MSFT"}, GOOD, {**GOOD, "symbol": "MSFT", "lastPrice": 590.0}])

    response = lambda_handler(event, lambda_context)

    # THEN both MSFT records fail, so the retry starts no later than the first; AAPL landed and is archived
    assert response == {"batchItemFailures": [{"itemIdentifier": sequence(event, 0)},
                                              {"itemIdentifier": sequence(event, 2)}]}
    assert list(ingest.ticks.items) == [("AAPL", "2012-11-26T21:00:00Z")]
    # ... in the batch's object, still named after its first record
    assert {key: [line["symbol"] for line in lines] for key, lines in ingest.raw_objects().items()} == {
        f"raw-data/dt=2012-11-26/shardId-000000000004-{sequence(event, 0)}.jsonl": ["AAPL"]}


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_when_every_write_fails_the_whole_batch_is_retried(ingest: Ingest, lambda_context: LambdaContext) -> None:
    ingest.ticks.fail_for_symbols = {"AAPL"}

    with pytest.raises(BatchProcessingError):
        lambda_handler(kinesis_event(day_ticks("AAPL", range(1, 4))), lambda_context)

    assert ingest.archive.objects == {}


def test_items_dynamodb_leaves_unprocessed_are_retried_then_fail_only_their_records(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> None:
    # GIVEN the real DynamoDB store, whose every answer leaves the MSFT item unprocessed
    ddb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    waits: list[float] = []
    store = DynamoDBTickStore("ticks", client=ddb, backoff=Backoff(retries=3, sleep=waits.append, random=lambda: 1.0))
    monkeypatch.setattr(process_stock_data, "dependencies", lambda: IngestDependencies(
        ticks=store, archive=ingest.archive, raw_prefix="raw-data/", rejected_prefix="rejected/"))
    event = load_event("kinesis_ticks.json")
    msft = {"PutRequest": {"Item": {key: TypeSerializer().serialize(value) for key, value in
                                    enrich(parse_tick(base64.b64decode(event["Records"][2]["kinesis"]["data"]))).items()}}}
    with Stubber(ddb) as stubber:
        stubber.add_response("batch_write_item", {"UnprocessedItems": {"ticks": [msft]}})
        for _ in range(3):
            stubber.add_response("batch_write_item", {"UnprocessedItems": {"ticks": [msft]}},
                                 {"RequestItems": {"ticks": [msft]}})

        # WHEN the handler runs
        response = lambda_handler(event, lambda_context)
        stubber.assert_no_pending_responses()

    # THEN MSFT was retried three times, after growing waits, and then only its record failed
    assert waits == [0.05, 0.1, 0.2]
    assert response == {"batchItemFailures": [{"itemIdentifier": SEQUENCE_NUMBERS[2]}]}
    assert {key: [line["symbol"] for line in lines] for key, lines in ingest.raw_objects().items()} == {
        f"raw-data/dt=2012-11-26/shardId-000000000000-{SEQUENCE_NUMBERS[0]}.jsonl": ["AAPL"]}


def test_a_record_without_shard_or_arrival_time_is_quarantined_under_unknown_today(
    ingest: Ingest, lambda_context: LambdaContext
) -> None:
    event = with_data(load_event("kinesis_ticks.json"), 0, base64.b64encode(b"[]").decode())
    record = event["Records"][0]
    record["eventID"] = "not-a-shard"
    del record["kinesis"]["approximateArrivalTimestamp"]

    lambda_handler(event, lambda_context)

    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert f"rejected/{today}/unknown-{SEQUENCE_NUMBERS[0]}.json" in ingest.archive.objects


def test_dependencies_come_from_the_environment_at_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the variables Terraform sets
    monkeypatch.setenv("TICKS_TABLE", "tickstack-ticks")
    monkeypatch.setenv("ARCHIVE_BUCKET", "tickstack-archive")
    monkeypatch.setenv("RAW_PREFIX", "raw/")
    monkeypatch.setenv("REJECTED_PREFIX", "bad/")
    monkeypatch.setenv("FUTURE_TOLERANCE_SECONDS", "120")
    monkeypatch.setenv("FAULT_INJECTION", "process=0.25")
    process_stock_data.dependencies.cache_clear()
    try:
        # WHEN the dependencies are first asked for
        deps = process_stock_data.dependencies()
    finally:
        process_stock_data.dependencies.cache_clear()

    # THEN they name those resources, and no client exists yet
    assert isinstance(deps.ticks, DynamoDBTickStore) and deps.ticks.table_name == "tickstack-ticks"
    assert isinstance(deps.archive, S3Archive) and deps.archive.bucket == "tickstack-archive"
    assert (deps.raw_prefix, deps.rejected_prefix) == ("raw/", "bad/")
    assert deps.future_tolerance == 120 and deps.faults.share("process") == 0.25
    assert "client" not in vars(deps.ticks) and "client" not in vars(deps.archive)


def test_without_the_variables_the_contract_defaults_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKS_TABLE", "tickstack-ticks")
    monkeypatch.setenv("ARCHIVE_BUCKET", "tickstack-archive")
    for name in ("FUTURE_TOLERANCE_SECONDS", "FAULT_INJECTION"):
        monkeypatch.delenv(name, raising=False)
    process_stock_data.dependencies.cache_clear()
    try:
        deps = process_stock_data.dependencies()
    finally:
        process_stock_data.dependencies.cache_clear()

    assert deps.future_tolerance == 300 and not deps.faults


def test_a_malformed_fault_switch_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKS_TABLE", "tickstack-ticks")
    monkeypatch.setenv("ARCHIVE_BUCKET", "tickstack-archive")
    monkeypatch.setenv("FAULT_INJECTION", "process=lots")
    process_stock_data.dependencies.cache_clear()
    try:
        with pytest.raises(ValueError, match="the share of process is not a number"):
            process_stock_data.dependencies()
    finally:
        process_stock_data.dependencies.cache_clear()


def test_tracing_is_off_outside_lambda() -> None:
    # No X-Ray daemon listens here; Terraform sets POWERTOOLS_TRACE_DISABLED on the emulators too.
    assert process_stock_data.tracer.disabled
