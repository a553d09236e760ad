"""The `tickstack` command: the logic behind the Makefile's targets."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from producer.kinesis import KinesisSink
from producer.live import fetch_tick
from producer.recording import write_tick
from tickstack import lifecycle
from tickstack.alerts import Alert, read_alerts
from tickstack.athena import NamedQuery, load_queries, run_query
from tickstack.aws import AwsTarget
from tickstack.backends import BackendError, Choice, choose
from tickstack.ministack import EmulatorError
from tickstack.replay import replay as replay_ticks, wait_processed
from tickstack.settings import Settings
from tickstack.stack import NotDeployed, Stack
from tickstack.terraform import DEFAULT_ENVIRONMENT, load_outputs
from tickstack.waiting import WaitTimeout

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)
out = Console()

BackendOption = Annotated[
    Optional[str],
    typer.Option("--backend", "-b", help="ministack, localstack or aws (default: $BACKEND, the stack already up, "
                                         "else localstack when a Docker engine answers, else ministack)"),
]
# Failures a user can act on, reported in one line: tickstack's own errors (all RuntimeErrors), a wait
# that ran out, an AWS call that failed or an endpoint that does not answer. Anything else is a bug and
# keeps its traceback.
KNOWN_ERRORS = (RuntimeError, WaitTimeout, BotoCoreError, ClientError, OSError)

# Options of the aws target only.
EnvOption = Annotated[str, typer.Option("--env", envvar="TICKSTACK_ENV",
                                        help="aws: environment and Terraform workspace, dev, staging or prod")]
BackendConfigOption = Annotated[
    Optional[Path],
    typer.Option("--backend-config", envvar="TF_BACKEND_CONFIG", dir_okay=False,
                 help="aws: S3 backend settings for shared state (see terraform/backend-s3.hcl.example); "
                      "default: state on this machine"),
]
AutoApproveOption = Annotated[bool, typer.Option("--auto-approve", envvar="AUTO_APPROVE",
                                                 help="aws: apply without asking (AUTO_APPROVE=1)")]
MigrateStateOption = Annotated[bool, typer.Option("--migrate-state", envvar="MIGRATE_STATE",
                                                  help="aws: copy the existing state into a newly configured backend")]


def say(line: str) -> None:
    console.print(line, highlight=False)


def _choose(backend: str | None) -> tuple[Settings, Choice]:
    settings = Settings.from_env()
    return settings, choose(settings, backend)


def _stack_for(settings: Settings, choice: Choice, announce: bool = False) -> Stack:
    if announce:
        say(f"backend: [bold]{choice.backend}[/bold] ({choice.reason})")
    if choice.backend == "aws":
        # The region the deployment went to, which may have come from a profile rather than the environment.
        deployed = load_outputs(settings, "aws")
        if deployed and deployed.get("region"):
            settings = dataclasses.replace(settings, region=deployed["region"])
    return Stack(choice.backend, settings)


def _stack(backend: str | None, announce: bool = False) -> Stack:
    return _stack_for(*_choose(backend), announce=announce)


def _running_stack(backend: str | None) -> Stack:
    """The stack, for commands that talk to it: an emulator that is not up is said so, not a connection error."""
    stack = _stack(backend)
    if stack.emulator is not None and not stack.emulator.healthy():
        raise EmulatorError(f"{stack.backend} does not answer at {stack.endpoint}: `make up` (or `tickstack up`) "
                            "starts it and deploys the pipeline")
    return stack


def _fail(exc: Exception) -> None:
    # soft_wrap: a refusal stays on one line however narrow the terminal.
    console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _aws(env: str, backend_config: Path | None, auto_approve: bool = False, migrate_state: bool = False) -> AwsTarget:
    return AwsTarget(Settings.from_env(), env, say, backend_config=backend_config, migrate_state=migrate_state,
                     auto_approve=auto_approve)


def _aws_only(backend: str | None, command: str) -> None:
    if (backend or "aws") != "aws":
        raise BackendError(f"`{command}` is for --backend aws; an emulator is deployed with `tickstack up` "
                           "and emptied with `tickstack down`")


@app.command()
def up(backend: BackendOption = None) -> None:
    """Start the emulator (if the backend has one) and deploy the pipeline onto it."""
    try:
        settings, choice = _choose(backend)
        if choice.backend == "aws":
            raise BackendError("`up` starts an emulator; to deploy to AWS use `make deploy-aws` "
                               "(tickstack deploy --backend aws), which shows the plan first")
        lifecycle.up(_stack_for(settings, choice, announce=True), say)
    except KNOWN_ERRORS as exc:
        _fail(exc)


@app.command()
def deploy(backend: BackendOption = None, env: EnvOption = DEFAULT_ENVIRONMENT,
           backend_config: BackendConfigOption = None, auto_approve: AutoApproveOption = False,
           migrate_state: MigrateStateOption = False) -> None:
    """Apply the Terraform onto a backend (rebuilding the Lambda package first); on aws, plan and confirm first."""
    try:
        settings, choice = _choose(backend)
        if choice.backend == "aws":
            # Nothing printed before the checks: a refusal on aws is one line.
            _aws(env, backend_config, auto_approve, migrate_state).deploy()
        else:
            lifecycle.deploy(_stack_for(settings, choice, announce=True), say)
    except KNOWN_ERRORS as exc:
        _fail(exc)


@app.command()
def plan(backend: BackendOption = None, env: EnvOption = DEFAULT_ENVIRONMENT,
         backend_config: BackendConfigOption = None, migrate_state: MigrateStateOption = False) -> None:
    """aws: show what deploy would change in the account, changing nothing."""
    try:
        _aws_only(backend, "plan")
        _aws(env, backend_config, migrate_state=migrate_state).plan()
    except KNOWN_ERRORS as exc:
        _fail(exc)


@app.command()
def destroy(backend: BackendOption = None, env: EnvOption = DEFAULT_ENVIRONMENT,
            backend_config: BackendConfigOption = None, auto_approve: AutoApproveOption = False) -> None:
    """aws: remove everything deploy created in the environment, archive bucket included, after confirmation."""
    try:
        _aws_only(backend, "destroy")
        _aws(env, backend_config, auto_approve).destroy()
    except KNOWN_ERRORS as exc:
        _fail(exc)


@app.command()
def down(backend: BackendOption = None) -> None:
    """Stop the emulator; everything deployed on it goes with it."""
    try:
        lifecycle.down(_stack(backend, announce=True), say)
    except KNOWN_ERRORS as exc:
        _fail(exc)


@app.command()
def replay(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="JSON-lines recordings")],
    speed: Annotated[Optional[float], typer.Option(min=0.01, help="At most this many ticks per second "
                                                                   "(default: as fast as the stream takes them)")] = None,
    wait: Annotated[bool, typer.Option(help="Return only when the pipeline has processed every tick")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most")] = 180.0,
    backend: BackendOption = None,
) -> None:
    """Send recorded ticks to the stream."""
    try:
        stack = _running_stack(backend)
        total = sum(1 for f in files for line in f.read_bytes().splitlines() if line.strip())
        with _progress() as progress:
            task = progress.add_task("sending", total=total)
            report = replay_ticks(stack, files, speed=speed, on_sent=lambda n: progress.advance(task, n))
            if wait:
                stored = progress.add_task("processed", total=len(report.valid_keys))
                wait_processed(stack, report, timeout=timeout,
                               on_progress=lambda done, _total: progress.update(stored, completed=done))
        for line, reason in report.invalid:
            say(f"[yellow]quarantined[/yellow] {line.source}:{line.line_number}: {reason}")
        state = "processed" if wait else "sent"
        say(f"{len(report.sent)} ticks {state} ({len(report.valid_keys)} valid, {len(report.invalid)} quarantined)")
    except KNOWN_ERRORS as exc:
        _fail(exc)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


def _symbols(value: str) -> list[str]:
    symbols = [s.strip().upper() for s in value.split(",") if s.strip()]
    if not symbols:
        raise typer.BadParameter("name at least one symbol")
    return symbols


SymbolsOption = Annotated[str, typer.Option(help="Comma-separated tickers")]
IntervalOption = Annotated[float, typer.Option(min=1.0, help="Seconds between ticks of one symbol")]
CountOption = Annotated[Optional[int], typer.Option(min=1, help="Stop after this many rounds (default: run until Ctrl-C)")]


def _rounds(count: int | None, interval: float):
    number = 0
    while count is None or number < count:
        started = time.monotonic()
        yield number
        number += 1
        if count is None or number < count:
            time.sleep(max(0.0, interval - (time.monotonic() - started)))


@app.command()
def produce(symbols: SymbolsOption = "AAPL", interval: IntervalOption = 30.0, count: CountOption = None,
            backend: BackendOption = None) -> None:
    """Fetch live quotes from Yahoo Finance and put one tick per symbol per interval on the stream."""
    try:
        stack = _running_stack(backend)
        sink = KinesisSink(stack.client("kinesis"), stack.outputs["stream_name"])
        for _ in _rounds(count, interval):
            ticks = [fetch_tick(symbol) for symbol in _symbols(symbols)]
            sink.send([(t["symbol"], json.dumps(t).encode()) for t in ticks])
            for t in ticks:
                say(f"{t['timestamp']} {t['symbol']} {t['lastPrice']}")
    except KNOWN_ERRORS as exc:
        _fail(exc)
    except KeyboardInterrupt:
        say("stopped")


@app.command()
def record(out_file: Annotated[Path, typer.Option("--out", help="JSON-lines file to append ticks to")],
           symbols: SymbolsOption = "AAPL", interval: IntervalOption = 30.0, count: CountOption = None) -> None:
    """Record live quotes from Yahoo Finance as a replayable JSON-lines file."""
    try:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        with open(out_file, "a") as fh:
            for _ in _rounds(count, interval):
                for symbol in _symbols(symbols):
                    tick = fetch_tick(symbol)
                    write_tick(fh, tick)
                    say(f"{tick['timestamp']} {tick['symbol']} {tick['lastPrice']}")
    except KNOWN_ERRORS as exc:
        _fail(exc)
    except KeyboardInterrupt:
        say("stopped")


def _print_alerts(alerts: list[Alert]) -> None:
    """Short lines, so an 80-column terminal shows each alert unwrapped."""
    for a in alerts:
        colour = "green" if a.signal == "GOLDEN_CROSS" else "red"
        out.print(f"[bold]{a.symbol}[/bold] [{colour}]{a.signal}[/{colour}]  tick {a.timestamp}  price {a.price}",
                  highlight=False)
        out.print(f"  SMA-5 {a.sma5}  SMA-20 {a.sma20}  [dim]sent {a.sent_at}[/dim]", highlight=False)
        out.print(f"  subject: {a.subject}", highlight=False)
        for line in a.message.splitlines()[:1]:
            out.print(f"  message: {line}", highlight=False)


@app.command()
def alerts(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array, oldest first")] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new alerts until Ctrl-C")] = False,
    backend: BackendOption = None,
) -> None:
    """List every message the stack's SNS topic has sent (reading consumes nothing)."""
    try:
        stack = _running_stack(backend)
        seen = read_alerts(stack)
        if as_json and not follow:
            out.print_json(json.dumps([a.to_json() for a in seen]))
            return
        if as_json:
            for a in seen:
                out.print(json.dumps(a.to_json()), highlight=False)
        elif seen:
            out.print(f"SNS alerts sent: {len(seen)}")
            _print_alerts(seen)
        elif not follow:
            out.print("no alerts sent yet")
        known = {a.message_id for a in seen}
        while follow:
            time.sleep(2.0)
            fresh = [a for a in read_alerts(stack) if a.message_id not in known]
            known.update(a.message_id for a in fresh)
            for a in fresh:
                if as_json:
                    out.print(json.dumps(a.to_json()), highlight=False)
                else:
                    _print_alerts([a])
    except KNOWN_ERRORS as exc:
        _fail(exc)
    except KeyboardInterrupt:
        pass


