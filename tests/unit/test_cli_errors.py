"""A stack that was deployed but whose emulator no longer answers is reported in one line, not a traceback."""

import json

import pytest
from typer.testing import CliRunner

from tests.conftest import FIXTURE, free_port
from tickstack.cli import app
from tickstack.errors import EmulatorError

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
    monkeypatch.setenv("TARGET", "ministack")


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


# --- the one error boundary ------------------------------------------------------------------------------


@pytest.fixture
def nothing_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("TICKSTACK_HOME", str(tmp_path))
    monkeypatch.setenv("TICKSTACK_PORT", str(free_port()))
    monkeypatch.setenv("TARGET", "ministack")
    monkeypatch.delenv("TICKSTACK_DEBUG", raising=False)


def test_a_user_error_is_one_line_without_a_traceback(nothing_answers):
    result = runner.invoke(app, ["alerts"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.startswith("error: ministack does not answer")


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_debug_shows_the_traceback_behind_the_line(nothing_answers, monkeypatch, how):
    args = ["--debug", "alerts"] if how == "flag" else ["alerts"]
    if how == "environment":
        monkeypatch.setenv("TICKSTACK_DEBUG", "1")
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert isinstance(result.exception, EmulatorError)
    assert "does not answer" in str(result.exception)


def test_a_bug_is_not_dressed_up_as_a_user_error(nothing_answers, monkeypatch):
    from tickstack.cli import stack

    def broken(target):
        raise KeyError("a bug, not something the user can fix")

    monkeypatch.setattr(stack, "describe", broken)
    result = runner.invoke(app, ["status"])
    assert isinstance(result.exception, KeyError)
    assert "error:" not in result.output


def test_version_is_the_installed_distribution():
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"tickstack {version('tickstack')}"
