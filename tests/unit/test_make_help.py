"""`make help` lists every documented target once, grouped, and each one exists; the docs name only real
`make` targets and `tickstack` commands."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import typer

from tests.conftest import ROOT
from tickstack.cli import app

GROUPS = ("Everyday", "Strategy", "Targets", "Tests", "AWS", "Setup")


def make(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False, stdin=subprocess.DEVNULL)


def help_groups() -> dict[str, list[str]]:
    """Group heading -> the targets under it, as `make help` prints them (no venv needed)."""
    result = make("help", "VENV=/nonexistent/venv")
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout  # colours only on a terminal
    groups: dict[str, list[str]] = {}
    current = ""
    for line in result.stdout.splitlines()[1:]:
        if not line.strip():
            continue
        if line.startswith("  "):
            target, description = line.strip().split(None, 1)
            assert description, line
            groups.setdefault(current, []).append(target)
        else:
            current = line.split(":")[0].split()[0]
            assert current not in groups, f"group {current} printed twice"
    return groups


def make_targets() -> set[str]:
    """Every target make knows in this Makefile (its database, printed without running anything)."""
    result = make("-p", "-q", "-r", "-R", "-f", "Makefile", ".DEFAULT")
    targets = set()
    not_a_target = False
    for line in result.stdout.splitlines():
        if line.startswith("# Not a target"):
            not_a_target = True
            continue
        match = re.match(r"^([a-zA-Z0-9_.-]+):", line)
        if match and not not_a_target:
            targets.add(match.group(1))
        not_a_target = False
    return targets


def phony_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    return {name for line in re.findall(r"^\.PHONY:(.*)$", text, re.MULTILINE) for name in line.split()}


def test_help_is_the_default_goal_and_starts_with_usage():
    result = make()
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: make <command> [VAR=value ...]")


def test_help_groups_everyday_use_targets_tests_and_aws():
    groups = help_groups()
    assert [g for g in groups if g] == list(GROUPS)
    assert {"demo", "replay", "alerts", "logs", "status"} <= set(groups["Everyday"])
    assert {"backtest", "verify", "import", "dev"} <= set(groups["Strategy"])
    assert {"up", "deploy", "down"} <= set(groups["Targets"])
    assert {"test", "unit", "e2e", "lint"} <= set(groups["Tests"])
    assert set(groups["AWS"]) == {"plan-aws", "deploy-aws", "destroy-aws"}
    assert {"check", "install", "lock", "lock-terraform"} <= set(groups["Setup"])


def test_every_target_in_help_exists_is_phony_and_is_listed_once():
    listed = [target for targets in help_groups().values() for target in targets]
    assert len(listed) == len(set(listed))
    known, phony = make_targets(), phony_targets()
    for target in listed:
        assert target in known, f"make help lists {target}, which the Makefile does not define"
        assert target in phony, f"{target} is not .PHONY: a file of that name would stop it running"


def test_every_documented_target_line_is_in_help():
    documented = re.findall(r"^([a-zA-Z0-9_.-]+):[^\n]*## ", (ROOT / "Makefile").read_text(), re.MULTILINE)
    listed = {target for targets in help_groups().values() for target in targets}
    assert set(documented) == listed


# --- the docs name real commands ------------------------------------------------------------------------

DOCS = sorted((ROOT / "docs").glob("*.md"))


def code_in(text: str) -> list[str]:
    """Fenced blocks and inline code spans: where a doc gives a command to run."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    return blocks + inline


def tickstack_commands() -> set[str]:
    return set(typer.main.get_command(app).commands)


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_docs_name_only_real_make_targets_and_tickstack_commands(doc):
    known, commands = make_targets(), tickstack_commands()
    code = "\n".join(code_in(doc.read_text()))
    for name in re.findall(r"(?:^|[\s;&|(])make\s+([a-z][a-z0-9-]*)\b(?!=)", code):
        assert name in known, f"{doc.name}: `make {name}` is not a Makefile target"
    for command in re.findall(r"tickstack ([a-z][a-z-]*)", code):
        assert command in commands, f"{doc.name}: `tickstack {command}` is not a command"


def test_there_are_docs_to_check():
    assert {d.name for d in DOCS} >= {"localstack.md", "troubleshooting.md"}
