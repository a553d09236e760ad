"""The real-AWS target: checks made before Terraform runs, then plan, confirm, apply.

Credentials come from the standard chain (environment, shared files and profiles, SSO, an
instance or task role) and the region from AWS_REGION, AWS_DEFAULT_REGION or the profile. Without
either, the commands refuse in one line before Terraform starts. Every change is shown as a plan
first and applied only after confirmation (or AUTO_APPROVE=1); the plan applied is exactly the
plan shown.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tickstack.deploy.terraform import Terraform, TerraformError
from tickstack.errors import TargetError
from tickstack.settings import Settings
from tickstack.targets.base import Say, Target

Ask = Callable[[str], str]
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
# One Terraform workspace per environment; names carry it (terraform/locals.tf).
ENVIRONMENTS = ("dev", "staging", "prod")
DEFAULT_ENVIRONMENT = "dev"


class AwsRefused(TargetError):
    """Why the aws target will not go ahead, in one line."""


def current_environment() -> str:
    """The environment the commands address: $TICKSTACK_ENV, else dev."""
    return os.environ.get("TICKSTACK_ENV") or DEFAULT_ENVIRONMENT


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


class Aws(Target):
    """One environment of the pipeline in the caller's AWS account.

    Credentials come from the standard chain and the region from AWS_REGION, AWS_DEFAULT_REGION or
    the profile; `prepare` refuses in one line without them. Terraform state is per environment (a
    workspace), local unless an S3 backend is configured. Every change is shown as a plan first and
    applied only after a typed "yes" (or AUTO_APPROVE); the plan applied is exactly the plan shown.
    """

    name = "aws"

    def __init__(
        self,
        settings: Settings,
        environment: str | None = None,
        backend_config: Path | None = None,
        migrate_state: bool = False,
        auto_approve: bool = False,
        stdin: TextIO | None = None,
        ask: Ask = input,
        session_factory: Callable[[], boto3.session.Session] = boto3.session.Session,
    ) -> None:
        super().__init__(settings)
        self.environment = environment or current_environment()
        self.backend_config = backend_config
        self.migrate_state = migrate_state
        self.auto_approve = auto_approve
        self.stdin = stdin
        self.ask = ask
        self.session_factory = session_factory
        self.account: Account | None = None

    @property
    def region(self) -> str:
        if self.account is not None:
            return self.account.region
        # The region the deployment went to, which may have come from a profile rather than the environment.
        if self.outputs_path.exists():
            deployed = json.loads(self.outputs_path.read_text()).get("region")
            if deployed:
                return deployed
        return self.settings.region

    @property
    def outputs_path(self) -> Path:
        return self.home / f"outputs-{self.environment}.json"

    def describe(self) -> dict:
        return {**super().describe(), "environment": self.environment}

    # An AWS deployment is not started or stopped: it is deployed and destroyed.
    def start(self, say: Say) -> None:
        raise TargetError("`up` starts an emulator; to deploy to AWS use `make deploy-aws` "
                          "(tickstack deploy --target aws), which shows the plan first")

    def stop(self, say: Say) -> None:
        raise TargetError("`down` stops an emulator; to remove the cloud deployment use `make destroy-aws`")

    def running(self) -> bool:
        return self.deployed()

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(region_name=self.region)

    def prepare(self, say: Say) -> None:
        check_environment(self.environment)
        self.backend_config = check_backend_config(self.backend_config)
        self.account = preflight(self.session_factory)
        say(f"{self.account.describe()}, environment {self.environment}")

    def terraform_variables(self, say: Say) -> dict[str, str]:
        return {**super().terraform_variables(say), "environment": self.environment}

    def terraform(self, variables: dict[str, str] | None = None) -> Terraform:
        env = dict(os.environ)
        # The provider honours AWS_ENDPOINT_URL*: left over from emulator work, it would send the
        # aws target to an emulator. Real AWS means AWS's own endpoints.
        for name in [n for n in env if n.startswith(ENDPOINT_VARIABLE)]:
            del env[name]
        return Terraform(
            state_dir=self.home,
            outputs_path=self.outputs_path,
            variables=variables or {},
            env=env,
            label=f"aws/{self.environment}",
            workspace=self.environment,
            backend_config=self.backend_config,
            migrate_state=self.migrate_state,
        )

    def init_terraform(self, terraform: Terraform, say: Say) -> None:
        if self.backend_config is None:
            say(
                f"warning: Terraform state for aws/{self.environment} is kept on this machine only "
                f"({terraform.state_path}); for a team, share it on S3 with DynamoDB locking: "
                "TF_BACKEND_CONFIG=terraform/backend-s3.hcl (see terraform/backend-s3.hcl.example)"
            )
        else:
            say(f"state: {terraform.state_location}")
        try:
            terraform.init()
        except TerraformError as exc:
            raise TerraformError(
                f"{exc}; if Terraform says the backend configuration changed, rerun with MIGRATE_STATE=1 "
                "to copy the existing state into the new backend"
            ) from exc

    def apply(self, terraform: Terraform, say: Say) -> dict:
        """Show the plan, ask, and apply exactly that plan."""
        plan_file = terraform.working_dir / f"{self.environment}.tfplan"
        try:
            changes = terraform.plan_to_file(plan_file)
            if not changes:
                say(f"aws/{self.environment} already matches the configuration: nothing to apply")
                return terraform.save_outputs()
            confirm(
                f"Apply this plan to account {self.account.account_id} ({self.account.region}, {self.environment})?",
                self.auto_approve, self.stdin, self.ask,
            )
            outputs = terraform.apply_plan(plan_file)
        finally:
            plan_file.unlink(missing_ok=True)
        say(f"remove it all with `make destroy-aws ENV={self.environment}`")
        return outputs

    def destroy(self, say: Say) -> None:
        self.prepare(say)
        terraform = self.terraform(self.terraform_variables(say))
        self.init_terraform(terraform, say)
        account = self.account
        plan_file = terraform.working_dir / f"{self.environment}-destroy.tfplan"
        try:
            changes = terraform.plan_to_file(plan_file, destroy=True)
        finally:
            plan_file.unlink(missing_ok=True)
        if not changes:
            terraform.outputs_path.unlink(missing_ok=True)
            say(f"nothing is deployed in aws/{self.environment}: nothing to destroy")
            return
        bucket_held = "aws_s3_bucket.archive" in terraform.resources()
        if bucket_held:
            say("the archive bucket is emptied first: every archived tick and every object version goes with it")
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
        say(f"aws/{self.environment} destroyed: nothing of it is left in account {account.account_id}")

    def update_function_code(self, function_names: Iterable[str], zip_file: bytes) -> None:
        raise TargetError("on aws new code goes through Terraform, with the plan shown first: `make deploy-aws` "
                          "(tickstack deploy --target aws); `tickstack dev` updates an emulator's functions")

    def audit_messages(self, queue_url: str) -> None:
        """None: SQS has no peek. A receive hides each message from every other reader of the queue
        for its visibility timeout and counts towards its receive count, so the alerts are read
        from the alerts table instead."""
        return None
