"""A stack that was deployed but whose emulator no longer answers is reported in one line, not a traceback."""

import json

import pytest
from typer.testing import CliRunner

from tests.conftest import FIXTURE, free_port
from tickstack.cli import app

runner = CliRunner()


@pytest.fixture
def deployed_but_stopped(tmp_path, monkeypatch):
    (tmp_path / "ministack").mkdir()
    outputs = {name: name for name in ("stream_name", "table_name", "trend_state_table_name", "bucket_name",
                                       "topic_arn", "alert_audit_queue_url", "dashboard_name", "glue_database",
                                       "glue_table")}
    outputs["function_names"] = {"process": "p", "trend": "t"}
    (tmp_path / "ministack" / "outputs.json").write_text(json.dumps(outputs))
    monkeypatch.setenv("TICKSTACK_HOME", str(tmp_path))
    monkeypatch.setenv("TICKSTACK_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setenv("BACKEND", "ministack")


@pytest.mark.parametrize("command", [["alerts"], ["replay", str(FIXTURE)], ["athena", "latest"],
                                     ["produce", "--count", "1"]])
def test_commands_that_need_the_emulator_say_it_is_not_up(deployed_but_stopped, command):
    result = runner.invoke(app, command)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "ministack does not answer at http://127.0.0.1:" in lines[0]
    assert "make up" in lines[0]


def test_status_still_reports_it(deployed_but_stopped):
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["running"] is False