@app.command()
def athena(
    name: Annotated[Optional[str], typer.Argument(help="A query named in athena/queries.sql")] = None,
    sql: Annotated[Optional[str], typer.Option(help="Run this SQL instead; {table} stands for the Glue table")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as one JSON array of objects")] = False,
    backend: BackendOption = None,
) -> None:
    """Run a named query (or --sql) over the S3 archive through Athena; without either, list the queries."""
    queries = load_queries()
    if name is None and sql is None:
        for query in queries.values():
            out.print(f"[bold]{query.name}[/bold]  {query.description}", highlight=False)
        return
    if name is not None and name not in queries:
        _fail(RuntimeError(f"no query named {name!r} in athena/queries.sql: choose one of {', '.join(queries)}"))
    try:
        stack = _running_stack(backend)
        query = queries[name] if name is not None else NamedQuery("sql", "", sql)
        columns, rows = run_query(stack, query.for_table(stack.outputs.get("glue_table") or ""))
    except KNOWN_ERRORS as exc:
        _fail(exc)
    if as_json:
        out.print_json(json.dumps([dict(zip(columns, row)) for row in rows]))
        return
    table = Table(*columns, title=name or "query", title_justify="left")
    for row in rows:
        table.add_row(*(value if value is not None else "" for value in row))
    out.print(table)


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
           backend: BackendOption = None) -> None:
    """Which backend is in use and what is deployed on it."""
    try:
        stack = _stack(backend)
        info = describe(stack)
    except KNOWN_ERRORS as exc:
        _fail(exc)
    if as_json:
        out.print_json(json.dumps(info))
        return
    table = Table(show_header=False, title=f"tickstack on {info['backend']}", title_justify="left")
    for key in ("backend", "endpoint", "region", "running", "deployed"):
        if key in info:
            table.add_row(key, str(info[key]))
    for key, value in info["resources"].items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    out.print(table)


def describe(stack: Stack) -> dict:
    info: dict = {"backend": stack.backend, "region": stack.settings.region}
    if stack.endpoint:
        info["endpoint"] = stack.endpoint
        info["running"] = stack.emulator.running()
    try:
        outputs = stack.outputs
    except NotDeployed:
        return {**info, "deployed": False, "resources": {}}
    info["deployed"] = True
    info["resources"] = {
        "stream": outputs["stream_name"],
        "table": outputs["table_name"],
        "trend_state_table": outputs["trend_state_table_name"],
        "bucket": outputs["bucket_name"],
        "topic_arn": outputs["topic_arn"],
        "alert_audit_queue_url": outputs["alert_audit_queue_url"],
        "functions": outputs["function_names"],
        "glue_table": f"{outputs['glue_database']}.{outputs['glue_table']}" if outputs.get("glue_table") else None,
        "dashboard": outputs["dashboard_name"],
    }
    return info


if __name__ == "__main__":
    sys.exit(app())
