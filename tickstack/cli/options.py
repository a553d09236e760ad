"""Options shared by commands, and the target they address."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tickstack.cli.output import say
from tickstack.settings import Settings
from tickstack.targets import AwsOptions, Target, choose
from tickstack.targets.base import Say

TargetOption = Annotated[
    Optional[str],
    typer.Option("--target", "-t",
                 help="ministack, localstack or aws (default: $TARGET, the stack already up, "
                      "else localstack when a Docker engine answers, else ministack)"),
]
# Options of the aws target only.
EnvOption = Annotated[Optional[str], typer.Option("--env", envvar="TICKSTACK_ENV",
                                                  help="aws: environment and Terraform workspace, dev, staging or prod")]
BackendConfigOption = Annotated[
    Optional[Path],
    typer.Option("--backend-config", envvar="TF_BACKEND_CONFIG", dir_okay=False,
                 help="aws: Terraform S3 state backend settings for shared state "
                      "(see terraform/backend-s3.hcl.example); default: state on this machine"),
]
AutoApproveOption = Annotated[bool, typer.Option("--auto-approve", envvar="AUTO_APPROVE",
                                                 help="aws: apply without asking (AUTO_APPROVE=1)")]
MigrateStateOption = Annotated[bool, typer.Option("--migrate-state", envvar="MIGRATE_STATE",
                                                  help="aws: copy the existing state into a newly configured backend")]


def target(name: str | None, aws: AwsOptions | None = None) -> Target:
    return choose(Settings.from_env(), name, aws).target


def announced(name: str | None, aws: AwsOptions | None = None) -> tuple[Target, Say]:
    """The target, and a `say` that first names it and why it was chosen.

    The name comes with the first line the command says, so a command refused before it says
    anything (no credentials, no Docker) is refused in one line.
    """
    choice = choose(Settings.from_env(), name, aws)
    heading = [f"target: [bold]{choice.target.name}[/bold] ({choice.reason})"]

    def say_first_the_target(line: str) -> None:
        while heading:
            say(heading.pop())
        say(line)

    return choice.target, say_first_the_target


def running_target(name: str | None) -> Target:
    """The target, for commands that talk to it: an emulator that is not up is said so, not a connection error."""
    chosen = target(name)
    chosen.require_running()
    return chosen
