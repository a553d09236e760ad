"""Replay recorded ticks into a deployed stack, and wait until the pipeline has processed them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from producer.kinesis import KinesisSink, Sent
from producer.recording import RecordedLine, read_lines
from stock_pipeline.adapters import DynamoDBTrendStateStore
from stock_pipeline.contract import (DEFAULT_FUTURE_TOLERANCE_SECONDS, REJECTED_PREFIX, TickItem,
                                     rejected_sequence_number)
from stock_pipeline.ticks import InvalidTick, check_not_future, parse_tick
from tickstack.targets import Target
from tickstack.waiting import wait_until

BATCH_GET_LIMIT = 100


@dataclass
class ReplayReport:
    sent: list[Sent] = field(default_factory=list)
    valid_keys: dict[tuple[str, str], RecordedLine] = field(default_factory=dict)
    invalid: list[tuple[RecordedLine, str]] = field(default_factory=list)

    @property
    def newest_per_symbol(self) -> dict[str, str]:
        newest: dict[str, str] = {}
        for symbol, timestamp in self.valid_keys:
            newest[symbol] = max(newest.get(symbol, ""), timestamp)
        return newest


def classify(lines: Iterable[RecordedLine], report: ReplayReport,
             future_tolerance_seconds: float = DEFAULT_FUTURE_TOLERANCE_SECONDS) -> list[RecordedLine]:
    """Tell ahead which lines the pipeline will store and which it will quarantine (same validation code,
    this machine's clock standing in for the function's)."""
    kept = []
    now = time.time()
    for line in lines:
        kept.append(line)
        try:
            tick = check_not_future(parse_tick(line.data), now, future_tolerance_seconds)
        except InvalidTick as exc:
            report.invalid.append((line, exc.reason))
            continue
        report.valid_keys[(tick.symbol, tick.timestamp)] = line
    return kept


def replay(
    target: Target,
    paths: list[Path],
    speed: float | None = None,
    on_sent: Callable[[int], None] = lambda n: None,
) -> ReplayReport:
    """Send every recorded line; with ``speed`` at most that many ticks per second, else as fast as accepted."""
    report = ReplayReport()
    tolerance = target.outputs.get("future_tolerance_seconds", DEFAULT_FUTURE_TOLERANCE_SECONDS)
    lines = classify(read_lines(paths), report, tolerance)
    sink = KinesisSink(target.client("kinesis"), target.outputs["stream_name"])
    records = [(line.partition_key, line.data) for line in lines]
    if speed is None:
        chunk, pause = 500, 0.0
    else:
        chunk, pause = 1, 1.0 / speed
    started = time.monotonic()
    for index in range(0, len(records), chunk):
        if pause:
            # Pacing, not waiting for an effect: the next tick is due at a fixed rate.
            due = started + index * pause
            time.sleep(max(0.0, due - time.monotonic()))
        batch = sink.send(records[index:index + chunk])
        report.sent.extend(batch)
        on_sent(len(batch))
    return report


def _stored_keys(target: Target, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    dynamodb = target.client("dynamodb")
    table = target.outputs["table_name"]
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request = {
            table: {
                "Keys": [{TickItem.SYMBOL: {"S": s}, TickItem.TIMESTAMP: {"S": t}}
                         for s, t in keys[start:start + BATCH_GET_LIMIT]],
                "ProjectionExpression": "#symbol, #ts",
                "ExpressionAttributeNames": {"#symbol": TickItem.SYMBOL, "#ts": TickItem.TIMESTAMP},
            }
        }
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                found.add((item[TickItem.SYMBOL]["S"], item[TickItem.TIMESTAMP]["S"]))
            request = response.get("UnprocessedKeys") or {}
    return found


def _trend_caught_up(target: Target, newest: dict[str, str]) -> bool:
    """True once each symbol's analysis has reached its newest tick and published everything it found."""
    states = DynamoDBTrendStateStore(target.outputs["trend_state_table_name"], client=target.client("dynamodb"))
    for symbol, timestamp in newest.items():
        stored = states.get(symbol)
        if stored is None or (stored.trend.last_timestamp or "") < timestamp or stored.pending:
            return False
    return True


def _quarantined(target: Target, sent: list[Sent], invalid: list[RecordedLine]) -> bool:
    if not invalid:
        return True
    invalid_data = {line.data for line in invalid}
    wanted = {s.sequence_number for s in sent if s.data in invalid_data}
    prefix = target.outputs.get("rejected_prefix", REJECTED_PREFIX)
    s3 = target.client("s3")
    found = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=target.outputs["bucket_name"], Prefix=prefix):
        found.update(rejected_sequence_number(obj["Key"], prefix) for obj in page.get("Contents", []))
    return found >= wanted


def wait_stored(target: Target, report: ReplayReport, timeout: float = 180.0,
                on_progress: Callable[[int, int], None] = lambda done, total: None) -> None:
    """Return once every valid tick of the replay is in the ticks table."""
    remaining = set(report.valid_keys)
    total = len(remaining)

    def stored() -> bool:
        remaining.difference_update(_stored_keys(target, sorted(remaining)))
        on_progress(total - len(remaining), total)
        return not remaining

    wait_until(stored, timeout=timeout, what=f"{total} ticks in {target.outputs['table_name']}")


def wait_processed(target: Target, report: ReplayReport, timeout: float = 180.0,
                   on_progress: Callable[[int, int], None] = lambda done, total: None) -> None:
    """Return once every valid tick is stored, analysed for crosses, and every invalid one quarantined."""
    wait_stored(target, report, timeout, on_progress)
    wait_until(lambda: _trend_caught_up(target, report.newest_per_symbol), timeout=timeout,
               what="the trend analysis to reach the newest tick")
    wait_until(lambda: _quarantined(target, report.sent, [line for line, _ in report.invalid]), timeout=timeout,
               what=f"{len(report.invalid)} invalid ticks to be quarantined")
