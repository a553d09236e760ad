"""The GitHub Actions workflow, checked by parsing (no actionlint build installs from PyPI offline)."""

from __future__ import annotations

import os
import re
import subprocess

import yaml

from tests.conftest import ROOT
from tickstack.settings import Settings
from tickstack.targets.ministack import MiniStack

WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
# YAML 1.1 reads the bare key `on` as true.
TRIGGERS = WORKFLOW.get("on", WORKFLOW.get(True))
(JOB,) = WORKFLOW["jobs"].values()
STEPS = JOB["steps"]
LEGS = {leg["target"]: leg for leg in JOB["strategy"]["matrix"]["include"]}
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def step(action: str) -> dict:
    (found,) = [s for s in STEPS if s.get("uses", "").split("@")[0] == action]
    assert re.fullmatch(r"v\d+", found["uses"].split("@")[1]), found["uses"]
    return found


def expression(value: str) -> str:
    """The expression inside one `${{ ... }}`."""
    match = EXPRESSION.fullmatch(value.strip())
    assert match, value
    return match.group(1)


def test_one_workflow_on_every_push_and_pull_request_on_a_hosted_runner_with_docker():
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == ["ci.yml"]
    assert set(TRIGGERS) == {"push", "pull_request"}
    assert JOB["runs-on"] == "ubuntu-latest"
    assert WORKFLOW["permissions"] == {"contents": "read"}


def test_unit_terraform_checks_and_e2e_each_run_as_a_make_target():
    assert set(LEGS) == {"unit", "lint", "e2e"}
    assert JOB["strategy"]["fail-fast"] is False
    (run,) = [s for s in STEPS if "run" in s and "make" in s["run"]]
    assert run["run"] == "make ${{ matrix.target }}"
    assert JOB["timeout-minutes"] == "${{ matrix.timeout-minutes }}"
    assert all(0 < leg["timeout-minutes"] <= 60 for leg in LEGS.values())


def test_the_make_targets_exist_and_lint_covers_the_terraform_checks():
    makefile = (ROOT / "Makefile").read_text()
    for target in LEGS:
        assert re.search(rf"^{target}:.*## ", makefile, re.MULTILINE), target
    lint = re.search(r"^lint:.*\n\t(.*)", makefile, re.MULTILINE).group(1)
    for check in ("test_terraform_static.py", "test_terraform_test.py", "test_terraform_checkov.py"):
        assert check in lint


def test_checks_out_before_anything_else():
    assert STEPS[0]["uses"].startswith("actions/checkout@")


def test_python_311_with_pip_cached_on_the_dependency_files():
    python = step("actions/setup-python")["with"]
    assert python["python-version"] == "3.11"
    assert python["cache"] == "pip"
    assert python["cache-dependency-path"].split() == ["pyproject.toml", "requirements/dev.lock", "requirements/lint.lock"]
    requires = re.search(r'requires-python = ">=(\d+\.\d+)', (ROOT / "pyproject.toml").read_text()).group(1)
    assert python["python-version"] == requires


def test_terraform_111_without_the_output_wrapper():
    terraform = step("hashicorp/setup-terraform")["with"]
    assert terraform["terraform_version"] == "1.11.x"
    assert terraform["terraform_wrapper"] is False


def test_the_localstack_token_reaches_the_e2e_leg_only():
    token = expression(JOB["env"]["LOCALSTACK_AUTH_TOKEN"])
    assert token == "matrix.target == 'e2e' && secrets.LOCALSTACK_AUTH_TOKEN || ''"
    # No other step or leg mentions a secret.
    text = (WORKFLOWS / "ci.yml").read_text()
    assert text.count("secrets.") == 1


def test_the_terraform_provider_is_cached_in_the_plugin_cache_dir():
    (setup,) = [s for s in STEPS if "TF_PLUGIN_CACHE_DIR=" in s.get("run", "")]
    cache = step("actions/cache")
    assert STEPS.index(setup) < STEPS.index(cache) < STEPS.index(next(s for s in STEPS if "make" in s.get("run", "")))
    directory = re.search(r'TF_PLUGIN_CACHE_DIR=(\S+)"', setup["run"]).group(1)
    assert f'mkdir -p "{directory}"' in setup["run"]
    # Without a committed lock file, Terraform >= 1.4 reads the cache only with this set.
    assert "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE=true" in setup["run"]
    assert cache["with"]["path"] == "${{ env.TF_PLUGIN_CACHE_DIR }}"
    key = cache["with"]["key"]
    assert "hashFiles('terraform/versions.tf', 'terraform/.terraform.lock.hcl')" in key
    assert "runner.os" in key
    assert key.startswith(cache["with"]["restore-keys"].strip().split("${{")[0])


def test_logs_are_uploaded_when_a_leg_fails():
    upload = step("actions/upload-artifact")
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert upload["if"] == "failure()"
    assert STEPS[-1] is upload
    assert "matrix.target" in upload["with"]["name"]  # one artifact per leg: names must not clash
    paths = upload["with"]["path"].split()
    assert paths == [".tickstack/**/*.log", "build/**/*.log", "/tmp/pytest-of-*/**/ministack.log"]
    assert upload["with"]["if-no-files-found"] == "ignore"


def test_the_uploaded_paths_are_where_the_emulator_writes_its_log(monkeypatch):
    monkeypatch.delenv("TICKSTACK_HOME", raising=False)
    settings = Settings.from_env()
    log = MiniStack(settings).log_file

    # `make` runs use the default TICKSTACK_HOME, matched by .tickstack/**/*.log ...
    assert settings.home == ROOT / ".tickstack"
    assert log.is_relative_to(settings.home) and log.suffix == ".log"
    # ... and the e2e fixtures give each target a home under pytest's temporary directories.
    assert log.name == "ministack.log"


def make_dry_run(target: str, *args: str) -> str:
    ignored = ("BACKEND", "PYTEST_ARGS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    env = {k: v for k, v in os.environ.items() if k not in ignored}
    result = subprocess.run(["make", "-n", "--no-print-directory", target, *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    (pytest_line,) = [line for line in result.stdout.splitlines() if "pytest" in line]
    return pytest_line


def test_make_e2e_runs_every_backend_unless_one_is_asked_for():
    assert make_dry_run("e2e").split()[1:] == ["tests/e2e"]
    assert make_dry_run("e2e", "BACKEND=localstack").split()[1:] == ["tests/e2e", "-k", "localstack"]
    assert make_dry_run("e2e", "BACKEND=ministack").split()[1:] == ["tests/e2e", "-k", "ministack"]


def test_make_unit_runs_the_unit_tests():
    assert make_dry_run("unit").split()[1:] == ["tests/unit"]
