"""Commands that produce ticks: live quotes onto the stream, or into a recording."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from producer.kinesis import KinesisSink, StreamRejected
from producer.live import LiveDataUnavailable, fetch_tick
from producer.recording import write_tick
from tickstack.cli.app import app
from tickstack.cli.data import ProducerFailed
from tickstack.cli.options import TargetOption, running_target
from tickstack.cli.output import say


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


def _poll(symbols: list[str]) -> list[dict]:
    try:
        return [fetch_tick(symbol) for symbol in symbols]
    except LiveDataUnavailable as exc:
        raise ProducerFailed(str(exc)) from exc


@app.command()
def produce(symbols: SymbolsOption = "AAPL", interval: IntervalOption = 30.0, count: CountOption = None,
            target_name: TargetOption = None) -> None:
    """Fetch live quotes from Yahoo Finance and put one tick per symbol per interval on the stream."""
    target = running_target(target_name)
    sink = KinesisSink(target.client("kinesis"), target.outputs["stream_name"])
    try:
        for _ in _rounds(count, interval):
            ticks = _poll(_symbols(symbols))
            sink.send([(t["symbol"], json.dumps(t).encode()) for t in ticks])
            for t in ticks:
                say(f"{t['timestamp']} {t['symbol']} {t['lastPrice']}")
    except StreamRejected as exc:
        raise ProducerFailed(str(exc)) from exc
    except KeyboardInterrupt:
        say("stopped")


@app.command()
def record(out_file: Annotated[Path, typer.Option("--out", help="JSON-lines file to append ticks to")],
           symbols: SymbolsOption = "AAPL", interval: IntervalOption = 30.0, count: CountOption = None) -> None:
    """Record live quotes from Yahoo Finance as a replayable JSON-lines file."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(out_file, "a") as fh:
            for _ in _rounds(count, interval):
                for tick in _poll(_symbols(symbols)):
                    write_tick(fh, tick)
                    say(f"{tick['timestamp']} {tick['symbol']} {tick['lastPrice']}")
    except KeyboardInterrupt:
        say("stopped")
