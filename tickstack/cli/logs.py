"""`tickstack logs`: what the functions logged, one readable line per event."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.text import Text

from tickstack.cli.app import app
from tickstack.cli.options import TargetOption, running_target
from tickstack.cli.output import out, say
from tickstack.ops.logs import Entry, LogEvent, LogReader, entry, follow as follow_logs, log_groups, parse_since, read_logs

LEVEL_STYLES = {"DEBUG": "dim", "INFO": "green", "WARNING": "yellow", "ERROR": "bold red", "CRITICAL": "bold red",
                "METRIC": "magenta"}


def render(item: Entry) -> Text:
    """`time level function message key=value ...`, times in UTC."""
    line = Text(no_wrap=False)
    line.append(item.time.strftime("%H:%M:%S.") + f"{item.time.microsecond // 1000:03d}", style="dim")
    line.append(" ")
    line.append(f"{item.level or '-':<7}", style=LEVEL_STYLES.get(item.level, "dim"))
    line.append(" ")
    line.append(f"{item.function:<7}", style="cyan")
    line.append(" ")
    line.append(item.message, style="" if item.structured else "dim")
    for key, value in item.fields.items():
        line.append("  ")
        line.append(f"{key}=", style="blue")
        line.append(value)
    if item.detail:
        line.append("\n" + item.detail, style="red")
    return line


def _print(event: LogEvent) -> None:
    out.print(render(entry(event)), highlight=False, soft_wrap=True)


@app.command()
def logs(
    function: Annotated[Optional[str], typer.Argument(metavar="[process|trend]",
                                                      help="One function's logs (default: both)")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C")] = False,
    since: Annotated[str, typer.Option(help="How far back to start: 30s, 10m, 2h, 1d")] = "10m",
    target_name: TargetOption = None,
) -> None:
    """Show what the Lambda functions logged (CloudWatch Logs), Powertools' JSON as readable lines."""
    window = parse_since(since)
    target = running_target(target_name)
    groups = log_groups(target.outputs["function_names"], function)
    reader = LogReader(target.client("logs"), groups)
    if follow:
        try:
            follow_logs(reader, window, _print)
        except KeyboardInterrupt:
            return
        return
    events = read_logs(reader, window)
    for event in events:
        _print(event)
    if not events:
        say(f"nothing logged in the last {since} in {', '.join(groups.values())}")
