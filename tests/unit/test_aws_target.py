"""plan, deploy and destroy on the aws target: what runs, in which order, and what is asked first."""

from __future__ import annotations

import io
import json

import pytest
from typer.testing import CliRunner

import tickstack.targets.aws
from tickstack.cli import app
from tickstack.deploy import pipeline
from tickstack.deploy.terraform import Terraform
from tickstack.settings import Settings
from tickstack.targets.aws import Account, Aws, AwsRefused

ACCOUNT = Account("123456789012", "arn:aws:iam::123456789012:user/deployer", "eu-west-1")
OUTPUTS = {
    "region": {"value": "eu-west-1"},
    "stream_name": {"value": "tickstack-dev-ticks"},
    "table_name": {"value": "tickstack-dev-ticks"},
    "bucket_name": {"value": "tickstack-dev-archive-123456789012-eu-west-1"},
    "function_names": {"value": {"process": "tickstack-dev-process", "trend": "tickstack-dev-trend"}},
}


class FakeTerraform:
    """Stands in for the terraform binary: records each command, answers like Terraform would."""

    def __init__(self, changes: bool = True, resources: tuple[str, ...] = ("aws_s3_bucket.archive",)):
        self.changes = changes
        self.state = list(resources)
        self.calls: list[list[str]] = []

    def __call__(self, terraform, args, capture=False, ok_codes=(0,)):
        terraform.prepare_working_dir()
        self.calls.append(list(args))
        if args[0] == "plan" and "-detailed-exitcode" in args:
            out = next(a.split("=", 1)[1] for a in args if a.startswith("-out="))
            open(out, "w").close()
            return (2 if self.changes else 0), ""
        if args[0] == "output":
            return 0, json.dumps(OUTPUTS)
        if args[0] == "state":
            return 0, "\n".join(self.state)
        return 0, ""

    def commands(self) -> list[str]:
        return [" ".join(call[:2]) if call[0] == "workspace" else call[0] for call in self.calls]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def fake(monkeypatch):
    fake = FakeTerraform()
    monkeypatch.setattr(Terraform, "_run", lambda self, args, **kwargs: fake(self, args, **kwargs))
    monkeypatch.setattr(tickstack.targets.aws, "preflight", lambda session_factory: ACCOUNT)
    return fake


@pytest.fixture
def said():
    return []


class Deployment:
    """The aws target driven as the CLI drives it: the shared deploy path, and the target's destroy."""

    def __init__(self, target: Aws, say):
        self.target, self.say = target, say

    def deploy(self) -> dict:
        return pipeline.deploy(self.target, self.say)

    def destroy(self) -> None:
        self.target.destroy(self.say)


@pytest.fixture
def built(monkeypatch):
    """The Lambda package build, recorded instead of run; the functions' readiness wait, skipped."""
    calls = []
    monkeypatch.setattr(pipeline, "build", lambda out: calls.append(out) or "ab" * 32)
    monkeypatch.setattr(pipeline, "wait_functions_active", lambda target, names: None)
    return calls


@pytest.fixture
def target(tmp_path, said, built):
    def make(**kwargs) -> Deployment:
        settings = Settings(home=tmp_path, port=4566, region="us-east-1", name_prefix="tickstack")
        return Deployment(Aws(settings, kwargs.pop("environment", "dev"), **kwargs), said.append)

    return make


def test_deploy_without_a_terminal_shows_the_plan_and_applies_nothing(fake, target, said, tmp_path):
    with pytest.raises(AwsRefused, match="AUTO_APPROVE=1"):
        target(stdin=io.StringIO()).deploy()

    assert fake.commands() == ["init", "workspace select", "plan"]
    assert not list((tmp_path / "aws" / "root").glob("*.tfplan"))


def test_deploy_applies_exactly_the_plan_it_showed_when_auto_approved(fake, target, said, tmp_path):
    outputs = target(auto_approve=True).deploy()

    plan, apply = fake.calls[2], fake.calls[3]
    plan_file = next(a.split("=", 1)[1] for a in plan if a.startswith("-out="))
    assert apply == ["apply", "-input=false", plan_file]
    assert "-var=environment=dev" in plan and "-var=region=eu-west-1" in plan
    assert outputs["stream_name"] == "tickstack-dev-ticks"
    assert json.loads((tmp_path / "aws" / "outputs-dev.json").read_text())["region"] == "eu-west-1"
    assert not list((tmp_path / "aws" / "root").glob("*.tfplan"))
    assert "make destroy-aws ENV=dev" in said[-2]
    assert said[-1].startswith("deployed on aws/dev: stream tickstack-dev-ticks")


