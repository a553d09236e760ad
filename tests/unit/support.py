"""Shared pieces of the unit tests: Lambda context, event files, captured handler output."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EVENTS = Path(__file__).parent / "events"


@dataclass
class LambdaContext:
    function_name: str = "tickstack-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:tickstack-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"


def raw_tick(**overrides: Any) -> dict[str, Any]:
    """AAPL's 2012-11-26 daily bar as the producer sends it (yfinance's field names), with `overrides`."""
    tick = {
        "symbol": "AAPL",
        "timestamp": "2012-11-26T21:00:00Z",
        "open": 561.7,
        "dayHigh": 590.0,
        "dayLow": 558.5,
        "lastPrice": 589.53,
        "previousClose": 571.5,
        "lastVolume": 4625000,
    }
    tick.update(overrides)
    return tick


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def minute(i: int, start: str = "2024-03-01T15:00:00Z") -> str:
    """The timestamp i minutes after `start`, in the ticks table's format."""
    base = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return (base + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")


class CapturedOutput:
    """Structured log lines and EMF metrics a handler wrote."""

    def __init__(self, log_stream: io.StringIO, capsys: pytest.CaptureFixture[str]) -> None:
        self._log_stream = log_stream
        self._capsys = capsys
        self._stdout = ""

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._log_stream.getvalue().splitlines() if line.strip()]

    def messages(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.logs() if line.get("message") == message]

    def metric(self, name: str) -> float:
        """Sum of one metric over every EMF document printed so far."""
        self._stdout += self._capsys.readouterr().out
        total = 0.0
        for line in self._stdout.splitlines():
            if not line.startswith("{"):
                continue
            document = json.loads(line)
            if "_aws" in document and name in document:
                value = document[name]
                total += sum(value) if isinstance(value, list) else value
        return total


@contextmanager
def captured(handler_module: ModuleType, capsys: pytest.CaptureFixture[str]) -> Iterator[CapturedOutput]:
    """Send the handler module's Powertools log lines to a buffer (they go to stdout in Lambda)."""
    stream = io.StringIO()
    handler = handler_module.logger.registered_handler
    previous = handler.setStream(stream)
    try:
        yield CapturedOutput(stream, capsys)
    finally:
        handler.setStream(previous)
