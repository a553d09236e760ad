"""`make check` and `tickstack doctor`: every prerequisite in one pass, each with ok or the fix.

This module runs before the venv exists (`make check` is the first step of `make install`), so it
imports nothing but the standard library and tickstack's own standard-library modules:

    python3 -m tickstack.ops.doctor [--target ministack|localstack|aws] [--install]

One line per check, then a summary. It exits non-zero only for what blocks the chosen target
(`--target`, else $TARGET, else the stack already up, else localstack when a Docker engine answers,
else ministack); with `--install`, only for what blocks creating the venv and deploying anywhere
(Python and Terraform). It sends nothing off this machine: Docker is asked through its local
socket, the port is tried on loopback, AWS credentials are looked for in the environment and ~/.aws
files only, and the Terraform registry is never contacted.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from tickstack.deploy.terraform import TERRAFORM_DIR, plugin_dir
from tickstack.settings import PROJECT_ROOT, Settings

TARGETS = ("ministack", "localstack", "aws")
EMULATORS = ("ministack", "localstack")
EVERY_TARGET = TARGETS
# Read by tickstack.targets.choice too (tests/unit/test_doctor.py ties the copies: that module needs boto3).
TARGET_VARIABLES = ("TARGET", "BACKEND")
CURRENT_TARGET_FILE = "current-target"
MINISTACK_PID_FILE = "ministack/ministack.pid"
COMPOSE_PROJECT = "tickstack"
DEFAULT_LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"
PROVIDER = "registry.terraform.io/hashicorp/aws"
TERRAFORM_LOCK_FILE = TERRAFORM_DIR / ".terraform.lock.hcl"

OK, NOTE, FIX = "ok", "note", "fix"

Run = Callable[[Sequence[str], float], Tuple[int, str]]


def _run(command: Sequence[str], timeout: float) -> Tuple[int, str]:
    """Exit code and stdout of a local command; 127 when it cannot be run, 124 when it hangs."""
    env = dict(os.environ, CHECKPOINT_DISABLE="1")  # `terraform version` would otherwise ask HashiCorp for updates
    try:
        result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL, env=env, check=False)
    except OSError:
        return 127, ""
    except subprocess.TimeoutExpired:
        return 124, ""
    return result.returncode, result.stdout


def _connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _platform() -> str:
    """Terraform's name for this machine's platform, e.g. linux_amd64 or darwin_arm64."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}_{arch}"


@dataclass
class Machine:
    """What the checks look at; the tests hand in a fake one."""

    environ: Dict[str, str] = field(default_factory=lambda: dict(os.environ))
    which: Callable[[str], Optional[str]] = shutil.which
    run: Run = _run
    connects: Callable[[str, int], bool] = _connects
    python_version: Tuple[int, int, int] = tuple(sys.version_info[:3])  # type: ignore[assignment]
    python_executable: str = sys.executable
    platform: str = field(default_factory=_platform)
    user_home: Path = field(default_factory=Path.home)
    project_root: Path = PROJECT_ROOT
    plugin_dir: Callable[[], Optional[Path]] = plugin_dir
    pid_alive: Callable[[int], bool] = None  # type: ignore[assignment]
    port_owner: Callable[[int], Optional[str]] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.pid_alive is None:
            self.pid_alive = _pid_alive
        if self.port_owner is None:
            self.port_owner = _port_owner

    @property
    def settings(self) -> Settings:
        home = Path(self.environ.get("TICKSTACK_HOME") or self.project_root / ".tickstack")
        return Settings(home=home.resolve(), port=int(self.environ.get("TICKSTACK_PORT", "4566")),
                        region="", name_prefix="")


@dataclass
class Check:
    name: str
    status: str
    text: str
    blocks: Tuple[str, ...] = ()
    """The targets a `fix` stops; empty for ok and note."""

    def line(self) -> str:
        scope = ""
        if self.status == FIX and set(self.blocks) < set(TARGETS):
            scope = f" ({', '.join(self.blocks)} only)"
        label = {OK: "ok  ", NOTE: "note:", FIX: "fix:"}[self.status]
        return f"{self.name:<10} {label} {self.text}{scope}"


