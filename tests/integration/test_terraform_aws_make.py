"""`make plan-aws`, `make deploy-aws` and `make destroy-aws` on a machine without AWS credentials:
one line says why, the exit status is non-zero, and Terraform never starts."""

from __future__ import annotations

import os
import subprocess

import pytest

from tickstack.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def bare_environment(tmp_path):
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("AWS_", "TF_", "TICKSTACK_", "MAKE")) and name not in ("TARGET", "BACKEND", "ENV")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        TICKSTACK_HOME=str(tmp_path / "home"),
    )
    return env


@pytest.mark.parametrize("target", ["plan-aws", "deploy-aws", "destroy-aws"])
def test_make_refuses_cleanly_without_credentials(bare_environment, tmp_path, target):
    result = subprocess.run(["make", "--no-print-directory", "-s", target, "AUTO_APPROVE=1"], cwd=PROJECT_ROOT,
                            env=bare_environment, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            timeout=120, check=False)

    assert result.returncode != 0
    refusal = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(refusal) == 1, result.stderr
    assert refusal[0].startswith("error: no AWS credentials found")
    # Refused before Terraform ran: no working directory, no state, no plan.
    assert not (tmp_path / "home" / "aws").exists()


def test_make_refuses_an_unknown_environment(bare_environment, tmp_path):
    result = subprocess.run(["make", "--no-print-directory", "-s", "plan-aws", "ENV=qa"], cwd=PROJECT_ROOT,
                            env=bare_environment, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            timeout=120, check=False)
    assert result.returncode != 0
    assert "error: unknown environment 'qa'" in result.stderr
    assert not (tmp_path / "home" / "aws").exists()
