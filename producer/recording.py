"""Recorded ticks: one JSON object per line, in the fields the live producer gets from yfinance."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, TextIO

UNKNOWN_PARTITION = "unknown"


@dataclass(frozen=True)
class RecordedLine:
    """A line as recorded: sent verbatim, so a bad line reaches the pipeline and is quarantined there."""

    source: str
    line_number: int
    data: bytes
    partition_key: str


def _partition_key(tick: object) -> str:
    if isinstance(tick, dict) and isinstance(tick.get("symbol"), str) and tick["symbol"].strip():
        return tick["symbol"].strip().upper()
    return UNKNOWN_PARTITION


def read_lines(paths: Iterable[Path]) -> Iterator[RecordedLine]:
    for path in paths:
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, start=1):
                data = raw.strip()
                if not data:
                    continue
                try:
                    tick = json.loads(data)
                except ValueError:
                    tick = None
                yield RecordedLine(str(path), number, data, _partition_key(tick))


def write_tick(out: TextIO, tick: dict) -> None:
    out.write(json.dumps(tick, separators=(", ", ": ")) + "\n")
    out.flush()
