"""The shared facts: key layouts that round-trip, and names that match what the code writes."""

from __future__ import annotations

import ast
import re
import sys
from datetime import date
from pathlib import Path
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stock_pipeline import contract, trend
from stock_pipeline.contract import (
    ARCHIVE_PARTITION_KEY,
    INGEST_ENV,
    RAW_PREFIX,
    REJECTED_PREFIX,
    TICK_ITEM_FIELDS,
    TREND_ENV,
    ArchiveKey,
    Env,
    PendingCross,
    RejectedKey,
    TickItem,
    TrendStateItem,
    alert_id,
    archive_key,
    parse_archive_key,
    parse_rejected_key,
    rejected_key,
    rejected_sequence_number,
)
from stock_pipeline.lateness import LateWatch
from stock_pipeline.ports import StoredTrendState
from stock_pipeline.ticks import enrich, validate_tick
from stock_pipeline.trend import Cross, TrendState

from .support import raw_tick

TICK = raw_tick()
KINESIS_SEQUENCE = "49656110987463540371012348301245944137756827945386868738"


def test_archive_and_rejected_keys_follow_the_contract() -> None:
    # One object per batch and arrival day: the key names no symbol.
    assert archive_key("raw-data/", "2026-11-25", "shardId-000000000000", "4965") == (
        "raw-data/dt=2026-11-25/shardId-000000000000-4965.jsonl"
    )
    assert archive_key("raw-data/", "2026-11-25", None, "4965") == "raw-data/dt=2026-11-25/unknown-4965.jsonl"
    assert rejected_key("rejected/", "2012-11-26", "shardId-000000000000", "4965") == (
        "rejected/2012-11-26/shardId-000000000000-4965.json"
    )
    assert rejected_key("rejected/", "2012-11-26", None, "4965") == "rejected/2012-11-26/unknown-4965.json"


@pytest.mark.parametrize("shard_id", ["shardId-000000000000", "shardId-000000000012", None])
@pytest.mark.parametrize("prefix", [REJECTED_PREFIX, "bad/", "tickstack/dev/rejected/", ""])
def test_a_rejected_key_gives_back_its_parts(prefix: str, shard_id: str | None) -> None:
    # GIVEN the key a quarantined record was written under
    parts = RejectedKey(prefix, "2012-11-26", shard_id, KINESIS_SEQUENCE)
    key = rejected_key(*parts)

    # WHEN it is read back under the same prefix
    # THEN the parts, and so the sequence number the CLI matches on, come back
    assert parse_rejected_key(key, prefix) == parts
    assert rejected_sequence_number(key, prefix) == KINESIS_SEQUENCE


@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)).map(date.isoformat),
    shard=st.none() | st.integers(min_value=0, max_value=10**12).map(lambda n: f"shardId-{n:012d}"),
    sequence=st.integers(min_value=0, max_value=10**60).map(str),
)
def test_every_rejected_key_round_trips(day: str, shard: str | None, sequence: str) -> None:
    parts = RejectedKey(REJECTED_PREFIX, day, shard, sequence)

    assert parse_rejected_key(rejected_key(*parts)) == parts


@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)).map(date.isoformat),
    shard=st.none() | st.integers(min_value=0, max_value=10**12).map(lambda n: f"shardId-{n:012d}"),
    sequence=st.integers(min_value=0, max_value=10**60).map(str),
    prefix=st.sampled_from([RAW_PREFIX, "ticks/enriched/", ""]),
)
def test_every_archive_key_round_trips(day: str, shard: str | None, sequence: str, prefix: str) -> None:
    parts = ArchiveKey(prefix, day, shard, sequence)

    key = archive_key(*parts)

    assert parse_archive_key(key, prefix) == parts
    # One Hive-style folder, the partition; a file name Athena does not take for hidden.
    folders, name = key[len(prefix):].split("/")[:-1], key.rsplit("/", 1)[1]
    assert folders == [f"{ARCHIVE_PARTITION_KEY}={day}"] and not name.startswith(("_", "."))


@pytest.mark.parametrize(
    "key",
    [
        "raw-data/AAPL/2012-11-26T21:00:00Z.json",
        "raw-data/dt=2026-11-25/",  # a folder marker
        "rejected/2012-11-26/unknown-4965.json",  # another prefix
        "raw-data/dt=2026-11-25/shardId-000000000000-4965.json",  # not JSON Lines
        "raw-data/dt=2026-11-25/x/shardId-0-4965.jsonl",  # a folder below the partition
        "raw-data/2026-11-25/shardId-000000000000-4965.jsonl",  # no dt= partition
        "raw-data/dt=2026-11-25/4965.jsonl",  # no shard part
        "raw-data/dt=2026-11-25/shardId-000000000000-4965_AAPL.jsonl",  # a symbol in the name: not this layout
    ],
)
def test_other_keys_are_no_archive_objects(key: str) -> None:
    assert parse_archive_key(key) is None