def test_deploy_applies_after_a_typed_yes(fake, target):
    target(stdin=Terminal(), ask=lambda prompt: "yes").deploy()
    assert fake.commands()[-2:] == ["apply", "output"]


def test_deploy_with_nothing_to_change_asks_nothing(fake, target, said):
    fake.changes = False
    target(stdin=io.StringIO()).deploy()
    assert "apply" not in fake.commands()
    assert "nothing to apply" in said[-2] and said[-1].startswith("deployed on aws/dev")


def test_local_state_is_announced_with_a_warning_line(fake, target, said, tmp_path):
    target(auto_approve=True).deploy()
    warnings = [line for line in said if line.startswith("warning:")]
    assert len(warnings) == 1
    assert str(tmp_path / "aws" / "terraform.tfstate.d" / "dev" / "terraform.tfstate") in warnings[0]
    assert "TF_BACKEND_CONFIG" in warnings[0]


def test_shared_state_is_named_and_needs_no_warning(fake, target, said, tmp_path):
    config = tmp_path / "s3.hcl"
    config.write_text('bucket = "state"\n')
    target(auto_approve=True, backend_config=config).deploy()
    assert not [line for line in said if line.startswith("warning:")]
    assert any(line.startswith("state: S3 backend") for line in said)
    assert f"-backend-config={config}" in fake.calls[0]


def test_destroy_empties_the_archive_only_after_confirmation(fake, target, said):
    target(stdin=Terminal(), ask=lambda prompt: "yes").destroy()

    assert fake.commands() == ["init", "workspace select", "plan", "state", "apply", "destroy"]
    flip, destroy = fake.calls[4], fake.calls[5]
    assert "-target=aws_s3_bucket.archive" in flip and "-var=archive_force_destroy=true" in flip
    assert "-var=archive_force_destroy=true" in destroy and "-auto-approve" in destroy
    assert any("archive bucket is emptied first" in line for line in said)


def test_destroy_refused_changes_nothing(fake, target):
    with pytest.raises(AwsRefused, match="not confirmed"):
        target(stdin=Terminal(), ask=lambda prompt: "no").destroy()
    assert "apply" not in fake.commands() and "destroy" not in fake.commands()


def test_destroy_of_an_empty_environment_asks_nothing(fake, target, said):
    fake.changes = False
    target(stdin=io.StringIO()).destroy()
    assert fake.commands() == ["init", "workspace select", "plan"]
    assert "nothing to destroy" in said[-1]


def test_a_refused_preflight_runs_nothing(monkeypatch, target, built):
    fake = FakeTerraform()
    monkeypatch.setattr(Terraform, "_run", lambda self, args, **kwargs: fake(self, args, **kwargs))

    def refuse(session_factory):
        raise AwsRefused("no AWS credentials found")

    monkeypatch.setattr(tickstack.targets.aws, "preflight", refuse)
    with pytest.raises(AwsRefused):
        target().deploy()
    assert fake.calls == [] and built == []


@pytest.fixture
def no_aws(no_aws, monkeypatch):
    """The shared machine without AWS configuration, plus a tickstack home and no tickstack settings."""
    tmp_path = no_aws
    monkeypatch.setenv("TICKSTACK_HOME", str(tmp_path / "home"))
    for name in ("TARGET", "BACKEND", "TICKSTACK_ENV", "TF_BACKEND_CONFIG", "AUTO_APPROVE"):
        monkeypatch.delenv(name, raising=False)

    def never(*args, **kwargs):
        raise AssertionError("Terraform must not run")

    monkeypatch.setattr(Terraform, "_run", never)
    return tmp_path


@pytest.mark.parametrize("command", ["plan", "deploy", "destroy"])
def test_cli_refuses_in_one_line_without_credentials(no_aws, command):
    result = CliRunner().invoke(app, [command, "--target", "aws"])

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: no AWS credentials found")
    assert not (no_aws / "home" / "aws").exists()


def test_cli_up_does_not_deploy_to_aws(no_aws):
    result = CliRunner().invoke(app, ["up", "--target", "aws"])
    assert result.exit_code == 1
    assert "make deploy-aws" in result.output


def test_cli_destroy_is_for_the_cloud_only(no_aws):
    result = CliRunner().invoke(app, ["destroy", "--target", "ministack"])
    assert result.exit_code == 1
    assert "ministack is emptied with `tickstack down`" in result.output
