"""Commands that move data through the deployed pipeline and read back what it made."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from producer.kinesis import StreamRejected
from tickstack.cli.app import app
from tickstack.cli.options import TargetOption, running_target
from tickstack.cli.output import out, print_alerts, progress, say
from tickstack.errors import TickstackError
from tickstack.ops.alerts import read_alerts
from tickstack.ops.athena import NamedQuery, QueryFailed, load_queries, run_query
from tickstack.ops.replay import replay as replay_ticks, wait_processed


class ProducerFailed(TickstackError):
    """A producer could not read quotes, or the stream would not take them."""


@app.command()
def replay(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="JSON-lines recordings")],
    speed: Annotated[Optional[float], typer.Option(min=0.01, help="At most this many ticks per second "
                                                                   "(default: as fast as the stream takes them)")] = None,
    wait: Annotated[bool, typer.Option(help="Return only when the pipeline has processed every tick")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most")] = 180.0,
    target_name: TargetOption = None,
) -> None:
    """Send recorded ticks to the stream."""
    target = running_target(target_name)
    total = sum(1 for f in files for line in f.read_bytes().splitlines() if line.strip())
    try:
        with progress() as bars:
            task = bars.add_task("sending", total=total)
            report = replay_ticks(target, files, speed=speed, on_sent=lambda n: bars.advance(task, n))
            if wait:
                stored = bars.add_task("processed", total=len(report.valid_keys))
                wait_processed(target, report, timeout=timeout,
                               on_progress=lambda done, _total: bars.update(stored, completed=done))
    except StreamRejected as exc:
        raise ProducerFailed(str(exc)) from exc
    for line, reason in report.invalid:
        say(f"[yellow]quarantined[/yellow] {line.source}:{line.line_number}: {reason}")
    state = "processed" if wait else "sent"
    say(f"{len(report.sent)} ticks {state} ({len(report.valid_keys)} valid, {len(report.invalid)} quarantined)")


@app.command()
def alerts(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array, oldest first")] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new alerts until Ctrl-C")] = False,
    target_name: TargetOption = None,
) -> None:
    """List every alert the stack's SNS topic has sent, each once (reading consumes nothing)."""
    target = running_target(target_name)
    seen = read_alerts(target)
    if as_json and not follow:
        out.print_json(json.dumps(seen))
        return
    if as_json:
        for a in seen:
            out.print(json.dumps(a), highlight=False)
    elif seen:
        out.print(f"SNS alerts sent: {len(seen)}")
        print_alerts(seen)
    elif not follow:
        out.print("no alerts sent yet")
    known = {a["alert_id"] for a in seen}
    try:
        while follow:
            time.sleep(2.0)
            fresh = [a for a in read_alerts(target) if a["alert_id"] not in known]
            known.update(a["alert_id"] for a in fresh)
            for a in fresh:
                if as_json:
                    out.print(json.dumps(a), highlight=False)
                else:
                    print_alerts([a])
    except KeyboardInterrupt:
        pass


@app.command()
def athena(
    name: Annotated[Optional[str], typer.Argument(help="A query named in athena/queries.sql")] = None,
    sql: Annotated[Optional[str], typer.Option(help="Run this SQL instead; {table} stands for the Glue table")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as one JSON array of objects")] = False,
    target_name: TargetOption = None,
) -> None:
    """Run a named query (or --sql) over the S3 archive through Athena; without either, list the queries."""
    queries = load_queries()
    if name is None and sql is None:
        for query in queries.values():
            out.print(f"[bold]{query.name}[/bold]  {query.description}", highlight=False)
        return
    if name is not None and name not in queries:
        raise QueryFailed(f"no query named {name!r} in athena/queries.sql: choose one of {', '.join(queries)}")
    target = running_target(target_name)
    query = queries[name] if name is not None else NamedQuery("sql", "", sql)
    columns, rows = run_query(target, query.for_table(target.outputs.get("glue_table") or ""))
    if as_json:
        out.print_json(json.dumps([dict(zip(columns, row)) for row in rows]))
        return
    table = Table(*columns, title=name or "query", title_justify="left")
    for row in rows:
        table.add_row(*(value if value is not None else "" for value in row))
    out.print(table)
