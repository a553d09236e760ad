"""One deployed pipeline: its backend, its emulator (if any), its Terraform outputs and AWS clients."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import boto3
from botocore.config import Config

from tickstack.ministack import MiniStack
from tickstack.settings import EMULATED, PROJECT_ROOT, Settings
from tickstack.terraform import Terraform, load_outputs

LAMBDA_ZIP = PROJECT_ROOT / "build" / "lambda" / "stock_pipeline.zip"


class NotDeployed(RuntimeError):
    pass


def emulator_for(backend: str, settings: Settings):
    if backend == "ministack":
        return MiniStack(settings)
    if backend == "localstack":
        from tickstack.localstack import LocalStack

        return LocalStack(settings)
    return None


@dataclass
class Stack:
    backend: str
    settings: Settings

    @cached_property
    def emulator(self):
        return emulator_for(self.backend, self.settings)

    @property
    def endpoint(self) -> str | None:
        return self.settings.endpoint if self.backend in EMULATED else None

    def terraform(self, lambda_zip: Path = LAMBDA_ZIP, **kwargs) -> Terraform:
        return Terraform(self.backend, self.settings, lambda_zip, **kwargs)

    @property
    def outputs(self) -> dict:
        outputs = load_outputs(self.settings, self.backend)
        if outputs is None:
            raise NotDeployed(f"nothing is deployed on {self.backend}: run `tickstack up` (or `make up`) first")
        return outputs

    @cached_property
    def session(self) -> boto3.session.Session:
        if self.backend in EMULATED:
            return boto3.session.Session(
                aws_access_key_id="test", aws_secret_access_key="test", region_name=self.settings.region
            )
        return boto3.session.Session(region_name=self.settings.region)

    def client(self, service: str):
        return self.session.client(
            service,
            endpoint_url=self.endpoint,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )
