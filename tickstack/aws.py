"""The real-AWS target: checks made before Terraform runs, then plan, confirm, apply.

Credentials come from the standard chain (environment, shared files and profiles, SSO, an
instance or task role) and the region from AWS_REGION, AWS_DEFAULT_REGION or the profile. Without
either, the commands refuse in one line before Terraform starts. Every change is shown as a plan
first and applied only after confirmation (or AUTO_APPROVE=1); the plan applied is exactly the
plan shown.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tickstack.settings import Settings
from tickstack.terraform import ENVIRONMENTS, Terraform, TerraformError

Say = Callable[[str], None]
Ask = Callable[[str], str]
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"


class AwsRefused(RuntimeError):
    """Why the aws target will not go ahead, in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(" ".join(reason.split()))


@dataclass(frozen=True)
class Account:
    account_id: str
    caller_arn: str
    region: str

    def describe(self) -> str:
        return f"AWS account {self.account_id} as {self.caller_arn}, region {self.region}"


def endpoint_overrides(environ: dict[str, str] | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    return sorted(name for name, value in environ.items() if name.startswith(ENDPOINT_VARIABLE) and value)


def resolve_region(session: boto3.session.Session, environ: dict[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or session.region_name


def preflight(session_factory: Callable[[], boto3.session.Session] = boto3.session.Session) -> Account:
    """The account and region the aws target would change, or AwsRefused before anything runs."""
    overrides = endpoint_overrides()
    if overrides:
        raise AwsRefused(
            f"{', '.join(overrides)} is set, which would send AWS calls to an emulator: unset it for the aws target"
        )
    try:
        session = session_factory()
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        raise AwsRefused(f"cannot read the AWS configuration: {exc}") from exc
    if credentials is None:
        raise AwsRefused(
            "no AWS credentials found (environment, ~/.aws profiles, SSO or an instance role); "
            "configure some, e.g. `aws configure` or AWS_PROFILE=name, and retry: nothing was run"
        )
    region = resolve_region(session)
    if not region:
        raise AwsRefused("no AWS region: set AWS_REGION (or a region in your AWS profile) and retry: nothing was run")
    try:
        sts = session.client("sts", region_name=region, config=Config(retries={"max_attempts": 2, "mode": "standard"}))
        identity = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        raise AwsRefused(f"AWS credentials were found but do not work ({exc}): nothing was run") from exc
    return Account(identity["Account"], identity["Arn"], region)


def check_environment(environment: str) -> str:
    if environment not in ENVIRONMENTS:
        raise AwsRefused(f"unknown environment {environment!r}: ENV must be one of {', '.join(ENVIRONMENTS)}")
    return environment


def check_backend_config(path: Path | None) -> Path | None:
    if path is None:
        return None
    if not path.is_file():
        raise AwsRefused(f"backend config {path} does not exist: copy terraform/backend-s3.hcl.example and fill it in")
    return path.resolve()


def confirm(question: str, auto_approve: bool, stdin: TextIO | None = None, ask: Ask = input) -> None:
    """Go ahead only on AUTO_APPROVE or a typed 'yes'; with nobody to ask, refuse rather than wait."""
    if auto_approve:
        return
    stdin = sys.stdin if stdin is None else stdin
    if stdin is None or stdin.closed or not stdin.isatty():
        raise AwsRefused("no terminal to confirm on: rerun with AUTO_APPROVE=1 to apply unattended; nothing was changed")
    try:
        answer = ask(f"{question} Only 'yes' goes ahead: ")
    except EOFError:
        answer = ""
    if answer.strip() != "yes":
        raise AwsRefused("not confirmed: nothing was changed")


@dataclass
class AwsTarget:
    """One environment of the pipeline in the caller's AWS account."""

    settings: Settings
    environment: str
    say: Say
    backend_config: Path | None = None
    migrate_state: bool = False
    auto_approve: bool = False
    stdin: TextIO | None = None
    ask: Ask = input
    session_factory: Callable[[], boto3.session.Session] = boto3.session.Session
    build: Callable[[], str] | None = None
    """Builds the Lambda package and returns its SHA-256; the very package the e2e tests deploy."""

    def _prepare(self) -> tuple[Account, Terraform]:
        check_environment(self.environment)
        backend_config = check_backend_config(self.backend_config)
        account = preflight(self.session_factory)
        self.say(f"{account.describe()}, environment {self.environment}")
        settings = dataclasses.replace(self.settings, region=account.region)
        terraform = Terraform(
            "aws",
            settings,
            _lambda_zip(),
            environment=self.environment,
            backend_config=backend_config,
            migrate_state=self.migrate_state,
        )
        if backend_config is None:
            self.say(
                f"warning: Terraform state for aws/{self.environment} is kept on this machine only "
                f"({terraform.state_path}); for a team, share it on S3 with DynamoDB locking: "
                "TF_BACKEND_CONFIG=terraform/backend-s3.hcl (see terraform/backend-s3.hcl.example)"
            )
        else:
            self.say(f"state: {terraform.state_location}")
        digest = (self.build or _build_lambda_zip)()
        self.say(f"Lambda package built: sha256 {digest[:12]}, the package the end-to-end tests deploy")
        try:
            terraform.init()
        except TerraformError as exc:
            raise TerraformError(
                f"{exc}; if Terraform says the backend configuration changed, rerun with MIGRATE_STATE=1 "
                "to copy the existing state into the new backend"
            ) from exc
        return account, terraform

    def plan(self) -> None:
        _, terraform = self._prepare()
        terraform.plan()

    def deploy(self) -> dict:
        account, terraform = self._prepare()
        plan_file = terraform.working_dir / f"{self.environment}.tfplan"
        try:
            changes = terraform.plan_to_file(plan_file)
            if not changes:
                self.say(f"aws/{self.environment} already matches the configuration: nothing to apply")
                return terraform.save_outputs()
            confirm(
                f"Apply this plan to account {account.account_id} ({account.region}, {self.environment})?",
                self.auto_approve, self.stdin, self.ask,
            )
            outputs = terraform.apply_plan(plan_file)
        finally:
            plan_file.unlink(missing_ok=True)
        self.say(
            f"deployed aws/{self.environment}: stream {outputs['stream_name']}, table {outputs['table_name']}, "
            f"bucket {outputs['bucket_name']}; remove it all with `make destroy-aws ENV={self.environment}`"
        )
        return outputs

    def destroy(self) -> None:
        account, terraform = self._prepare()
        plan_file = terraform.working_dir / f"{self.environment}-destroy.tfplan"
        try:
            changes = terraform.plan_to_file(plan_file, destroy=True)
        finally:
            plan_file.unlink(missing_ok=True)
        if not changes:
            terraform.outputs_path.unlink(missing_ok=True)
            self.say(f"nothing is deployed in aws/{self.environment}: nothing to destroy")
            return
        bucket_held = "aws_s3_bucket.archive" in terraform.resources()
        if bucket_held:
            self.say("the archive bucket is emptied first: every archived tick and every object version goes with it")
        confirm(
            f"Destroy everything above in account {account.account_id} ({account.region}, {self.environment})?",
            self.auto_approve, self.stdin, self.ask,
        )
        force = "-var=archive_force_destroy=true"
        if bucket_held:
            # force_destroy lives in Terraform's state and is read at destroy time, so it is recorded
            # first; it changes nothing in AWS.
            terraform.run("apply", "-input=false", "-auto-approve", "-target=aws_s3_bucket.archive",
                          *terraform.var_args(), force)
        terraform.destroy(force)
        self.say(f"aws/{self.environment} destroyed: nothing of it is left in account {account.account_id}")


def _lambda_zip() -> Path:
    from tickstack.stack import LAMBDA_ZIP

    return LAMBDA_ZIP


def _build_lambda_zip() -> str:
    from tickstack.lifecycle import build_lambda_zip

    return build_lambda_zip()
