from __future__ import annotations

import os

import pytest

# Powertools reads these when the handler modules are imported; Terraform sets them in Lambda.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Tickstack")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")

from .support import LambdaContext  # noqa: E402  (the environment above comes first)


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()
