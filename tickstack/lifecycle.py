"""Bring a stack up, deploy it, take it down: the same steps for every backend."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Callable

from tickstack.backends import forget, remember
from tickstack.settings import PROJECT_ROOT
from tickstack.stack import LAMBDA_ZIP, Stack
from tickstack.waiting import wait_until

Say = Callable[[str], None]


def build_lambda_zip(out: Path = LAMBDA_ZIP) -> str:
    spec = importlib.util.spec_from_file_location("build_lambda", PROJECT_ROOT / "scripts" / "build_lambda.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_lambda", module)
    spec.loader.exec_module(module)
    return module.build(out)


def start_emulator(stack: Stack, say: Say) -> None:
    emulator = stack.emulator
    fresh = not emulator.running()
    say(emulator.start())
    if fresh:
        # A newly started emulator holds nothing, so state left from an earlier run describes nothing real.
        stack.terraform().forget_state()


def deploy(stack: Stack, say: Say) -> dict:
    digest = build_lambda_zip()
    say(f"Lambda package built: {LAMBDA_ZIP.relative_to(PROJECT_ROOT)} (sha256 {digest[:12]})")
    # An emulator may lack a service (LocalStack's free tier has no Glue): it says so and switches it off.
    extra_vars = stack.emulator.terraform_vars(say) if stack.emulator is not None else {}
    terraform = stack.terraform(extra_vars=extra_vars)
    say(f"terraform init + apply, target {stack.backend}, state {terraform.state_path}")
    terraform.init()
    outputs = terraform.apply()
    lambda_client = stack.client("lambda")
    for name in outputs["function_names"].values():
        wait_until(
            lambda name=name: lambda_client.get_function(FunctionName=name)["Configuration"].get("State", "Active")
            == "Active",
            timeout=120,
            what=f"function {name} to become Active",
        )
    remember(stack.settings, stack.backend)
    say(f"deployed on {stack.backend}: stream {outputs['stream_name']}, table {outputs['table_name']}")
    return outputs


def up(stack: Stack, say: Say) -> dict:
    if stack.emulator is not None:
        start_emulator(stack, say)
    return deploy(stack, say)


def down(stack: Stack, say: Say) -> None:
    if stack.emulator is None:
        raise RuntimeError("`down` stops an emulator; to remove the cloud deployment use `make destroy-aws`")
    say(stack.emulator.stop())
    # The emulator kept everything in memory; its resources are gone, and so is the state describing them.
    stack.terraform().forget_state()
    forget(stack.settings, stack.backend)
