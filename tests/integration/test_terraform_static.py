"""The Terraform root is formatted and valid, checked offline with the real provider."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tickstack.deploy.terraform import TERRAFORM_DIR, plugin_dir

pytestmark = pytest.mark.integration


def terraform(*args, data_dir, check=True):
    env = {**os.environ, "TF_DATA_DIR": str(data_dir), "TF_IN_AUTOMATION": "1"}
    return subprocess.run([shutil.which("terraform"), f"-chdir={TERRAFORM_DIR}", *args], env=env,
                          capture_output=True, text=True, check=check, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def initialised(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tf-data")
    args = ["init", "-input=false", "-backend=false"]
    if plugin_dir() is not None:
        args.append(f"-plugin-dir={plugin_dir()}")
    terraform(*args, data_dir=data_dir)
    return data_dir


def test_terraform_is_formatted(tmp_path):
    result = terraform("fmt", "-check", "-recursive", "-diff", data_dir=tmp_path, check=False)
    assert result.returncode == 0, result.stdout


def test_terraform_validates(initialised):
    result = terraform("validate", "-json", data_dir=initialised, check=False)
    assert result.returncode == 0, result.stdout
