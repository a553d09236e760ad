"""The lock files: every install is pinned and hashed, and agrees with what pyproject.toml asks for.

`make lock` writes requirements/*.lock (uv pip compile --universal --generate-hashes); `make install`
installs .venv from requirements/dev.lock with --require-hashes, `make lint-venv` .venv-lint from
requirements/lint.lock. A pin changed in pyproject.toml without `make lock` fails here.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from tests.conftest import ROOT
from tickstack.deploy.package import VENDORED

REQUIREMENTS = ROOT / "requirements"
LOCKS = {name: REQUIREMENTS / f"{name}.lock" for name in ("dev", "lambda", "lint")}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(lock: Path) -> list[dict]:
    """Each requirement of a lock: name, version, marker and hashes (continuation lines joined)."""
    found: list[dict] = []
    for line in lock.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            spec = line.rstrip(" \\")
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)(?:\s*;\s*(.+))?", spec)
            assert match, f"{lock.name}: not an exact pin: {line!r}"
            found.append({"name": normalize(match.group(1)), "version": match.group(2), "marker": match.group(3),
                          "hashes": [], "line": spec})
        else:
            assert found, f"{lock.name}: continuation before any requirement: {line!r}"
            found[-1]["hashes"].extend(HASH.findall(line))
            assert HASH.fullmatch(line.strip().rstrip(" \\")), f"{lock.name}: not a sha256 hash line: {line!r}"
    return found


def versions(lock: Path) -> dict[str, set[str]]:
    pinned: dict[str, set[str]] = {}
    for entry in entries(lock):
        pinned.setdefault(entry["name"], set()).add(entry["version"])
    return pinned


def direct_pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for text in requirements:
        requirement = Requirement(text)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"pyproject.toml pins every dependency exactly: {text}"
        pins[normalize(requirement.name)] = specifier.version
    return pins


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_every_line_of_every_lock_is_an_exact_pin_with_hashes(name):
    found = entries(LOCKS[name])
    assert found
    for entry in found:
        assert entry["hashes"], f"{name}.lock: {entry['line']} has no --hash"
    header = LOCKS[name].read_text().splitlines()[:2]
    assert header[1].strip() == "#    make lock", "regenerate with `make lock`, not by hand"


def test_every_direct_pin_of_pyproject_is_locked_at_its_version():
    project = PYPROJECT["project"]
    locked = versions(LOCKS["dev"])
    pins = direct_pins(project["dependencies"] + project["optional-dependencies"]["dev"])
    for name, version in pins.items():
        assert version in locked.get(name, set()), (
            f"{name}=={version} is in pyproject.toml but requirements/dev.lock has {locked.get(name)}: run `make lock`")


def test_the_build_backend_is_locked_too():
    build_in = [line for line in (REQUIREMENTS / "build.in").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert build_in == PYPROJECT["build-system"]["requires"]
    locked = versions(LOCKS["dev"])
    for text in build_in:
        requirement = Requirement(text)
        assert any(requirement.specifier.contains(v) for v in locked[normalize(requirement.name)]), text


def test_the_lambda_lock_is_exactly_the_vendored_distributions_at_the_dev_versions():
    lambda_versions = versions(LOCKS["lambda"])
    assert set(lambda_versions) == {normalize(name) for name in VENDORED}
    dev = versions(LOCKS["dev"])
    for name, locked in lambda_versions.items():
        assert locked == dev[name], name


def test_the_lint_lock_holds_every_pin_of_requirements_lint():
    pins = [line for line in (ROOT / "requirements-lint.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    locked = versions(LOCKS["lint"])
    for name, version in direct_pins(pins).items():
        assert locked.get(name) == {version}, f"{name}=={version}: run `make lock`"


def test_the_locks_serve_the_oldest_supported_python():
    lower = re.match(r">=\s*([\d.]+)", PYPROJECT["project"]["requires-python"]).group(1)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^LOCK_PYTHON \?= (\S+)$", makefile, re.MULTILINE).group(1) == lower


def test_this_venv_has_every_locked_version_that_applies_to_it():
    """`make install` installed exactly the lock; a stale venv is reinstalled by make (its stamp is older)."""
    for entry in entries(LOCKS["dev"]):
        if entry["marker"] and not Marker(entry["marker"]).evaluate():
            continue
        assert importlib.metadata.version(entry["name"]) == entry["version"], entry["line"]


def test_make_install_installs_from_the_lock_with_hashes_and_the_project_without_deps(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    result = subprocess.run(["make", "-n", "--no-print-directory", "install", f"VENV={tmp_path / 'venv'}"], cwd=ROOT,
                            env=env, capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert lines[0].endswith("-m tickstack.ops.doctor --install")  # the prerequisites first, before any venv
    pip = [line for line in lines if "/bin/pip install " in line]
    assert pip == [f"{tmp_path}/venv/bin/pip install --quiet --disable-pip-version-check --require-hashes "
                   "-r requirements/dev.lock",
                   f"{tmp_path}/venv/bin/pip install --quiet --disable-pip-version-check --no-deps "
                   "--no-build-isolation -e ."]


def test_make_lint_venv_installs_from_its_lock_with_hashes(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    result = subprocess.run(["make", "-n", "--no-print-directory", "lint-venv", f"LINT_VENV={tmp_path / 'lint'}"],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert (f"{tmp_path}/lint/bin/pip install --quiet --disable-pip-version-check --require-hashes "
            "-r requirements/lint.lock") in result.stdout.splitlines()


def test_the_terraform_lock_is_committed_with_a_checksum_of_every_platform_the_registry_ships():
    """The provider's zip checksums for every platform (zh:, from the registry's signed SHA256SUMS) let
    `terraform init` check what it downloads on macOS, ARM or Windows; the h1: checksum is that of the
    linux_amd64 package a provider mirror holds, so offline init checks it too (every init the tests
    run, with or without a mirror, fails on a package the lock does not name)."""
    ignored = subprocess.run(["git", "check-ignore", "-q", "terraform/.terraform.lock.hcl"], cwd=ROOT, check=False)
    assert ignored.returncode == 1
    lock = (ROOT / "terraform" / ".terraform.lock.hcl").read_text()
    versions = (ROOT / "terraform" / "versions.tf").read_text()
    constraint = re.search(r'source\s*=\s*"hashicorp/aws"\s*version\s*=\s*"([^"]+)"', versions).group(1)
    assert 'provider "registry.terraform.io/hashicorp/aws"' in lock
    assert 'version     = "5.100.0"' in lock and f'constraints = "{constraint}"' in lock
    assert len(re.findall(r'"zh:[0-9a-f]{64}"', lock)) >= 12  # darwin, freebsd, linux and windows builds
    assert re.findall(r'"h1:[A-Za-z0-9+/]{43}="', lock)
