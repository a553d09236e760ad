"""The GitHub Actions workflow, checked by parsing (no actionlint build installs from PyPI offline)."""

from __future__ import annotations

import os
import re
import subprocess

import yaml

from tests.conftest import ROOT

WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "e2e.yml").read_text())
# YAML 1.1 reads the bare key `on` as true.
TRIGGERS = WORKFLOW.get("on", WORKFLOW.get(True))
(JOB,) = WORKFLOW["jobs"].values()
STEPS = JOB["steps"]


def step(action: str) -> dict:
    (found,) = [s for s in STEPS if s.get("uses", "").split("@")[0] == action]
    assert re.fullmatch(r"v\d+", found["uses"].split("@")[1]), found["uses"]
    return found


def test_runs_on_every_push_and_pull_request_on_a_hosted_runner_with_docker():
    assert set(TRIGGERS) == {"push", "pull_request"}
    assert JOB["runs-on"] == "ubuntu-latest"
    assert 0 < JOB["timeout-minutes"] <= 60
    assert WORKFLOW["permissions"] == {"contents": "read"}


def test_checks_out_before_anything_else():
    assert STEPS[0]["uses"].startswith("actions/checkout@")


def test_python_311_with_pip_cached_on_pyproject():
    python = step("actions/setup-python")["with"]
    assert python == {"python-version": "3.11", "cache": "pip", "cache-dependency-path": "pyproject.toml"}
    requires = re.search(r'requires-python = ">=(\d+\.\d+)', (ROOT / "pyproject.toml").read_text()).group(1)
    assert python["python-version"] == requires


def test_terraform_111_without_the_output_wrapper():
    terraform = step("hashicorp/setup-terraform")["with"]
    assert terraform["terraform_version"] == "1.11.x"
    assert terraform["terraform_wrapper"] is False


def test_the_last_step_is_make_e2e():
    assert STEPS[-1]["run"] == "make e2e"
    assert [s for s in STEPS if "run" in s] == [STEPS[-1]]


def make_e2e_dry_run(*args: str) -> str:
    ignored = ("BACKEND", "PYTEST_ARGS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    env = {k: v for k, v in os.environ.items() if k not in ignored}
    result = subprocess.run(["make", "-n", "--no-print-directory", "e2e", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    (pytest_line,) = [line for line in result.stdout.splitlines() if "pytest" in line]
    return pytest_line


def test_make_e2e_runs_every_backend_unless_one_is_asked_for():
    assert make_e2e_dry_run().split()[1:] == ["tests/e2e"]
    assert make_e2e_dry_run("BACKEND=localstack").split()[1:] == ["tests/e2e", "-k", "localstack"]
    assert make_e2e_dry_run("BACKEND=ministack").split()[1:] == ["tests/e2e", "-k", "ministack"]
