"""What each invocation took, read back from its function's log group: duration and log bytes.

Lambda (and MiniStack, which writes the same platform lines) ends every invocation's log with
``REPORT RequestId: <id>\tDuration: <ms> ms``. The bytes of an invocation's log events, each plus
the 26 bytes of metadata CloudWatch Logs bills per event, are what it would ingest on AWS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

EVENT_OVERHEAD_BYTES = 26
# FilterLogEvents answers at most this many events, with no token to go on (MiniStack 1.5.33).
FILTER_LIMIT = 10_000
_START = re.compile(r"^START RequestId: (\S+)")
_REPORT = re.compile(r"^REPORT RequestId: (\S+)\s+Duration: ([0-9.]+) ms")


@dataclass(frozen=True)
class Invocation:
    request_id: str
    ended_ms: int
    duration_ms: float
    log_bytes: int


def log_group(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def events(logs, group: str, start_ms: int, end_ms: int) -> list[dict]:
    """Every event of `group` stamped from `start_ms` to `end_ms`, halving the window when an answer is full."""
    try:
        found = logs.filter_log_events(logGroupName=group, startTime=start_ms, endTime=end_ms,
                                       limit=FILTER_LIMIT).get("events", [])
    except logs.exceptions.ResourceNotFoundException:
        return []
    if len(found) < FILTER_LIMIT or end_ms <= start_ms:
        return found
    middle = (start_ms + end_ms) // 2
    return events(logs, group, start_ms, middle) + events(logs, group, middle + 1, end_ms)


def invocations_in(found: Iterable[dict]) -> list[Invocation]:
    """Group events into invocations (START .. REPORT, per log stream, in order)."""
    open_: dict[str, tuple[str, int]] = {}
    done = []
    for event in found:
        stream, message = event.get("logStreamName", ""), event.get("message", "")
        size = len(message.encode("utf-8")) + EVENT_OVERHEAD_BYTES
        start = _START.match(message)
        if start:
            open_[stream] = (start[1], 0)
        request_id, total = open_.get(stream, ("", 0))
        total += size
        report = _REPORT.match(message)
        if report:
            done.append(Invocation(report[1], int(event.get("timestamp", 0)), float(report[2]), total))
            open_.pop(stream, None)
        else:
            open_[stream] = (request_id, total)
    return done


def invocations(logs, function_name: str, start_ms: int, end_ms: int) -> list[Invocation]:
    return invocations_in(events(logs, log_group(function_name), start_ms, end_ms))
