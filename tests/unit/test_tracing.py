from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_lambda_powertools import Tracer

from stock_pipeline.tracing import Untraced, make_tracer

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"


def modules_loaded_by_the_handlers(trace_disabled: str) -> set[str]:
    """The top-level modules a fresh interpreter holds once both handlers are imported."""
    env = {**os.environ, "PYTHONPATH": str(LAMBDA_DIR), "POWERTOOLS_TRACE_DISABLED": trace_disabled}
    code = ("import sys, stock_pipeline.process_stock_data, stock_pipeline.stock_trend_analysis; "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_with_tracing_off_the_handlers_never_load_the_xray_sdk() -> None:
    # As on every emulator, where Terraform turns tracing off
    assert "aws_xray_sdk" not in modules_loaded_by_the_handlers("true")


def test_with_tracing_on_the_handlers_trace_with_powertools() -> None:
    # As on AWS
    assert "aws_xray_sdk" in modules_loaded_by_the_handlers("false")


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_tracing_off_is_read_as_powertools_reads_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", value)
    assert isinstance(make_tracer(), Untraced)


def test_tracing_on_gives_a_powertools_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    assert isinstance(make_tracer(), Tracer)


def test_untraced_decorators_hand_the_function_back_in_both_forms() -> None:
    def handler(event: dict, context: object) -> str:
        return "done"

    untraced = Untraced()
    assert untraced.capture_lambda_handler(handler) is handler
    assert untraced.capture_method(handler, capture_response=False) is handler
    assert untraced.capture_method(capture_response=False)(handler) is handler
    assert untraced.capture_lambda_handler()(handler) is handler
