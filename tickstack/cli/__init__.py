"""The `tickstack` command line: typer commands and their rendering only; the work is in the packages beside."""

from tickstack.cli import stack, data, produce  # noqa: F401  (registers the commands)
from tickstack.cli import view  # noqa: F401  (registers chart and dashboard)
from tickstack.cli import doctor, logs  # noqa: F401  (registers doctor and logs)
from tickstack.cli import strategy  # noqa: F401  (registers backtest, verify, import and dev)
from tickstack.cli.app import app

__all__ = ["app"]