# --- Python ------------------------------------------------------------------------------------------


def requires_python(project_root: Path) -> str:
    """pyproject.toml's requires-python, e.g. '>=3.11,<3.14' (read without tomllib on an old Python too)."""
    text = (project_root / "pyproject.toml").read_text()
    try:
        import tomllib
    except ImportError:  # Python < 3.11: the version check below says so
        match = re.search(r'^requires-python\s*=\s*"([^"]+)"', text, re.MULTILINE)
        return match.group(1) if match else ""
    return tomllib.loads(text)["project"].get("requires-python", "")


def _version_tuple(text: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def satisfies(version: Sequence[int], specifier: str) -> bool:
    """Whether a version meets a comma-separated specifier of >=, >, <=, <, ==, != clauses."""
    for clause in filter(None, (c.strip() for c in specifier.split(","))):
        match = re.fullmatch(r"(>=|<=|==|!=|>|<|~=)\s*([\d.]+)", clause)
        if not match:
            continue
        op, bound = match.group(1), _version_tuple(match.group(2))
        have = tuple(version[:len(bound)])
        ok = {">=": have >= bound, ">": have > bound, "<=": have <= bound, "<": have < bound,
              "==": have == bound, "!=": have != bound, "~=": have >= bound}[op]
        if not ok:
            return False
    return True


def check_python(machine: Machine) -> Check:
    spec = requires_python(machine.project_root)
    version = ".".join(str(n) for n in machine.python_version)
    if satisfies(machine.python_version, spec):
        return Check("python", OK, f"Python {version} ({machine.python_executable}); supported: {spec}")
    return Check("python", FIX, f"Python {version} is outside {spec}: install a supported Python and point make "
                                f"at it, e.g. `make check PYTHON=python3.12`", EVERY_TARGET)


# --- Terraform and its provider ----------------------------------------------------------------------


def required_terraform(project_root: Path) -> str:
    """terraform/versions.tf's required_version, e.g. '>= 1.9'."""
    text = (project_root / "terraform" / "versions.tf").read_text()
    match = re.search(r'required_version\s*=\s*"([^"]+)"', text)
    return match.group(1) if match else ""


def check_terraform(machine: Machine) -> Check:
    required = required_terraform(machine.project_root)
    if machine.which("terraform") is None:
        return Check("terraform", FIX, f"terraform is not on PATH: install Terraform {required} "
                                       "(developer.hashicorp.com/terraform/install)", EVERY_TARGET)
    code, out = machine.run(["terraform", "version", "-json"], 20.0)
    try:
        version = json.loads(out)["terraform_version"]
    except (ValueError, KeyError, TypeError):
        return Check("terraform", FIX, f"`terraform version -json` failed (exit {code}): reinstall Terraform "
                                       f"{required}", EVERY_TARGET)
    if not satisfies(_version_tuple(version), required):
        return Check("terraform", FIX, f"Terraform {version} is too old: install Terraform {required}", EVERY_TARGET)
    return Check("terraform", OK, f"Terraform {version} (needs {required})")


def _locked_provider(lock_file: Path) -> Tuple[Optional[str], List[str]]:
    """The hashicorp/aws version and hashes in a Terraform lock file."""
    if not lock_file.is_file():
        return None, []
    text = lock_file.read_text()
    block = re.search(r'provider\s+"' + re.escape(PROVIDER) + r'"\s*\{(.*?)\n\}', text, re.DOTALL)
    if not block:
        return None, []
    version = re.search(r'version\s*=\s*"([^"]+)"', block.group(1))
    hashes = re.findall(r'"((?:h1|zh):[^"]+)"', block.group(1))
    return (version.group(1) if version else None), hashes


def check_providers(machine: Machine) -> Check:
    mirror = machine.plugin_dir()
    locked, _ = _locked_provider(TERRAFORM_LOCK_FILE)
    if mirror is None:
        return Check("providers", NOTE, "no provider mirror (TICKSTACK_TF_PLUGIN_DIR or /opt/tf-plugins): "
                                        "terraform init will download hashicorp/aws from registry.terraform.io "
                                        "(needs network)")
    provider_dir = mirror / PROVIDER
    versions = sorted(p.name for p in provider_dir.iterdir()) if provider_dir.is_dir() else []
    usable = [v for v in versions if (provider_dir / v / machine.platform).is_dir()]
    if locked is not None and locked not in usable:
        have = ", ".join(f"{v}" for v in usable) or "none"
        return Check("providers", FIX, f"provider mirror {mirror} has no hashicorp/aws {locked} for {machine.platform} "
                                       f"(it has: {have}), which terraform/.terraform.lock.hcl pins: add it to the "
                                       "mirror, or unset TICKSTACK_TF_PLUGIN_DIR to download it", EVERY_TARGET)
    if not usable:
        return Check("providers", FIX, f"provider mirror {mirror} holds no hashicorp/aws for {machine.platform}: "
                                       "fill it, or unset TICKSTACK_TF_PLUGIN_DIR to download from the registry",
                     EVERY_TARGET)
    return Check("providers", OK, f"provider mirror {mirror}: hashicorp/aws {', '.join(usable)} for "
                                  f"{machine.platform}; terraform init needs no network")


def check_provider_lock(machine: Machine) -> Check:
    """A lock file made from a mirror records checksums for the mirror's platforms only."""
    locked, hashes = _locked_provider(TERRAFORM_LOCK_FILE)
    if locked is None:
        return Check("tf-lock", NOTE, "terraform/.terraform.lock.hcl is missing: terraform init picks the newest "
                                      "hashicorp/aws 5.x; `make lock-terraform` pins it")
    registry_made = any(h.startswith("zh:") for h in hashes)
    mirror = machine.plugin_dir()
    from_mirror = mirror is not None and (mirror / PROVIDER / locked / machine.platform).is_dir()
    if registry_made or from_mirror:
        return Check("tf-lock", OK, f"terraform/.terraform.lock.hcl pins hashicorp/aws {locked}")
    return Check("tf-lock", NOTE, f"terraform/.terraform.lock.hcl pins hashicorp/aws {locked} with checksums "
                                  "made from a provider mirror only (none from the registry); if terraform init says the "
                                  f"package for {machine.platform} doesn't match the dependency lock file, run "
                                  "`make lock-terraform` with network access and commit the result")


# --- Docker and Compose (the localstack target) -------------------------------------------------------


@dataclass
class DockerState:
    client: bool
    engine: Optional[str]
    compose: Optional[str]


def docker_state(machine: Machine) -> DockerState:
    if machine.which("docker") is None:
        return DockerState(False, None, None)
    code, out = machine.run(["docker", "info", "--format", "{{.ServerVersion}}"], 5.0)
    engine = out.strip() if code == 0 and out.strip() else None
    code, out = machine.run(["docker", "compose", "version", "--short"], 5.0)
    compose = out.strip() if code == 0 and out.strip() else None
    return DockerState(True, engine, compose)


def check_docker(docker: DockerState) -> Check:
    if not docker.client:
        return Check("docker", FIX, "docker is not on PATH: install Docker Engine or Docker Desktop, or use the "
                                    "embedded emulator (TARGET=ministack)", ("localstack",))
    if docker.engine is None:
        return Check("docker", FIX, "the docker client is here but no Docker engine answers: start Docker Desktop "
                                    "(or `sudo systemctl start docker`), or use TARGET=ministack", ("localstack",))
    return Check("docker", OK, f"Docker engine {docker.engine} answers")


def check_compose(docker: DockerState) -> Check:
    if not docker.client:
        return Check("compose", FIX, "no docker client, so no `docker compose`: install Docker with the Compose "
                                     "plugin (v2)", ("localstack",))
    if docker.compose is None:
        return Check("compose", FIX, "`docker compose` (Compose v2) is missing: install the Docker Compose plugin "
                                     "(docker-compose-plugin); the old `docker-compose` v1 is not used",
                     ("localstack",))
    return Check("compose", OK, f"Docker Compose {docker.compose}")


def check_localstack_image(machine: Machine, docker: DockerState) -> Check:
    image = machine.environ.get("LOCALSTACK_IMAGE") or DEFAULT_LOCALSTACK_IMAGE
    if docker.engine is None:
        return Check("image", NOTE, f"{image}: not checked (no Docker engine answers)")
    code, _ = machine.run(["docker", "image", "inspect", "--format", "{{.Id}}", image], 10.0)
    if code == 0:
        return Check("image", OK, f"{image} is pulled")
    return Check("image", NOTE, f"{image} is not pulled yet: the first `make up TARGET=localstack` pulls it "
                                f"(about 1 GB), or `docker pull {image}` now")


# --- the port ------------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_owner(port: int) -> Optional[str]:
    """'pid N (command)' of the process listening on a TCP port, where this system lets us see it."""
    if shutil.which("lsof"):
        code, out = _run(["lsof", "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"], 5.0)
        pid = re.search(r"^p(\d+)", out, re.MULTILINE)
        command = re.search(r"^c(.+)", out, re.MULTILINE)
        if code == 0 and pid:
            return f"pid {pid.group(1)}" + (f" ({command.group(1)})" if command else "")
    return _port_owner_from_proc(port)


def _port_owner_from_proc(port: int) -> Optional[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    command = (proc / "comm").read_text().strip()
                    return f"pid {proc.name} ({command})"
        except OSError:
            continue
    return None


def port_holder(machine: Machine, docker: DockerState) -> Optional[str]:
    """None when the port is free; else 'ministack', 'localstack' (ours), or a description of a foreign one."""
    settings = machine.settings
    if not machine.connects("127.0.0.1", settings.port):
        return None
    try:
        pid = int((settings.home / MINISTACK_PID_FILE).read_text().strip())
    except (OSError, ValueError):
        pid = None
    if pid is not None and machine.pid_alive(pid):
        return "ministack"
    if docker.engine is not None and docker.compose is not None:
        code, out = machine.run(["docker", "compose", "--project-name", COMPOSE_PROJECT, "ps", "--status", "running",
                                 "--quiet", "localstack"], 10.0)
        if code == 0 and out.strip():
            return "localstack"
    return machine.port_owner(settings.port) or "another program"


def check_port(machine: Machine, docker: DockerState, target: str) -> Check:
    port = machine.settings.port
    holder = port_holder(machine, docker)
    if holder is None:
        return Check("port", OK, f"127.0.0.1:{port} is free")
    if holder in EMULATORS:
        ours = {"ministack": "our MiniStack", "localstack": "our LocalStack (docker compose project tickstack)"}[holder]
        if holder == target or target not in EMULATORS:
            return Check("port", OK, f"127.0.0.1:{port} is held by {ours}: `make down` stops it")
        blocked = tuple(t for t in EMULATORS if t != holder)
        return Check("port", FIX, f"127.0.0.1:{port} is held by {ours}: `make down` first, or use another port, "
                                  f"e.g. TICKSTACK_PORT={port + 1}", blocked)
    return Check("port", FIX, f"127.0.0.1:{port} is taken by {holder}, not by tickstack: stop it, or use another "
                              f"port, e.g. TICKSTACK_PORT={port + 1} make up", EMULATORS)


# --- AWS credentials (the aws target) ------------------------------------------------------------------


def _ini_sections(path: Path) -> Dict[str, Dict[str, str]]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except (configparser.Error, OSError):
        return {}
    return {section: dict(parser.items(section)) for section in parser.sections()}


def check_aws(machine: Machine) -> Check:
    env = machine.environ
    aws_dir = machine.user_home / ".aws"
    overrides = sorted(n for n, v in env.items() if n.startswith("AWS_ENDPOINT_URL") and v)
    if overrides:
        return Check("aws", FIX, f"{', '.join(overrides)} is set, which would send AWS calls to an emulator: unset it "
                                 "for the aws target", ("aws",))
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    credentials = _ini_sections(Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or aws_dir / "credentials"))
    config = _ini_sections(Path(env.get("AWS_CONFIG_FILE") or aws_dir / "config"))
    config_section = config.get("default" if profile == "default" else f"profile {profile}", {})
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        source = "AWS_ACCESS_KEY_ID in the environment"
    elif env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        source = "a container role"
    elif env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        source = "a web identity token"
    elif profile in credentials or any(key in config_section for key in (
            "aws_access_key_id", "sso_session", "sso_start_url", "role_arn", "credential_process")):
        source = f"profile {profile}"
    else:
        named = "AWS_PROFILE=" + profile if profile != "default" else "no profile"
        return Check("aws", FIX, f"no AWS credentials in the environment or ~/.aws ({named}; an instance role is not "
                                 "probed): `aws configure`, `aws sso login --profile NAME` with AWS_PROFILE=NAME, "
                                 "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", ("aws",))
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or config_section.get("region")
    if not region:
        return Check("aws", FIX, f"credentials from {source} but no region: set AWS_REGION", ("aws",))
    return Check("aws", OK, f"credentials from {source}, region {region} (not verified: `make plan-aws` asks AWS)")


# --- the target and the report ------------------------------------------------------------------------


def chosen_target(machine: Machine, docker: DockerState, requested: Optional[str] = None) -> Tuple[str, str]:
    """The target tickstack would use and why, as tickstack.targets.choice decides it."""
    for name in ([requested] if requested else []) + [machine.environ.get(v) for v in TARGET_VARIABLES]:
        if name:
            return name, "asked for"
    marker = machine.settings.home / CURRENT_TARGET_FILE
    if marker.is_file() and marker.read_text().strip() in TARGETS:
        return marker.read_text().strip(), "the stack already up"
    if docker.engine is not None:
        return "localstack", "a Docker engine answers"
    return "ministack", "no Docker engine answers, so the embedded emulator"


@dataclass
class Report:
    target: str
    reason: str
    checks: List[Check]
    install_only: bool = False

    @property
    def blocking(self) -> List[Check]:
        if self.install_only:
            return [c for c in self.checks if c.status == FIX and c.name in ("python", "terraform")]
        return [c for c in self.checks if c.status == FIX and self.target in c.blocks]

    @property
    def exit_code(self) -> int:
        return 1 if self.blocking else 0

    def summary(self) -> str:
        needing = sorted({t for c in self.checks if c.status == FIX for t in c.blocks})
        if self.install_only:
            if self.blocking:
                return f"not ready to install: fix {', '.join(c.name for c in self.blocking)} first"
            return "ready to install" + _needing(needing)
        if self.blocking:
            return (f"not ready for {self.target} ({self.reason}): fix "
                    f"{', '.join(c.name for c in self.blocking)} first")
        return f"ready for {self.target} ({self.reason})" + _needing([t for t in needing if t != self.target])

    def lines(self) -> List[str]:
        return [c.line() for c in self.checks] + [self.summary()]


def _needing(targets: Sequence[str]) -> str:
    if not targets:
        return ""
    return f"; {', '.join(targets)} {'needs' if len(targets) == 1 else 'need'} the fixes above"


def diagnose(machine: Optional[Machine] = None, target: Optional[str] = None, install_only: bool = False) -> Report:
    machine = machine or Machine()
    docker = docker_state(machine)
    name, reason = chosen_target(machine, docker, target)
    if name not in TARGETS:
        return Report(name, reason, [Check("target", FIX, f"unknown target {name!r}: choose one of "
                                                          f"{', '.join(TARGETS)}", (name,))])
    checks = [
        check_python(machine),
        check_terraform(machine),
        check_providers(machine),
        check_provider_lock(machine),
        check_docker(docker),
        check_compose(docker),
        check_localstack_image(machine, docker),
        check_port(machine, docker, name),
        check_aws(machine),
    ]
    return Report(name, reason, checks, install_only)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tickstack.ops.doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=TARGETS, help="the target to check for (default: the one tickstack "
                                                          "would choose)")
    parser.add_argument("--install", action="store_true", help="fail only for what blocks creating the venv")
    args = parser.parse_args(argv)
    report = diagnose(target=args.target, install_only=args.install)
    print("\n".join(report.lines()))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
