"""The named archive queries, run in DuckDB (the embedded emulator's Athena engine) over the enriched fixture.

The fixture, interleaved tick by tick with a copy of it under another symbol (COPY), is archived as the
process function archives it (ingest_batch.write_batch): one JSON Lines object per batch holding both
symbols' ticks, twice, as a replay on another day leaves it: every tick in two objects, under two dt=
partitions. The table reads them as MiniStack's Athena reads the Glue table: read_json_auto with Hive
partitioning. Each query must keep the symbols apart although every object mixes them.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from producer.recording import read_lines
from stock_pipeline.contract import RAW_PREFIX
from stock_pipeline.ingest_batch import Accepted, write_batch
from stock_pipeline.ticks import enrich, parse_tick
from tests.conftest import FIXTURE
from tickstack.ops.athena import load_queries

from .fakes import InMemoryArchive, InMemoryTickStore

QUERIES = load_queries()


BATCH = 25
SYMBOLS = ("AAPL", "COPY")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """The archive's folder after the fixture and its copy were replayed on two days, in batches of 25."""
    folder = tmp_path_factory.mktemp("raw-data")
    objects = InMemoryArchive()
    items = [{**item, "symbol": symbol}
             for item in (enrich(parse_tick(line.data)) for line in read_lines([FIXTURE])) for symbol in SYMBOLS]
    for replay, day in enumerate(("2026-11-24", "2026-11-25")):
        for start in range(0, len(items), BATCH):
            accepted = [Accepted(None, item, "shardId-000000000000", str(10**6 * replay + start + n), day)
                        for n, item in enumerate(items[start:start + BATCH])]
            assert not write_batch(accepted, InMemoryTickStore(), objects, RAW_PREFIX).failed
    for key, body in objects.objects.items():
        path = folder / key.removeprefix(RAW_PREFIX)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return folder


@pytest.fixture(scope="module")
def archive_table(archive):
    return (f"read_json_auto('{archive}/*/*.jsonl', union_by_name = true, hive_partitioning = true, "
            "hive_types = {'dt': VARCHAR})")


def test_the_archive_holds_every_tick_twice_in_one_object_per_batch(archive, archive_table):
    # Two replays of 160 ticks (80 of each symbol) in batches of 25 (7 batches): 14 objects, 320 lines,
    # two days; every object holds both symbols.
    assert len(list(archive.glob("dt=*/*.jsonl"))) == 14
    (row,) = run(f"SELECT COUNT(*) AS lines, COUNT(DISTINCT dt) AS days FROM {archive_table}")
    assert row == {"lines": 320, "days": 2}
    mixed = run(f"SELECT filename, COUNT(DISTINCT symbol) AS symbols FROM read_json_auto('{archive}/*/*.jsonl', "
                "filename = true) GROUP BY filename")
    assert len(mixed) == 14 and {r["symbols"] for r in mixed} == {2}


def iso(value) -> str:
    """DuckDB reads the archive's ISO strings as timestamps (as the emulator's Athena does); compare as ISO text."""
    return value if isinstance(value, str) else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def run(sql):
    connection = duckdb.connect()
    result = connection.execute(sql)
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, row)) for row in result.fetchall()]


def test_queries_file_names_each_query_with_a_description():
    assert set(QUERIES) == {"latest", "top_movers", "average_volume", "anomalies", "sma_crosses"}
    assert all(q.description and "{table}" in q.sql for q in QUERIES.values())


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_query_runs(name, archive_table):
    assert run(QUERIES[name].for_table(archive_table))


def test_sma_crosses_finds_the_fixture_crosses(archive_table):
    rows = run(QUERIES["sma_crosses"].for_table(archive_table))
    assert [(r["symbol"], iso(r["timestamp"]), r["signal"], str(r["price"])) for r in rows] == [
        (symbol, timestamp, signal, price) for symbol in SYMBOLS for timestamp, signal, price in (
            ("2012-11-26T21:00:00Z", "GOLDEN_CROSS", "589.5300"), ("2012-12-07T21:00:00Z", "DEATH_CROSS", "533.2500"))
    ]


def test_average_volume_counts_every_tick(archive_table):
    rows = run(QUERIES["average_volume"].for_table(archive_table))
    volumes = [json.loads(line)["lastVolume"] for line in FIXTURE.read_text().splitlines()]
    assert [row["symbol"] for row in rows] == list(SYMBOLS)
    for row in rows:
        assert row["ticks"] == 80
        assert row["avg_volume"] == pytest.approx(sum(volumes) / 80)


def test_anomalies_are_the_moves_beyond_five_percent(archive_table):
    rows = run(QUERIES["anomalies"].for_table(archive_table))
    ticks = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    expected = [t["timestamp"] for t in ticks
                if abs((t["lastPrice"] - t["previousClose"]) / t["previousClose"] * 100) > 5]
    assert sorted((iso(r["timestamp"]), r["symbol"]) for r in rows) == [
        (timestamp, symbol) for timestamp in expected for symbol in SYMBOLS] and expected
    assert [iso(r["timestamp"]) for r in rows] == sorted(iso(r["timestamp"]) for r in rows)
