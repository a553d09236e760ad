"""Which target to use: the one asked for, else the one already up, else what the machine can run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tickstack.errors import TargetError
from tickstack.settings import Settings
from tickstack.targets.aws import Aws
from tickstack.targets.base import Target
from tickstack.targets.localstack import ComposeLocalStack, docker_engine_answers
from tickstack.targets.ministack import MiniStack

# The one table of targets: a fourth one is a class in this package and a line here.
TARGETS: dict[str, type[Target]] = {"ministack": MiniStack, "localstack": ComposeLocalStack, "aws": Aws}
TARGET_VARIABLES = ("TARGET", "BACKEND")  # BACKEND: the name earlier releases read


@dataclass(frozen=True)
class Choice:
    target: Target
    reason: str


@dataclass(frozen=True)
class AwsOptions:
    """What only the aws target takes; the emulators have nothing of the kind."""

    environment: str | None = None
    backend_config: Path | None = None
    auto_approve: bool = False
    migrate_state: bool = False


def _marker(settings: Settings) -> Path:
    return settings.home / "current-target"


def remember(target: Target) -> None:
    """Record that ``target`` is up, so later commands address it without being told."""
    target.settings.home.mkdir(parents=True, exist_ok=True)
    _marker(target.settings).write_text(target.name + "\n")


def forget(target: Target) -> None:
    marker = _marker(target.settings)
    if marker.exists() and marker.read_text().strip() == target.name:
        marker.unlink()


def requested_name() -> str | None:
    for variable in TARGET_VARIABLES:
        if os.environ.get(variable):
            return os.environ[variable]
    return None


def make_target(name: str, settings: Settings, aws: AwsOptions | None = None) -> Target:
    if name not in TARGETS:
        raise TargetError(f"unknown target {name!r}: choose one of {', '.join(TARGETS)}")
    if TARGETS[name] is Aws:
        aws = aws or AwsOptions()
        return Aws(settings, aws.environment, aws.backend_config, aws.migrate_state, aws.auto_approve)
    return TARGETS[name](settings)


def choose(settings: Settings, requested: str | None = None, aws: AwsOptions | None = None,
           docker_probe: Callable[[], bool] = docker_engine_answers) -> Choice:
    requested = requested or requested_name()
    if requested:
        return Choice(make_target(requested, settings, aws), "asked for")
    marker = _marker(settings)
    if marker.exists():
        current = marker.read_text().strip()
        if current in TARGETS:
            return Choice(make_target(current, settings, aws), "the stack already up")
    if docker_probe():
        return Choice(make_target("localstack", settings), "a Docker engine answers")
    return Choice(make_target("ministack", settings), "no Docker engine answers, so the embedded emulator")
