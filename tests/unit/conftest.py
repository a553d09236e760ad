from __future__ import annotations

import os

import pytest

# Powertools reads these when the handler modules are imported; Terraform sets them in Lambda.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Tickstack")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
# As Terraform sets it on the emulators: no X-Ray daemon to send traces to.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

from .support import LambdaContext  # noqa: E402  (the environment above comes first)


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def no_aws(monkeypatch, tmp_path):
    """A machine with no AWS configuration at all, whatever the developer's shell holds."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path
