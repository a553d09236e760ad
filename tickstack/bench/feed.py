"""The ticks the bench sends: real daily bars as a live feed sends them, and ticks made for one purpose.

- `recording`: every daily bar of the chosen symbols (tickstack.ops.sample_data), in time order with
  the symbols interleaved, as a feed of all of them would arrive (not one symbol after another).
- `continuation`: more ticks for symbols already in the table, the trading days after their last
  bar, prices walking at random from the last close (seeded: the same every run).
- `crossing_series`: ticks of one symbol whose short and long averages cross again and again.

`StreamFeed` is a target as `tickstack.ops.replay.replay` sees it, sending through a Kinesis client
the bench counts, to the stream it names.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path

from tickstack.ops import sample_data
from tickstack.ops.backtest import RecordingTable, analyse, recorded_price
from tickstack.targets import Target


class StreamFeed:
    """`target` with its stream replaced by `stream_name` and its Kinesis client by `kinesis`.

    The target need not have the pipeline deployed (the ceiling chain's emulator has not): what the
    replay reads of a deployment beyond the stream then takes its defaults.
    """

    def __init__(self, target: Target, stream_name: str, kinesis) -> None:
        self._target, self._kinesis = target, kinesis
        self.outputs = {**(target.outputs if target.deployed() else {}), "stream_name": stream_name}

    def client(self, service: str):
        return self._kinesis if service == "kinesis" else self._target.client(service)


def recording(symbols: Sequence[str]) -> list[dict]:
    ticks = [tick for symbol in symbols for tick in sample_data.recording(symbol)]
    return sorted(ticks, key=lambda t: (t["timestamp"], t["symbol"]))


def write(path: Path, ticks: Sequence[dict]) -> Path:
    sample_data.write_recording(path, list(ticks))
    return path


def _next_trading_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _day(timestamp: str) -> date:
    return date.fromisoformat(timestamp[:10])


def tick(symbol: str, day: date, price: float, previous_close: float, volume: int) -> dict:
    opened = round(previous_close, 2)
    return {
        "symbol": symbol,
        "timestamp": sample_data.close_timestamp(day),
        "open": opened,
        "dayHigh": round(max(opened, price) * 1.004, 2),
        "dayLow": round(min(opened, price) * 0.996, 2),
        "lastPrice": price,
        "previousClose": previous_close,
        "lastVolume": volume,
    }


def last_ticks(ticks: Sequence[dict]) -> dict[str, dict]:
    """Each symbol's newest tick."""
    last: dict[str, dict] = {}
    for t in ticks:
        if t["timestamp"] >= last.get(t["symbol"], {}).get("timestamp", ""):
            last[t["symbol"]] = t
    return last


def continuation(last: dict[str, dict], seed: int = 7) -> Iterator[dict]:
    """Endless next ticks, one symbol after another in turn, each after its own last tick."""
    rng = random.Random(seed)
    state = {symbol: (_day(t["timestamp"]), float(t["lastPrice"]), int(t["lastVolume"])) for symbol, t in last.items()}
    while True:
        for symbol in sorted(state):
            day, close, volume = state[symbol]
            day = _next_trading_day(day)
            price = round(close * (1 + rng.gauss(0, 0.015)), 2)
            state[symbol] = (day, price, volume)
            yield tick(symbol, day, price, close, volume)


def crossing_series(symbol: str, start: date, long_window: int, crosses_wanted: int, half_period: int = 6
                    ) -> list[dict]:
    """`long_window` flat ticks, then a square wave that makes the averages cross every half period."""
    ticks, day, close = [], start, 100.0
    for i in range(long_window + 2 * half_period * (crosses_wanted // 2 + 2)):
        price = 100.0 if i < long_window else (108.0 if ((i - long_window) // half_period) % 2 == 0 else 92.0)
        day = _next_trading_day(day)
        ticks.append(tick(symbol, day, price, close, 1000))
        close = price
    return ticks


def crosses(ticks: Sequence[dict], short_window: int, long_window: int) -> list[dict]:
    """The alerts the functions' own code makes of `ticks` (the backtest's analysis)."""
    table = RecordingTable()
    for t in ticks:
        table.put(*recorded_price(json.dumps(t).encode()))
    return analyse(table, short_window, long_window).alerts
