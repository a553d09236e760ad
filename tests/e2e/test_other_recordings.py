"""Other real recordings than the fixture: the alerts equal an independent SMA-5/SMA-20 computation.

The independent computation is the archive query `sma_crosses` (athena/queries.sql) run in DuckDB straight
over the recordings: window sums in SQL, nothing shared with the trend function's Python.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import pytest

from tickstack.ops import sample_data
from tickstack.ops.alerts import read_alerts
from tickstack.ops.athena import load_queries, run_query
from tickstack.ops.replay import replay, wait_processed

pytestmark = pytest.mark.e2e

# Two years each of two other symbols, replayed together so their ticks interleave on the stream.
RECORDINGS = [("MSFT", date(2010, 1, 4), date(2011, 12, 30)), ("IBM", date(2006, 1, 3), date(2007, 12, 31))]
SYMBOLS = {symbol for symbol, _, _ in RECORDINGS}
FOUR_PLACES = Decimal("0.0001")



def four_places(value) -> str:
    return str(Decimal(str(value)).quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN))


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recordings")
    source = sample_data.source_path()
    paths = []
    for symbol, start, end in RECORDINGS:
        path = folder / f"{symbol.lower()}.jsonl"
        ticks = sample_data.ticks(sample_data.bars(source, symbol), symbol, start, end)
        path.write_text("".join(json.dumps(t) + "\n" for t in ticks))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def independent_crosses(recordings):
    files = ", ".join(f"'{p}'" for p in recordings)
    table = f'(SELECT symbol, "timestamp", lastPrice AS price FROM read_json_auto([{files}], timestampformat=\'%Y-%m-%dT%H:%M:%SZ\'))'
    rows = duckdb.connect().execute(load_queries()["sma_crosses"].for_table(table)).fetchall()
    return [(symbol, ts if isinstance(ts, str) else ts.strftime("%Y-%m-%dT%H:%M:%SZ"), signal, four_places(price),
             four_places(sma5), four_places(sma20))
            for symbol, ts, price, sma5, sma20, signal in rows]


@pytest.fixture(scope="module")
def replayed_others(stack, recordings):
    report = replay(stack, recordings)
    wait_processed(stack, report, timeout=300)
    return report


def test_recordings_hold_crosses_of_both_signals(independent_crosses):
    signals = {(symbol, signal) for symbol, _, signal, *_ in independent_crosses}
    assert signals == {(s, g) for s in SYMBOLS for g in ("GOLDEN_CROSS", "DEATH_CROSS")}


def test_alerts_equal_the_independent_computation(stack, replayed_others, independent_crosses):
    alerts = sorted((a["symbol"], a["timestamp"], a["signal"], four_places(a["price"]), four_places(a["sma5"]), four_places(a["sma20"]))
                    for a in read_alerts(stack) if a["symbol"] in SYMBOLS)
    assert alerts == sorted(independent_crosses)


def test_athena_over_the_archive_finds_the_same_crosses(stack, replayed_others, independent_crosses, said):
    outputs = stack.outputs
    if outputs.get("glue_table") is None:
        # An emulator without Glue and Athena (LocalStack's free tier): bring-up said it switched them off.
        assert any("the Glue table is switched off" in line for line in said)
        return
    query = load_queries()["sma_crosses"].for_table(outputs["glue_table"])
    columns, rows = run_query(stack, query)
    found = sorted(
        (r["symbol"], r["timestamp"].replace(" ", "T").replace("+00:00", "Z"), r["signal"], four_places(r["price"]),
         four_places(r["sma5"]), four_places(r["sma20"]))
        for r in (dict(zip(columns, row)) for row in rows) if r["symbol"] in SYMBOLS)
    assert found == sorted(independent_crosses)
