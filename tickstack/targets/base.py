"""What every target is: where the pipeline runs, how to reach it, and how Terraform deploys onto it.

A target owns everything that differs between the embedded emulator, LocalStack and AWS:
starting and stopping, the endpoint and the AWS session, the Terraform variables, state and
environment, readiness, the apply step, and how the alerts are read. Callers ask the target;
none of them compares a target's name.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Callable, ClassVar

import boto3
from botocore.config import Config

from tickstack.deploy.package import LAMBDA_ZIP
from tickstack.deploy.terraform import Terraform
from tickstack.errors import EmulatorError, NotDeployed, TargetError
from tickstack.settings import Settings

Say = Callable[[str], None]
CLIENT_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30)
# How often an updated function is asked whether it runs the new code yet, and for how long at most.
CODE_UPDATE_POLL_SECONDS = 0.1
CODE_UPDATE_TIMEOUT_SECONDS = 60


class Target(ABC):
    """One place the pipeline can be deployed to."""

    name: ClassVar[str]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # --- where it lives -------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        """This target's own directory: Terraform state and working data, logs, pid files."""
        return self.settings.home / self.name

    @property
    def endpoint(self) -> str | None:
        """The URL every AWS call goes to; None for AWS's own endpoints."""
        return None

    @property
    def region(self) -> str:
        return self.settings.region

    # --- lifecycle ------------------------------------------------------------------------------------
    @abstractmethod
    def start(self, say: Say) -> None:
        """Make the target answer (an emulator started afresh also forgets its old Terraform state)."""

    @abstractmethod
    def stop(self, say: Say) -> None:
        """Stop the target; what was deployed on an emulator goes with it."""

    @abstractmethod
    def running(self) -> bool: ...

    def healthy(self) -> bool:
        return True

    @property
    def keeps_state(self) -> bool:
        """True when what is deployed survives `stop` (so its Terraform state must be kept too)."""
        return False

    def wipe(self, say: Say) -> None:
        """Forget whatever a stopped target kept (nothing, unless it keeps state)."""

    def require_running(self) -> None:
        """Raise a one-line error unless the target answers."""

    def describe(self) -> dict:
        """What `tickstack status` says of the target before the resources."""
        return {"target": self.name, "region": self.region}

    # --- AWS access -----------------------------------------------------------------------------------
    def session(self) -> boto3.session.Session:
        return boto3.session.Session(region_name=self.region)

    def client(self, service: str):
        return self.session().client(service, endpoint_url=self.endpoint, config=CLIENT_CONFIG)

    # --- deployment -----------------------------------------------------------------------------------
    def prepare(self, say: Say) -> None:
        """Checks made before Terraform runs; refuse in one line when something blocks the deploy."""

    def terraform_variables(self, say: Say) -> dict[str, str]:
        return {
            "target": self.name,
            "region": self.region,
            "name_prefix": self.settings.name_prefix,
            "lambda_zip_path": str(LAMBDA_ZIP),
        }

    @abstractmethod
    def terraform(self, variables: dict[str, str] | None = None) -> Terraform: ...

    def init_terraform(self, terraform: Terraform, say: Say) -> None:
        terraform.init()

    def apply(self, terraform: Terraform, say: Say) -> dict:
        """Apply the configuration and return the outputs; the AWS target shows a plan and asks first."""
        return terraform.apply()

    def destroy(self, say: Say) -> None:
        raise TargetError(f"`destroy` removes a cloud deployment; {self.name} is emptied with `tickstack down`")

    @property
    def outputs_path(self) -> Path:
        return self.home / "outputs.json"

    @property
    def outputs(self) -> dict:
        if not self.outputs_path.exists():
            raise NotDeployed(f"nothing is deployed on {self.name}: run `tickstack up` (or `make up`) first")
        return json.loads(self.outputs_path.read_text())

    def deployed(self) -> bool:
        return self.outputs_path.exists()

    # --- reading what the pipeline did ----------------------------------------------------------------
    @abstractmethod
    def audit_messages(self, queue_url: str) -> list[dict] | None:
        """Messages in the alert-audit queue, read without consuming them; None where that cannot be done.

        `read_alerts` counts an alert's deliveries here when it can, else takes the alerts table's
        publish count.
        """


class EmulatorTarget(Target):
    """A target that runs on this machine and answers on a loopback endpoint."""

    product: ClassVar[str]

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint

    def require_running(self) -> None:
        if not self.healthy():
            raise EmulatorError(f"{self.name} does not answer at {self.endpoint}: `make up` (or `tickstack up`) "
                                "starts it and deploys the pipeline")

    def describe(self) -> dict:
        return {**super().describe(), "endpoint": self.endpoint, "running": self.running()}

    def session(self) -> boto3.session.Session:
        # Emulators accept any credentials; a real profile never leaks into local work.
        return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=self.region)

    def terraform_variables(self, say: Say) -> dict[str, str]:
        return {**super().terraform_variables(say), "endpoint_url": self.endpoint}

    def terraform(self, variables: dict[str, str] | None = None) -> Terraform:
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        return Terraform(
            state_dir=self.home,
            outputs_path=self.outputs_path,
            variables=variables or {},
            env=env,
            label=self.name,
            # The emulator's state directory is the only one it ever had: re-pointing is always safe.
            reconfigure=True,
        )

    def forget_deployment(self) -> None:
        """Drop local state of an emulator whose resources died with it."""
        self.terraform().forget_state()

    def update_function_code(self, function_names: Iterable[str], zip_file: bytes) -> None:
        """Put `zip_file` into the deployed functions directly, no Terraform, and wait until each runs it.

        For `tickstack dev`; configuration still goes through Terraform. With no names, only
        confirms that this target takes code this way (the aws target refuses).
        """
        names = list(function_names)
        if not names:
            return
        lambda_client = self.client("lambda")
        for name in names:  # every update first, then the waits: the functions restart side by side
            lambda_client.update_function_code(FunctionName=name, ZipFile=zip_file)
        waiter = lambda_client.get_waiter("function_updated_v2")
        for name in names:
            waiter.wait(FunctionName=name, WaiterConfig={
                "Delay": CODE_UPDATE_POLL_SECONDS,
                "MaxAttempts": round(CODE_UPDATE_TIMEOUT_SECONDS / CODE_UPDATE_POLL_SECONDS)})
