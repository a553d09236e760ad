from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from stock_pipeline import process_stock_data
from stock_pipeline.adapters import DynamoDBTickStore, S3Archive
from stock_pipeline.process_stock_data import IngestDependencies, lambda_handler

from .fakes import InMemoryArchive, InMemoryTickStore
from .support import CapturedOutput, LambdaContext, captured, load_event

SEQUENCE_NUMBERS = [
    "49656110987463540371012348301244735211937213316212162562",
    "49656110987463540371012348301245944137756827945386868738",
    "49656110987463540371012348301247153063576442574561574914",
]


@dataclass
class Ingest:
    ticks: InMemoryTickStore
    archive: InMemoryArchive

    def raw_objects(self) -> dict[str, dict[str, Any]]:
        return {k: json.loads(v) for k, v in self.archive.objects.items() if k.startswith("raw-data/")}

    def rejected_objects(self) -> dict[str, dict[str, Any]]:
        return {k: json.loads(v) for k, v in self.archive.objects.items() if k.startswith("rejected/")}


@pytest.fixture
def ingest(monkeypatch: pytest.MonkeyPatch) -> Ingest:
    fakes = Ingest(InMemoryTickStore(), InMemoryArchive())
    deps = IngestDependencies(
        ticks=fakes.ticks, archive=fakes.archive, raw_prefix="raw-data/", rejected_prefix="rejected/"
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
    raw = ingest.raw_objects()
    assert sorted(raw) == ["raw-data/AAPL/2012-11-26T21:00:00Z.json", "raw-data/MSFT/2012-11-26T21:00:00Z.json"]
    assert raw["raw-data/AAPL/2012-11-26T21:00:00Z.json"]["price"] == 589.53

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


def test_a_redelivered_batch_rewrites_the_same_items_and_keys(ingest: Ingest, lambda_context: LambdaContext) -> None:
    lambda_handler(load_event("kinesis_ticks.json"), lambda_context)
    items, keys = dict(ingest.ticks.items), set(ingest.archive.objects)

    response = lambda_handler(load_event("kinesis_ticks.json"), lambda_context)

    assert response == {"batchItemFailures": []}
    assert ingest.ticks.items == items
    assert set(ingest.archive.objects) == keys


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
    assert "client" not in vars(deps.ticks) and "client" not in vars(deps.archive)


def test_tracing_is_off_outside_lambda() -> None:
    # No X-Ray daemon listens here; Terraform sets POWERTOOLS_TRACE_DISABLED on the emulators too.
    assert process_stock_data.tracer.disabled
