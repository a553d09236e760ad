"""Settings a user can override through the environment, read in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    home: Path
    """Where each target keeps its Terraform state, emulator logs and pid files (one folder per target)."""
    port: int
    """Loopback port an emulator listens on."""
    region: str
    name_prefix: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def from_env(cls) -> "Settings":
        home = Path(os.environ.get("TICKSTACK_HOME") or PROJECT_ROOT / ".tickstack")
        return cls(
            home=home.resolve(),
            port=int(os.environ.get("TICKSTACK_PORT", "4566")),
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            name_prefix=os.environ.get("TICKSTACK_PREFIX", "tickstack"),
        )
