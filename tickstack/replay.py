"""Replay recorded ticks into a deployed stack, and wait until the pipeline has processed them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from producer.kinesis import KinesisSink, Sent
from producer.recording import RecordedLine, read_lines
from stock_pipeline.ticks import InvalidTick, parse_tick
from tickstack.stack import Stack
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


def classify(lines: Iterable[RecordedLine], report: ReplayReport) -> list[RecordedLine]:
    """Tell ahead which lines the pipeline will store and which it will quarantine (same validation code)."""
    kept = []
    for line in lines:
        kept.append(line)
        try:
            tick = parse_tick(line.data)
        except InvalidTick as exc:
            report.invalid.append((line, exc.reason))
            continue
        report.valid_keys[(tick.symbol, tick.timestamp)] = line
    return kept


def replay(
    stack: Stack,
    paths: list[Path],
    speed: float | None = None,
    on_sent: Callable[[int], None] = lambda n: None,
) -> ReplayReport:
    """Send every recorded line; with ``speed`` at most that many ticks per second, else as fast as accepted."""
    report = ReplayReport()
    lines = classify(read_lines(paths), report)
    sink = KinesisSink(stack.client("kinesis"), stack.outputs["stream_name"])
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


def _stored_keys(stack: Stack, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    dynamodb = stack.client("dynamodb")
    table = stack.outputs["table_name"]
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request = {
            table: {
                "Keys": [{"symbol": {"S": s}, "timestamp": {"S": t}} for s, t in keys[start:start + BATCH_GET_LIMIT]],
                "ProjectionExpression": "symbol, #ts",
                "ExpressionAttributeNames": {"#ts": "timestamp"},
            }
        }
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                found.add((item["symbol"]["S"], item["timestamp"]["S"]))
            request = response.get("UnprocessedKeys") or {}
    return found


def _trend_caught_up(stack: Stack, newest: dict[str, str]) -> bool:
    dynamodb = stack.client("dynamodb")
    table = stack.outputs["trend_state_table_name"]
    for symbol, timestamp in newest.items():
        item = dynamodb.get_item(TableName=table, Key={"symbol": {"S": symbol}}, ConsistentRead=True).get("Item")
        if not item or item.get("last_timestamp", {}).get("S", "") < timestamp:
            return False
        if item.get("pending", {}).get("L"):
            return False
    return True


def _quarantined(stack: Stack, sent: list[Sent], invalid: list[RecordedLine]) -> bool:
    if not invalid:
        return True
    invalid_data = {line.data for line in invalid}
    wanted = {s.sequence_number for s in sent if s.data in invalid_data}
    s3 = stack.client("s3")
    found = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.outputs["bucket_name"], Prefix="rejected/"):
        for obj in page.get("Contents", []):
            found.update(seq for seq in wanted if obj["Key"].endswith(f"-{seq}.json"))
    return found >= wanted


def wait_processed(stack: Stack, report: ReplayReport, timeout: float = 180.0,
                   on_progress: Callable[[int, int], None] = lambda done, total: None) -> None:
    """Return once every valid tick is stored, analysed for crosses, and every invalid one quarantined."""
    keys = list(report.valid_keys)
    remaining = set(keys)
    total = len(keys)

    def stored() -> bool:
        remaining.difference_update(_stored_keys(stack, sorted(remaining)))
        on_progress(total - len(remaining), total)
        return not remaining

    wait_until(stored, timeout=timeout, what=f"{total} ticks in {stack.outputs['table_name']}")
    wait_until(lambda: _trend_caught_up(stack, report.newest_per_symbol), timeout=timeout,
               what="the trend analysis to reach the newest tick")
    wait_until(lambda: _quarantined(stack, report.sent, [line for line, _ in report.invalid]), timeout=timeout,
               what=f"{len(report.invalid)} invalid ticks to be quarantined")
