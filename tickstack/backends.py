"""Which backend to use: the one asked for, else the one already up, else what the machine can run."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from tickstack.settings import BACKENDS, Settings


class BackendError(RuntimeError):
    pass


@dataclass(frozen=True)
class Choice:
    backend: str
    reason: str


def docker_engine_answers(timeout: float = 5.0) -> bool:
    """True when a Docker engine (not just the client) responds."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def _marker(settings: Settings):
    return settings.home / "current-backend"


def remember(settings: Settings, backend: str) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    _marker(settings).write_text(backend + "\n")


def forget(settings: Settings, backend: str) -> None:
    marker = _marker(settings)
    if marker.exists() and marker.read_text().strip() == backend:
        marker.unlink()


def choose(settings: Settings, requested: str | None = None, docker_probe=docker_engine_answers) -> Choice:
    requested = requested or os.environ.get("BACKEND") or None
    if requested:
        if requested not in BACKENDS:
            raise BackendError(f"unknown backend {requested!r}: choose one of {', '.join(BACKENDS)}")
        return Choice(requested, "asked for")
    marker = _marker(settings)
    if marker.exists():
        current = marker.read_text().strip()
        if current in BACKENDS:
            return Choice(current, "the stack already up")
    if docker_probe():
        return Choice("localstack", "a Docker engine answers")
    return Choice("ministack", "no Docker engine answers, so the embedded emulator")