@pytest.mark.parametrize(
    "key",
    [
        "raw-data/AAPL/2012-11-26T21:00:00Z.json",  # another prefix
        "rejected/2012-11-26/",  # a folder marker
        "rejected/2012-11-26/shardId-000000000000-4965.txt",
        "rejected/2012-11-26/4965.json",  # no shard part
        "rejected/notes/shardId-000000000000-4965.json",  # no day
        "rejected/2012-11-26/extra/shardId-000000000000-4965.json",
    ],
)
def test_other_keys_have_no_sequence_number(key: str) -> None:
    assert parse_rejected_key(key) is None
    assert rejected_sequence_number(key) is None


def test_a_sequence_number_is_matched_whole_not_as_a_suffix() -> None:
    # The check this replaces, key.endswith(f"-{seq}.json"), took 4965 for a key ending in 14965.
    key = rejected_key(REJECTED_PREFIX, "2012-11-26", "shardId-000000000000", "14965")

    assert rejected_sequence_number(key) == "14965" != "4965"


def test_the_tick_item_fields_are_those_enrich_writes() -> None:
    item = enrich(validate_tick(TICK))

    assert tuple(item) == TICK_ITEM_FIELDS
    assert set(TICK_ITEM_FIELDS) == {value for name, value in vars(TickItem).items() if name.isupper()}
    assert item[TickItem.ANOMALY] in (contract.ANOMALY_YES, contract.ANOMALY_NO)
    assert (contract.TICKS_PARTITION_KEY, contract.TICKS_SORT_KEY) == ("symbol", "timestamp")


def test_the_trend_state_fields_are_those_the_adapter_writes() -> None:
    from stock_pipeline.adapters import state_to_item

    cross = Cross("AAPL", "GOLDEN_CROSS", "2024-03-01T15:23:00Z", Decimal(61), Decimal("36.8"), Decimal("30.95"))
    state = StoredTrendState(
        trend=TrendState("2024-03-01T15:23:00Z", 1, (Decimal(21),)),
        pending=(cross,),
        version=2,
        watch=LateWatch(read_at=1709306581, late_ticks=1, last_late_at=1709306600, late_sequence=41),
    )

    item = state_to_item("AAPL", state, updated_at="2024-03-01T15:23:01Z")

    assert set(item) == {value for name, value in vars(TrendStateItem).items() if name.isupper()}
    written = {value for name, value in vars(PendingCross).items() if name.isupper() and not name.startswith("LEGACY")}
    assert set(item[TrendStateItem.PENDING][0]) == written


def test_the_handlers_read_the_variables_the_contract_names() -> None:
    names = {value for name, value in vars(Env).items() if name.isupper()}

    assert set(INGEST_ENV) | set(TREND_ENV) == names
    assert all(name == value for name, value in vars(Env).items() if name.isupper())


def test_an_alert_id_names_symbol_tick_and_signal() -> None:
    cross = Cross("BRK-B", "DEATH_CROSS", "2024-03-01T15:23:00Z", Decimal(1), Decimal(1), Decimal(2))

    assert alert_id("AAPL", "2012-11-26T21:00:00Z", "GOLDEN_CROSS") == "AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS"
    assert cross.alert_id == "BRK-B-2024-03-01T15:23:00Z-DEATH_CROSS"


def test_trend_uses_the_contract_defaults_and_signals() -> None:
    assert (trend.DEFAULT_SHORT_WINDOW, trend.DEFAULT_LONG_WINDOW) == (5, 20)
    assert (trend.GOLDEN_CROSS, trend.DEATH_CROSS) == contract.SIGNALS


def test_the_contract_imports_only_the_standard_library() -> None:
    # The CLI and the pure modules import it; it must not pull in boto3 or Powertools.
    tree = ast.parse(open(contract.__file__, encoding="utf-8").read())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}

    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


# --- the copies Terraform holds ------------------------------------------------------------------

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"


def terraform_variables() -> dict[str, dict]:
    import hcl2

    options = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
    with (TERRAFORM_DIR / "variables.tf").open() as file:
        blocks = hcl2.load(file, serialization_options=options).get("variable", [])
    return {name: body for block in blocks for name, body in block.items()}


def test_terraforms_tolerance_and_stall_defaults_are_the_contracts() -> None:
    variables = terraform_variables()

    assert variables["future_tolerance_seconds"]["default"] == contract.DEFAULT_FUTURE_TOLERANCE_SECONDS
    assert variables["stalled_after_seconds"]["default"] == contract.DEFAULT_STALLED_AFTER_SECONDS
    assert variables["fault_injection"]["default"] == ""


def test_terraform_accepts_exactly_the_fault_kinds_the_functions_know() -> None:
    (validation, _) = terraform_variables()["fault_injection"]["validation"]
    kinds = re.search(r"\^\(([a-z_|]+)\)=", validation["condition"])

    assert kinds is not None and tuple(kinds.group(1).split("|")) == contract.FAULT_KINDS


def test_terraform_sets_the_variables_the_contract_names() -> None:
    compute = (TERRAFORM_DIR / "compute.tf").read_text()

    for name in (Env.FUTURE_TOLERANCE_SECONDS, Env.STALLED_AFTER_SECONDS, Env.FAULT_INJECTION):
        assert re.search(rf"\b{name}\s*=", compute), name
