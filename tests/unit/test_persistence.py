"""A persistent embedded emulator: what `down` keeps, what `--wipe` forgets, and the mapping it restarts."""

from __future__ import annotations

from tests.conftest import ROOT
from tests.unit.test_glue_columns import load
from tickstack.deploy import pipeline
from tickstack.ops.recovery import wake_event
from tickstack.settings import Settings
from tickstack.targets.ministack import PERSIST_VARIABLE, TREND_MAPPING, MiniStack


def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, port=4566, region="us-east-1", name_prefix="tickstack")


def deployed(target: MiniStack) -> None:
    """What a deploy leaves on disk: Terraform state, saved outputs, and MiniStack's saved state."""
    target.home.mkdir(parents=True, exist_ok=True)
    (target.home / "terraform.tfstate").write_text("{}")
    target.outputs_path.write_text("{}")
    target.state_dir.mkdir()
    (target.state_dir / "dynamodb.json").write_text("{}")


def test_persistence_is_asked_for_by_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(PERSIST_VARIABLE, raising=False)
    assert not MiniStack(settings(tmp_path)).keeps_state
    monkeypatch.setenv(PERSIST_VARIABLE, "1")
    assert MiniStack(settings(tmp_path)).keeps_state


def test_down_keeps_what_a_persistent_emulator_saved_and_wipe_forgets_it(tmp_path, monkeypatch):
    monkeypatch.delenv(PERSIST_VARIABLE, raising=False)
    target = MiniStack(settings(tmp_path), persist=True)
    deployed(target)
    target.persist_marker.touch()
    said: list[str] = []

    pipeline.down(target, said.append)
    assert (target.home / "terraform.tfstate").exists() and target.deployed() and target.saved_state()
    # A later command, without the variable, still knows the stack keeps its state.
    assert MiniStack(settings(tmp_path)).keeps_state

    pipeline.down(MiniStack(settings(tmp_path)), said.append, wipe=True)
    assert not (target.home / "terraform.tfstate").exists() and not target.deployed()
    assert not target.saved_state() and not MiniStack(settings(tmp_path)).keeps_state


def test_down_of_an_ordinary_emulator_forgets_its_deployment(tmp_path, monkeypatch):
    monkeypatch.delenv(PERSIST_VARIABLE, raising=False)
    target = MiniStack(settings(tmp_path))
    deployed(target)
    pipeline.down(target, lambda line: None)
    assert not (target.home / "terraform.tfstate").exists() and not target.deployed()


def test_the_mapping_replaced_after_a_restart_is_the_trend_functions():
    kind, name = TREND_MAPPING.split(".")
    resources = load(ROOT / "terraform" / "compute.tf")["resource"]
    mapping = next(block[kind][name] for block in resources if kind in block and name in block[kind])
    assert "aws_dynamodb_table.ticks.stream_arn" in str(mapping["event_source_arn"])
    assert 'this["trend"]' in str(mapping["function_name"])


def test_the_wake_event_names_each_symbol_once_by_its_newest_tick():
    event = wake_event({"MSFT": "2011-12-30T21:00:00Z", "AAPL": "2012-12-28T21:00:00Z"}, "arn:stream", "us-east-1")
    keys = [(r["dynamodb"]["Keys"]["symbol"]["S"], r["dynamodb"]["Keys"]["timestamp"]["S"]) for r in event["Records"]]
    assert keys == [("AAPL", "2012-12-28T21:00:00Z"), ("MSFT", "2011-12-30T21:00:00Z")]
    assert {r["eventName"] for r in event["Records"]} == {"INSERT"}
    assert len({r["eventID"] for r in event["Records"]}) == 2
