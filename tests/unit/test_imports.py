"""The pure modules stay pure, and the handlers import with nothing configured."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import stock_pipeline

PACKAGE = Path(stock_pipeline.__file__).parent
PURE_MODULES = ("contract", "ticks", "trend", "lateness", "faults")
# The pure modules may import each other, and nothing else outside the standard library.
PURE_IMPORTS = {f"stock_pipeline.{module}" for module in PURE_MODULES}
AWS_MODULES = ("boto3", "botocore", "aws_lambda_powertools", "mypy_boto3")


def run_python(code: str, env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def bare_environment() -> dict[str, str]:
    """Only what an interpreter needs to find the package: no AWS or Powertools settings."""
    keep = ("PATH", "PYTHONPATH", "SYSTEMROOT", "HOME")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE.parent), env.get("PYTHONPATH")]))
    return env


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_import_nothing_from_aws(module: str) -> None:
    # GIVEN a fresh interpreter
    # WHEN only the pure module is imported
    loaded = json.loads(
        run_python(
            f"import json, sys; import stock_pipeline.{module}; print(json.dumps(sorted(sys.modules)))",
            bare_environment(),
        )
    )

    # THEN no AWS library came with it
    assert [name for name in loaded if name.split(".")[0] in AWS_MODULES] == []


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_source_imports_only_the_standard_library(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module if node.module in PURE_IMPORTS else node.module.split(".")[0])

    assert imported <= set(sys.stdlib_module_names) | {"__future__"} | PURE_IMPORTS


def test_handlers_import_with_no_environment_set() -> None:
    out = run_python(
        "import stock_pipeline.process_stock_data as p, stock_pipeline.stock_trend_analysis as t;"
        "print(callable(p.lambda_handler) and callable(t.lambda_handler))",
        bare_environment(),
    )

    assert out.strip() == "True"
