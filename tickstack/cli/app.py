"""The `tickstack` command: one Typer app, one error boundary, `--debug` and `--version`."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer
from botocore.exceptions import BotoCoreError, ClientError
from typer.core import TyperGroup

from tickstack import __version__
from tickstack.cli.output import console
from tickstack.errors import TickstackError

# Failures a user can act on, said in one line: tickstack's own errors, and an AWS call that failed
# or an endpoint that did not answer (botocore's). Anything else is a bug and keeps its traceback.
USER_ERRORS = (TickstackError, BotoCoreError, ClientError)
DEBUG_VARIABLE = "TICKSTACK_DEBUG"


def debug_enabled(ctx: typer.Context | None) -> bool:
    flagged = bool(ctx and ctx.find_root().params.get("debug"))
    return flagged or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0", "false")


class ErrorBoundary(TyperGroup):
    """Every command runs inside this: a user error becomes one red line and exit 1."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            if debug_enabled(ctx):
                raise
            # soft_wrap: a refusal stays on one line however narrow the terminal.
            console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True, markup=True)
            raise typer.Exit(1) from None


app = typer.Typer(cls=ErrorBoundary, no_args_is_help=True,
                  help="Deploy and drive the stock analytics pipeline on an emulator or on AWS.")


def _version(value: bool) -> None:
    if value:
        console.print(f"tickstack {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help=f"Show the traceback behind an error (or {DEBUG_VARIABLE}=1)")] = False,
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit")] = None,
) -> None:
    """Deploy and drive the stock analytics pipeline on an emulator or on AWS."""
