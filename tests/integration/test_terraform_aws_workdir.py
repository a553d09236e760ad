"""The real Terraform binary in each target's working directory, offline.

aws and the emulators each get a root of their own (links to terraform/*.tf plus a generated
backend.tf); aws gets one workspace per environment, and the committed S3 backend example is
accepted by Terraform's S3 backend up to the point where it needs credentials.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tickstack.deploy.terraform import TERRAFORM_DIR, TerraformError
from tickstack.settings import Settings
from tickstack.targets.aws import Aws
from tickstack.targets.ministack import MiniStack

pytestmark = pytest.mark.integration

EXAMPLE = TERRAFORM_DIR / "backend-s3.hcl.example"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    # No AWS configuration reaches Terraform, whatever the developer's shell holds.
    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("TF_WORKSPACE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return Settings(home=tmp_path / "home", port=4599, region="eu-west-1", name_prefix="tickstack")


def quiet(terraform):
    terraform.quiet = True
    return terraform


def test_aws_environments_get_workspaces_of_their_own_beside_an_emulator(settings):
    dev = quiet(Aws(settings, environment="dev").terraform())
    dev.init()
    staging = quiet(Aws(settings, environment="staging").terraform())
    staging.init()
    emulator = quiet(MiniStack(settings).terraform())
    emulator.init()

    assert dev.run("workspace", "show", capture=True).strip() == "staging"  # the last one selected
    workspaces = set(re.findall(r"[\w-]+", dev.run("workspace", "list", capture=True)))
    assert {"default", "dev", "staging"} <= workspaces
    assert (settings.home / "aws" / "terraform.tfstate.d" / "dev").is_dir()
    assert (settings.home / "aws" / "terraform.tfstate.d" / "staging").is_dir()
    # The emulator's working data knows nothing of aws's workspaces.
    assert emulator.run("workspace", "show", capture=True).strip() == "default"
    assert not (settings.home / "ministack" / "terraform.tfstate.d").exists()


def test_the_linked_root_validates_for_aws(settings):
    terraform = quiet(Aws(settings, environment="prod").terraform())
    terraform.init()
    assert "The configuration is valid" in terraform.run("validate", "-no-color", capture=True)
    assert Path(os.readlink(terraform.working_dir / "iam.tf")) == TERRAFORM_DIR / "iam.tf"


def test_switching_aws_to_s3_is_stopped_instead_of_starting_from_empty_state(settings):
    quiet(Aws(settings, environment="dev").terraform()).init()
    with pytest.raises(TerraformError, match="Backend configuration changed"):
        quiet(Aws(settings, environment="dev", backend_config=EXAMPLE).terraform()).init()


def test_the_s3_backend_example_is_valid_up_to_needing_credentials(settings):
    # Every key in the example is one Terraform's S3 backend takes: without credentials, init stops
    # at the credential chain, not at the file.
    with pytest.raises(TerraformError) as failed:
        quiet(Aws(settings, environment="dev", backend_config=EXAMPLE).terraform()).init()
    message = str(failed.value)
    assert "No valid credential sources found" in message
    assert "Unsupported argument" not in message
