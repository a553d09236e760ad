"""Run the one Terraform root against a backend, with state kept apart per backend."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tickstack.settings import EMULATED, PROJECT_ROOT, Settings

TERRAFORM_DIR = PROJECT_ROOT / "terraform"
# Where this machine keeps providers for offline init; elsewhere init uses the registry.
DEFAULT_PLUGIN_DIR = Path("/opt/tf-plugins")


class TerraformError(RuntimeError):
    pass


def plugin_dir() -> Path | None:
    configured = os.environ.get("TICKSTACK_TF_PLUGIN_DIR")
    if configured:
        return Path(configured)
    return DEFAULT_PLUGIN_DIR if (DEFAULT_PLUGIN_DIR / "registry.terraform.io").is_dir() else None


@dataclass
class Terraform:
    backend: str
    settings: Settings
    lambda_zip: Path
    extra_vars: dict[str, str] = field(default_factory=dict)
    quiet: bool = False

    @property
    def state_dir(self) -> Path:
        return self.settings.backend_dir(self.backend)

    @property
    def state_path(self) -> Path:
        return self.state_dir / "terraform.tfstate"

    @property
    def outputs_path(self) -> Path:
        return self.state_dir / "outputs.json"

    def variables(self) -> dict[str, str]:
        values = {
            "target": self.backend,
            "region": self.settings.region,
            "name_prefix": self.settings.name_prefix,
            "lambda_zip_path": str(self.lambda_zip),
        }
        if self.backend in EMULATED:
            values["endpoint_url"] = self.settings.endpoint
        values.update(self.extra_vars)
        return values

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Provider plugins and modules per backend: switching target never reuses another's working data.
        env["TF_DATA_DIR"] = str(self.state_dir / ".terraform")
        env.setdefault("TF_IN_AUTOMATION", "1")
        if self.backend in EMULATED:
            # Emulators accept any credentials; never let a real profile leak into local work.
            env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
            env.pop("AWS_PROFILE", None)
            env.pop("AWS_SESSION_TOKEN", None)
        return env

    def run(self, *args: str, capture: bool = False) -> str:
        binary = shutil.which("terraform")
        if binary is None:
            raise TerraformError("terraform is not on PATH: install Terraform >= 1.6 (see README, Prerequisites)")
        command = [binary, f"-chdir={TERRAFORM_DIR}", *args]
        result = subprocess.run(
            command,
            env=self._env(),
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture or self.quiet else None,
            stderr=subprocess.PIPE if capture or self.quiet else None,
            check=False,
        )
        if result.returncode != 0:
            detail = (result.stderr or "").strip()[-2000:] if (capture or self.quiet) else "see the output above"
            raise TerraformError(f"terraform {args[0]} failed ({result.returncode}): {detail}")
        return result.stdout or ""

    def init(self) -> None:
        args = ["init", "-input=false", "-reconfigure", f"-backend-config=path={self.state_path}"]
        plugins = plugin_dir()
        if plugins is not None:
            args.append(f"-plugin-dir={plugins}")
        self.run(*args)

    def _var_args(self) -> list[str]:
        return [f"-var={name}={value}" for name, value in self.variables().items()]

    def apply(self, auto_approve: bool = True) -> dict:
        args = ["apply", "-input=false", *self._var_args()]
        if auto_approve:
            args.append("-auto-approve")
        self.run(*args)
        return self.save_outputs()

    def plan(self, *extra: str) -> str:
        return self.run("plan", "-input=false", *self._var_args(), *extra)

    def destroy(self) -> None:
        self.run("destroy", "-input=false", "-auto-approve", *self._var_args())
        self.outputs_path.unlink(missing_ok=True)

    def save_outputs(self) -> dict:
        raw = json.loads(self.run("output", "-json", capture=True))
        outputs = {name: entry["value"] for name, entry in raw.items()}
        self.outputs_path.write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n")
        return outputs

    def forget_state(self) -> None:
        """Drop local state of an emulator whose resources died with it."""
        for path in (self.state_path, self.state_path.with_suffix(".tfstate.backup"), self.outputs_path):
            path.unlink(missing_ok=True)


def load_outputs(settings: Settings, backend: str) -> dict | None:
    path = settings.home / backend / "outputs.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())
