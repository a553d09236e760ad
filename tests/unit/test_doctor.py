"""`make check` / `tickstack doctor`: every prerequisite in one pass, on a machine described by a fake.

No check here touches the network or the real Docker: the doctor asks its `Machine` for commands, the
port and the files, and the fake answers. Two tests run the real module, from the standard library
alone, as `make check` does before the venv exists.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, free_port
from tickstack.cli import app
from tickstack.ops import doctor
from tickstack.ops.doctor import FIX, NOTE, OK, Machine, diagnose
from tickstack.settings import Settings

DOCKER_INFO = ("docker", "info", "--format", "{{.ServerVersion}}")
COMPOSE_VERSION = ("docker", "compose", "version", "--short")
COMPOSE_PS = ("docker", "compose", "--project-name", "tickstack", "ps", "--status", "running", "--quiet", "localstack")


class FakeMachine:
    """Builds a doctor.Machine whose commands, port and files are what a test says."""

    def __init__(self, tmp_path: Path, **environ: str):
        self.home = tmp_path / "tickstack-home"
        self.user_home = tmp_path / "user"
        self.user_home.mkdir()
        self.environ = {"TICKSTACK_HOME": str(self.home), "TICKSTACK_PORT": "4566", "PATH": "/usr/bin", **environ}
        self.tools = {"terraform"}
        self.answers: dict[tuple, tuple[int, str]] = {
            ("terraform", "version", "-json"): (0, '{"terraform_version": "1.11.4"}'),
            COMPOSE_VERSION: (0, "2.39.1\n"),
        }
        self.commands: list[tuple] = []
        self.connected: list[tuple[str, int]] = []
        self.listening: set[int] = set()
        self.alive: set[int] = set()
        self.mirror: Path | None = None
        self.python = (3, 11, 7)
        self.platform = "linux_amd64"

    def docker(self, engine: str | None = "28.2.2") -> "FakeMachine":
        self.tools.add("docker")
        self.answers[DOCKER_INFO] = (0, engine + "\n") if engine else (1, "")
        return self

    def with_mirror(self, tmp_path: Path, version: str = "5.100.0", platform: str = "linux_amd64") -> "FakeMachine":
        self.mirror = tmp_path / "mirror"
        (self.mirror / "registry.terraform.io/hashicorp/aws" / version / platform).mkdir(parents=True)
        return self

    def run(self, command, timeout):
        self.commands.append(tuple(command))
        assert timeout <= 20
        return self.answers.get(tuple(command), (1, ""))

    def connects(self, host, port):
        self.connected.append((host, port))
        assert host == "127.0.0.1"  # loopback only, ever
        return port in self.listening

    def build(self) -> Machine:
        return Machine(
            environ=self.environ,
            which=lambda name: f"/usr/bin/{name}" if name in self.tools else None,
            run=self.run,
            connects=self.connects,
            python_version=self.python,
            python_executable="/usr/bin/python3",
            platform=self.platform,
            user_home=self.user_home,
            plugin_dir=lambda: self.mirror,
            pid_alive=lambda pid: pid in self.alive,
            port_owner=lambda port: "pid 4242 (nginx)",
        )

    def report(self, target: str | None = None, install_only: bool = False):
        return diagnose(self.build(), target, install_only)


def by_name(report) -> dict:
    return {check.name: check for check in report.checks}


@pytest.fixture
def fake(tmp_path) -> FakeMachine:
    return FakeMachine(tmp_path)


# --- the report --------------------------------------------------------------------------------------


def test_a_machine_without_docker_is_ready_for_the_embedded_emulator(fake, tmp_path):
    report = fake.with_mirror(tmp_path).report()

    assert report.exit_code == 0
    assert (report.target, report.reason) == ("ministack", "no Docker engine answers, so the embedded emulator")
    checks = by_name(report)
    assert [checks[n].status for n in ("python", "terraform", "providers", "port")] == [OK, OK, OK, OK]
    assert checks["docker"].status == FIX and checks["docker"].blocks == ("localstack",)
    assert checks["aws"].status == FIX and checks["aws"].blocks == ("aws",)
    assert report.lines()[-1] == ("ready for ministack (no Docker engine answers, so the embedded emulator); "
                                  "aws, localstack need the fixes above")


def test_one_line_per_check_each_ok_note_or_fix_then_a_summary(fake):
    lines = fake.report().lines()
    assert len(lines) == len(fake.report().checks) + 1
    for line in lines[:-1]:
        name, status = line.split()[:2]
        assert status in ("ok", "note:", "fix:"), line
    fixes = [line for line in lines if " fix: " in line]
    assert fixes and all(line.endswith(" only)") for line in fixes)  # each says which target it concerns


def test_python_bounds_come_from_pyproject(fake):
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert doctor.requires_python(ROOT) == spec
    assert f"supported: {spec}" in by_name(fake.report())["python"].text
    for version, status in [((3, 10, 12), FIX), ((3, 11, 0), OK), ((3, 13, 9), OK), ((3, 14, 0), FIX)]:
        fake.python = version
        assert by_name(fake.report())["python"].status == status, version


def test_an_unsupported_python_blocks_every_target_and_the_install(fake):
    fake.python = (3, 10, 12)
    for target in ("ministack", "localstack", "aws"):
        assert fake.report(target).exit_code == 1
    report = fake.report(install_only=True)
    assert report.exit_code == 1
    assert report.lines()[-1] == "not ready to install: fix python first"
    assert "PYTHON=python3.12" in by_name(report)["python"].text


def test_terraform_missing_or_older_than_versions_tf_requires(fake):
    assert doctor.required_terraform(ROOT) == ">= 1.9"
    fake.answers[("terraform", "version", "-json")] = (0, '{"terraform_version": "1.8.5"}')
    check = by_name(fake.report())["terraform"]
    assert (check.status, check.text) == (FIX, "Terraform 1.8.5 is too old: install Terraform >= 1.9")
    fake.tools.discard("terraform")
    report = fake.report()
    assert by_name(report)["terraform"].text.startswith("terraform is not on PATH")
    assert report.exit_code == 1 and report.lines()[-1].endswith("fix terraform first")


def test_without_a_mirror_init_needs_the_network_and_nothing_is_probed(fake):
    check = by_name(fake.report())["providers"]
    assert check.status == NOTE
    assert "terraform init will download hashicorp/aws from registry.terraform.io (needs network)" in check.text
    # Only local commands ran, and only loopback was tried.
    assert {command[0] for command in fake.commands} <= {"terraform", "docker"}
    assert all(host == "127.0.0.1" for host, _ in fake.connected)


def test_a_mirror_without_this_platform_or_the_locked_version_is_a_fix(fake, tmp_path, monkeypatch):
    fake.with_mirror(tmp_path, platform="darwin_arm64")
    check = by_name(fake.report())["providers"]
    assert check.status == FIX and "linux_amd64" in check.text
    lock = tmp_path / ".terraform.lock.hcl"
    lock.write_text('provider "registry.terraform.io/hashicorp/aws" {\n  version     = "5.100.0"\n'
                    '  constraints = "~> 5.100"\n  hashes = [\n    "zh:0123",\n  ]\n}\n')
    monkeypatch.setattr(doctor, "TERRAFORM_LOCK_FILE", lock)
    fake.with_mirror(tmp_path / "other", version="5.99.0")
    assert "pins" in by_name(fake.report())["providers"].text


def test_a_lock_made_from_a_mirror_is_noted_where_no_mirror_serves_it(fake, tmp_path, monkeypatch):
    lock = tmp_path / ".terraform.lock.hcl"
    lock.write_text('provider "registry.terraform.io/hashicorp/aws" {\n  version     = "5.100.0"\n'
                    '  constraints = "~> 5.100"\n  hashes = [\n    "h1:abc=",\n  ]\n}\n')
    monkeypatch.setattr(doctor, "TERRAFORM_LOCK_FILE", lock)
    fake.platform = "darwin_arm64"
    check = by_name(fake.report())["tf-lock"]
    assert check.status == NOTE and "make lock-terraform" in check.text and "darwin_arm64" in check.text
    lock.write_text(lock.read_text().replace('"h1:abc=",', '"h1:abc=",\n    "zh:0123",'))
    assert by_name(fake.report())["tf-lock"].status == OK


# --- Docker and the target it implies ---------------------------------------------------------------


def test_where_docker_answers_localstack_is_the_default_and_ready(fake):
    fake.docker()
    fake.answers[("docker", "image", "inspect", "--format", "{{.Id}}", "localstack/localstack:4.14.0")] = (0, "sha\n")
    report = fake.report()
    assert (report.target, report.reason) == ("localstack", "a Docker engine answers")
    checks = by_name(report)
    assert (checks["docker"].status, checks["compose"].status, checks["image"].status) == (OK, OK, OK)
    assert report.exit_code == 0


def test_a_docker_client_without_engine_blocks_localstack_only(fake):
    fake.docker(engine=None)
    report = fake.report("localstack")
    assert report.exit_code == 1
    assert "no Docker engine answers" in by_name(report)["docker"].text
    assert report.lines()[-1] == "not ready for localstack (asked for): fix docker first"
    assert fake.report("ministack").exit_code == 0


def test_compose_v1_or_none_is_a_fix_for_localstack(fake):
    fake.docker()
    fake.answers[COMPOSE_VERSION] = (1, "")
    check = by_name(fake.report())["compose"]
    assert check.status == FIX and "Compose v2" in check.text and check.blocks == ("localstack",)


def test_an_image_not_pulled_yet_is_a_note_about_the_first_run(fake):
    fake.docker()
    fake.environ["LOCALSTACK_IMAGE"] = "localstack/localstack:latest"
    check = by_name(fake.report())["image"]
    assert check.status == NOTE and "`docker pull localstack/localstack:latest`" in check.text


def test_the_target_comes_from_target_then_the_stack_up_then_docker(fake):
    fake.home.mkdir()
    (fake.home / "current-target").write_text("aws\n")
    assert fake.report().target == "aws"
    fake.environ["TARGET"] = "localstack"
    assert (fake.report().target, fake.report().reason) == ("localstack", "asked for")
    assert fake.report("ministack").target == "ministack"


def test_an_unknown_target_is_one_fix(fake):
    fake.environ["TARGET"] = "azure"
    report = fake.report()
    assert report.exit_code == 1
    assert report.lines() == ["target     fix: unknown target 'azure': choose one of ministack, localstack, aws",
                              "not ready for azure (asked for): fix target first"]


# --- the port ---------------------------------------------------------------------------------------


def test_a_foreign_program_on_the_port_blocks_the_emulators_and_is_named(fake):
    fake.listening.add(4566)
    report = fake.report("ministack")
    check = by_name(report)["port"]
    assert check.status == FIX and check.blocks == ("ministack", "localstack")
    assert "taken by pid 4242 (nginx), not by tickstack" in check.text and "TICKSTACK_PORT=4567" in check.text
    assert report.exit_code == 1
    assert fake.report(install_only=True).exit_code == 0  # installing needs no port


def test_the_port_held_by_our_ministack_is_fine_for_ministack_not_for_localstack(fake):
    fake.listening.add(4566)
    (fake.home / "ministack").mkdir(parents=True)
    (fake.home / doctor.MINISTACK_PID_FILE).write_text("777\n")
    fake.alive.add(777)
    check = by_name(fake.report("ministack"))["port"]
    assert (check.status, check.text) == (OK, "127.0.0.1:4566 is held by our MiniStack: `make down` stops it")
    check = by_name(fake.report("localstack"))["port"]
    assert check.status == FIX and "`make down` first" in check.text and check.blocks == ("localstack",)


def test_the_port_held_by_our_compose_localstack(fake):
    fake.docker()
    fake.listening.add(4566)
    fake.answers[COMPOSE_PS] = (0, "3f2a9c\n")
    check = by_name(fake.report("localstack"))["port"]
    assert check.status == OK and "our LocalStack" in check.text


def test_the_port_is_tickstack_port(fake):
    fake.environ["TICKSTACK_PORT"] = "4599"
    fake.listening.add(4566)
    assert by_name(fake.report())["port"].text == "127.0.0.1:4599 is free"


# --- AWS credentials, looked for without boto3 and without asking AWS --------------------------------


def test_no_credentials_blocks_the_aws_target_only(fake):
    report = fake.report("aws")
    assert report.exit_code == 1 and by_name(report)["aws"].text.startswith("no AWS credentials")
    assert fake.report("ministack").exit_code == 0


def test_credentials_from_the_environment_need_a_region(fake):
    fake.environ.update(AWS_ACCESS_KEY_ID="AKIA", AWS_SECRET_ACCESS_KEY="secret")
    check = by_name(fake.report("aws"))["aws"]
    assert check.status == FIX and "set AWS_REGION" in check.text
    fake.environ["AWS_REGION"] = "eu-west-1"
    report = fake.report("aws")
    assert by_name(report)["aws"].text.startswith("credentials from AWS_ACCESS_KEY_ID in the environment, region eu-west-1")
    assert report.exit_code == 0


def test_a_profile_in_the_aws_files(fake):
    aws = fake.user_home / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text("[work]\naws_access_key_id = AKIA\naws_secret_access_key = s\n")
    (aws / "config").write_text("[profile work]\nregion = eu-central-1\n")
    fake.environ["AWS_PROFILE"] = "work"
    check = by_name(fake.report("aws"))["aws"]
    assert (check.status, check.text.split(" (")[0]) == (OK, "credentials from profile work, region eu-central-1")


def test_an_sso_profile_counts(fake):
    aws = fake.user_home / ".aws"
    aws.mkdir()
    (aws / "config").write_text("[default]\nsso_session = corp\nregion = us-east-1\n")
    assert by_name(fake.report("aws"))["aws"].status == OK


def test_an_endpoint_override_blocks_the_aws_target(fake):
    fake.environ.update(AWS_ACCESS_KEY_ID="AKIA", AWS_SECRET_ACCESS_KEY="s", AWS_REGION="us-east-1",
                        AWS_ENDPOINT_URL="http://127.0.0.1:4566")
    check = by_name(fake.report("aws"))["aws"]
    assert check.status == FIX and "AWS_ENDPOINT_URL is set" in check.text


# --- the copies of facts the doctor cannot import (their modules need boto3) -------------------------


def test_the_doctor_agrees_with_the_targets_it_describes(tmp_path):
    from tickstack.targets import choice, localstack
    from tickstack.targets.ministack import MiniStack

    settings = Settings(home=tmp_path, port=4566, region="us-east-1", name_prefix="t")
    assert doctor.TARGETS == tuple(choice.TARGETS)
    assert doctor.TARGET_VARIABLES == choice.TARGET_VARIABLES
    assert choice._marker(settings) == settings.home / doctor.CURRENT_TARGET_FILE
    assert MiniStack(settings).pid_file == settings.home / doctor.MINISTACK_PID_FILE
    assert doctor.COMPOSE_PROJECT == localstack.COMPOSE_PROJECT
    assert doctor.DEFAULT_LOCALSTACK_IMAGE == localstack.DEFAULT_IMAGE


# --- run for real: standard library only, as `make check` runs it --------------------------------------


def bare_run(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """The module on this interpreter without site-packages (-S): what a machine without the venv has."""
    env = {**os.environ, "TICKSTACK_HOME": "/nonexistent/tickstack-home", "TICKSTACK_PORT": str(free_port()),
           "TARGET": "ministack", **(env_extra or {})}
    return subprocess.run([sys.executable, "-S", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False, stdin=subprocess.DEVNULL)


def test_the_doctor_runs_from_the_standard_library_alone():
    result = bare_run("-m", "tickstack.ops.doctor")
    assert "ModuleNotFoundError" not in result.stderr, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines[:-1]] == [
        "python", "terraform", "providers", "tf-lock", "docker", "compose", "image", "port", "aws"]
    assert result.returncode == (0 if lines[-1].startswith("ready for ministack") else 1), result.stdout


def test_make_check_is_the_doctor_on_make_s_python():
    result = subprocess.run(["make", "--no-print-directory", "-s", "check", f"PYTHON={sys.executable} -S"], cwd=ROOT,
                            env={**os.environ, "TICKSTACK_PORT": str(free_port()), "TARGET": "ministack"},
                            capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
    assert result.stdout.splitlines()[0].startswith("python     ok   Python"), result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("ready for ministack"), result.stdout


# --- tickstack doctor ---------------------------------------------------------------------------------


def test_tickstack_doctor_prints_the_same_lines_and_exits_like_make_check(fake, monkeypatch):
    import tickstack.cli.doctor as cli_doctor

    monkeypatch.setattr(cli_doctor, "diagnose", lambda target=None: fake.report(target))
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == fake.report().lines()

    result = CliRunner().invoke(app, ["doctor", "--target", "aws"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "not ready for aws (asked for): fix aws first"
