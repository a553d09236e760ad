"""Bring the pipeline up, deploy it, take it down: one path for every target.

What differs between targets (starting an emulator, the checks before an AWS deploy, the plan
and the question before an AWS apply) is asked of the target; the steps are the same.
"""

from __future__ import annotations

from typing import Callable

from tickstack.deploy.package import LAMBDA_ZIP, build
from tickstack.settings import PROJECT_ROOT
from tickstack.targets import Target, forget, remember

Say = Callable[[str], None]
ACTIVE_TIMEOUT_SECONDS = 120


def build_package(say: Say) -> str:
    digest = build(LAMBDA_ZIP)
    say(f"Lambda package built: {LAMBDA_ZIP.relative_to(PROJECT_ROOT)} (sha256 {digest[:12]})")
    return digest


def wait_functions_active(target: Target, function_names: list[str]) -> None:
    lambda_client = target.client("lambda")
    waiter = lambda_client.get_waiter("function_active_v2")
    delay = 1
    for name in function_names:
        waiter.wait(FunctionName=name,
                    WaiterConfig={"Delay": delay, "MaxAttempts": ACTIVE_TIMEOUT_SECONDS // delay})


def deploy(target: Target, say: Say) -> dict:
    target.prepare(say)
    build_package(say)
    terraform = target.terraform(target.terraform_variables(say))
    say(f"terraform init + apply, target {target.name}, state {terraform.state_location}")
    target.init_terraform(terraform, say)
    outputs = target.apply(terraform, say)
    wait_functions_active(target, list(outputs["function_names"].values()))
    say(f"deployed on {terraform.label}: stream {outputs['stream_name']}, table {outputs['table_name']}, "
        f"bucket {outputs['bucket_name']}")
    return outputs


def plan(target: Target, say: Say) -> None:
    """Show what deploy would change, changing nothing."""
    target.prepare(say)
    build_package(say)
    terraform = target.terraform(target.terraform_variables(say))
    target.init_terraform(terraform, say)
    terraform.plan()


def up(target: Target, say: Say) -> dict:
    """Start an emulator and deploy onto it; later commands then address it without being told."""
    target.start(say)
    outputs = deploy(target, say)
    remember(target)
    return outputs


def down(target: Target, say: Say, wipe: bool = False) -> None:
    """Stop the target; unless it keeps its state (and is not asked to wipe it), what was deployed goes too."""
    target.stop(say)
    if wipe:
        target.wipe(say)
    if wipe or not target.keeps_state:
        # The resources are gone, and so is the state describing them.
        target.terraform().forget_state()
    forget(target)
