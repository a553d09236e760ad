"""The named archive queries, run in DuckDB (the embedded emulator's Athena engine) over the enriched fixture."""

from __future__ import annotations

import json

import duckdb
import pytest

from producer.recording import read_lines
from stock_pipeline.ticks import enrich, parse_tick, to_archive_json
from tests.conftest import FIXTURE
from tickstack.ops.athena import load_queries

QUERIES = load_queries()


@pytest.fixture(scope="module")
def archive_table(tmp_path_factory):
    """The fixture as the pipeline archives it: one enriched JSON object per file."""
    folder = tmp_path_factory.mktemp("raw-data")
    for number, line in enumerate(read_lines([FIXTURE])):
        (folder / f"{number:04d}.json").write_text(to_archive_json(enrich(parse_tick(line.data))))
    return f"read_json_auto('{folder}/*.json')"


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
