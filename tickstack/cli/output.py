"""Where the CLI writes: results on stdout, progress and messages on stderr."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)
out = Console()


def say(line: str) -> None:
    console.print(line, highlight=False)


def progress() -> Progress:
    return Progress(TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


def print_alerts(alerts: list[dict]) -> None:
    """Alerts in short lines, so an 80-column terminal shows each unwrapped; when and how often they
    were sent where they were (the backtest's were not)."""
    for a in alerts:
        colour = "green" if a["signal"] == "GOLDEN_CROSS" else "red"
        repeated = f"  [yellow]delivered {a['deliveries']} times[/yellow]" if a["deliveries"] > 1 else ""
        out.print(f"[bold]{a['symbol']}[/bold] [{colour}]{a['signal']}[/{colour}]  tick {a['timestamp']}  "
                  f"price {a['price']}{repeated}", highlight=False)
        sent = f"  [dim]sent {a['sent_at']}[/dim]" if a["sent_at"] else ""
        out.print(f"  SMA short {a['sma5']}  SMA long {a['sma20']}{sent}", highlight=False)
        out.print(f"  subject: {escape(a['subject'])}", highlight=False)
        for line in a["message"].splitlines()[:1]:
            out.print(f"  message: {escape(line)}", highlight=False)
