"""The deployed stack under test, one per backend; the tests' bodies do not know which."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import free_port
from tickstack import lifecycle
from tickstack.settings import Settings
from tickstack.stack import Stack

BACKENDS = ["ministack"]


def _settings(tmp_path_factory, backend: str) -> Settings:
    return Settings(
        home=tmp_path_factory.mktemp(f"home-{backend}"),
        port=free_port(),
        region="us-east-1",
        # A short unique prefix per run: nothing collides with a stack a developer has up.
        name_prefix=f"e2e{uuid.uuid4().hex[:6]}",
    )


@pytest.fixture(scope="session", params=BACKENDS)
def stack(request, tmp_path_factory):
    backend = request.param
    stack = Stack(backend, _settings(tmp_path_factory, backend))
    lifecycle.up(stack, print)
    yield stack
    lifecycle.down(stack, print)
