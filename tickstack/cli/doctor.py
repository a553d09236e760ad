"""`tickstack doctor`: the prerequisites `make check` checks, from the installed command."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.text import Text

from tickstack.cli.app import app
from tickstack.cli.output import out
from tickstack.ops.doctor import FIX, NOTE, OK, TARGETS, diagnose

STATUS_STYLES = {OK: "green", NOTE: "yellow", FIX: "bold red"}


@app.command()
def doctor(
    target_name: Annotated[Optional[str], typer.Option("--target", "-t", help=f"Check for {', '.join(TARGETS)} "
                                                                              "(default: the one tickstack would choose)")] = None,
) -> None:
    """Check every prerequisite in one pass (the same as `make check`): each says ok or the fix."""
    report = diagnose(target=target_name)
    for check, line in zip(report.checks, report.lines()):
        styled = Text(line)
        styled.stylize(STATUS_STYLES[check.status], 11, 16)
        out.print(styled, highlight=False, soft_wrap=True)
    out.print(Text(report.summary(), style="bold red" if report.exit_code else "bold green"),
              highlight=False, soft_wrap=True)
    raise typer.Exit(report.exit_code)
