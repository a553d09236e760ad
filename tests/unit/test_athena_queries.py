"""The named archive queries, run in DuckDB (the embedded emulator's Athena engine) over the enriched fixture.

The fixture is archived as the process function archives it (ingest_batch.write_batch), twice, as a
replay on another day leaves it: every tick in two JSON Lines objects, under two dt= partitions. The
table reads them as MiniStack's Athena reads the Glue table: read_json_auto with Hive partitioning.
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


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """The archive's folder after the fixture was replayed on two days, in batches of 25."""
    folder = tmp_path_factory.mktemp("raw-data")
    objects = InMemoryArchive()
    items = [enrich(parse_tick(line.data)) for line in read_lines([FIXTURE])]
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


def test_the_archive_holds_every_tick_twice_in_few_objects(archive, archive_table):
    # Two replays of 80 ticks in batches of 25 (4 batches): 8 objects, 160 lines, two days.
    assert len(list(archive.glob("dt=*/*.jsonl"))) == 8
    (row,) = run(f"SELECT COUNT(*) AS lines, COUNT(DISTINCT dt) AS days FROM {archive_table}")
    assert row == {"lines": 160, "days": 2}


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
        ("AAPL", "2012-11-26T21:00:00Z", "GOLDEN_CROSS", "589.5300"),
        ("AAPL", "2012-12-07T21:00:00Z", "DEATH_CROSS", "533.2500"),
    ]


def test_average_volume_counts_every_tick(archive_table):
    (row,) = run(QUERIES["average_volume"].for_table(archive_table))
    volumes = [json.loads(line)["lastVolume"] for line in FIXTURE.read_text().splitlines()]
    assert row["ticks"] == 80
    assert row["avg_volume"] == pytest.approx(sum(volumes) / 80)


def test_anomalies_are_the_moves_beyond_five_percent(archive_table):
    rows = run(QUERIES["anomalies"].for_table(archive_table))
    ticks = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    expected = [t["timestamp"] for t in ticks
                if abs((t["lastPrice"] - t["previousClose"]) / t["previousClose"] * 100) > 5]
    assert [iso(r["timestamp"]) for r in rows] == expected and expected
