"""Commands that bring the stack up, deploy it and take it down, and say what is deployed."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from tickstack.cli.app import app
from tickstack.cli.options import (AutoApproveOption, BackendConfigOption, EnvOption, MigrateStateOption,
                                   TargetOption, announced, target)
from tickstack.cli.output import out
from tickstack.deploy import pipeline
from tickstack.errors import NotDeployed
from tickstack.targets import AwsOptions, Target


@app.command()
def up(target_name: TargetOption = None) -> None:
    """Start the emulator and deploy the pipeline onto it."""
    pipeline.up(*announced(target_name))


@app.command()
def deploy(target_name: TargetOption = None, env: EnvOption = None, backend_config: BackendConfigOption = None,
           auto_approve: AutoApproveOption = False, migrate_state: MigrateStateOption = False) -> None:
    """Apply the Terraform onto the target (rebuilding the Lambda package first); on aws, plan and confirm first."""
    aws = AwsOptions(env, backend_config, auto_approve, migrate_state)
    pipeline.deploy(*announced(target_name, aws))


@app.command()
def plan(target_name: TargetOption = None, env: EnvOption = None, backend_config: BackendConfigOption = None,
         migrate_state: MigrateStateOption = False) -> None:
    """Show what deploy would change on the target, changing nothing."""
    aws = AwsOptions(env, backend_config, migrate_state=migrate_state)
    pipeline.plan(*announced(target_name, aws))


@app.command()
def destroy(target_name: TargetOption = None, env: EnvOption = None, backend_config: BackendConfigOption = None,
            auto_approve: AutoApproveOption = False) -> None:
    """aws: remove everything deploy created in the environment, archive bucket included, after confirmation."""
    aws = AwsOptions(env, backend_config, auto_approve)
    chosen, say_ = announced(target_name, aws)
    chosen.destroy(say_)


@app.command()
def down(target_name: TargetOption = None,
         wipe: Annotated[bool, typer.Option("--wipe", help="Also forget the state a persistent emulator kept")] = False,
         ) -> None:
    """Stop the emulator; everything deployed on it goes with it (kept, if it was started with TICKSTACK_PERSIST=1)."""
    chosen, say = announced(target_name)
    pipeline.down(chosen, say, wipe=wipe)


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
           target_name: TargetOption = None) -> None:
    """Which target is in use and what is deployed on it."""
    info = describe(target(target_name))
    if as_json:
        out.print_json(json.dumps(info))
        return
    table = Table(show_header=False, title=f"tickstack on {info['target']}", title_justify="left")
    for key, value in info.items():
        if key != "resources":
            table.add_row(key, str(value))
    for key, value in info["resources"].items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    out.print(table)


def describe(chosen: Target) -> dict:
    info = chosen.describe()
    try:
        outputs = chosen.outputs
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
    # Symbols whose analysis stands still while their ticks arrive late (tickstack.ops.health);
    # None when the target cannot be asked (an emulator that is not running, a failed call).
    from botocore.exceptions import BotoCoreError, ClientError

    from tickstack.ops.health import stalled_after_seconds, stalled_symbols

    info["stalled_after_seconds"] = stalled_after_seconds(outputs)
    info["stalled_symbols"] = None
    if info.get("running", True) and chosen.healthy():
        try:
            info["stalled_symbols"] = stalled_symbols(chosen)
        except (BotoCoreError, ClientError) as exc:
            info["stalled_symbols_error"] = " ".join(str(exc).split())
    return info
