"""What the functions logged: CloudWatch Logs on every target, Powertools' JSON lines made readable.

Each function logs to ``/aws/lambda/<function name>`` (terraform/compute.tf creates the groups; the
names come from the deployment's ``function_names`` output). AWS and LocalStack keep those groups, and
so does MiniStack 1.5.33: its Lambda runtime writes each invocation's output (START, the handler's
lines, END, REPORT) into its CloudWatch Logs emulation, every line stamped with the invocation's time
and without event ids. So one reader serves every target.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Iterator

from botocore.exceptions import ClientError

from tickstack.errors import TickstackError

LOG_GROUP_PREFIX = "/aws/lambda/"
# Powertools' context keys: the same on every line of an invocation, so not shown per line.
CONTEXT_KEYS = frozenset({
    "level", "message", "timestamp", "location", "service", "cold_start", "function_name", "function_memory_size",
    "function_arn", "function_request_id", "xray_trace_id", "sampling_rate", "exception", "exception_name",
    "stack_trace",
})
_SINCE = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class LogsError(TickstackError):
    """The logs cannot be read as asked."""


def parse_since(text: str) -> timedelta:
    """'90s', '10m', '2h', '1d', '1h30m' as a duration."""
    cleaned = text.strip().lower()
    parts = _SINCE.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise LogsError(f"--since {text!r} is not a duration: use e.g. 30s, 10m, 2h, 1d or 1h30m")
    return sum((timedelta(**{_UNITS[unit]: int(n)}) for n, unit in parts), timedelta())


def log_groups(function_names: dict[str, str], wanted: str | None = None) -> dict[str, str]:
    """Function key (process, trend) -> log group, for one function or all of them."""
    if wanted is not None and wanted not in function_names:
        raise LogsError(f"no function {wanted!r}: choose one of {', '.join(function_names)}")
    keys = [wanted] if wanted else list(function_names)
    return {key: LOG_GROUP_PREFIX + function_names[key] for key in keys}


@dataclass(frozen=True)
class LogEvent:
    function: str
    """The function's key in the deployment's outputs: process or trend."""
    timestamp: int
    """Milliseconds since the epoch, as CloudWatch Logs stamps the event."""
    message: str
    key: tuple = ()
    """Identifies the event across reads (its event id where the target gives one)."""


@dataclass
class Entry:
    """One event as shown: its time, level, function, message and structured fields."""

    time: datetime
    level: str
    function: str
    message: str
    fields: dict = field(default_factory=dict)
    detail: str = ""
    """More lines under it: a traceback."""
    structured: bool = True


def _powertools_time(value: object) -> datetime | None:
    # Powertools' default format: "2026-11-25 22:51:11,361+0000".
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S,%f%z")
    except ValueError:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)


def entry(event: LogEvent) -> Entry:
    """A log event as an Entry: Powertools JSON and metric lines parsed, anything else kept as text."""
    stamped = datetime.fromtimestamp(event.timestamp / 1000, tz=timezone.utc)
    text = event.message.rstrip("\n")
    try:
        document = json.loads(text) if text.startswith("{") else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return Entry(stamped, "", event.function, text.replace("\t", "  "), structured=False)
    if "_aws" in document and "CloudWatchMetrics" in document["_aws"]:
        # Embedded metric format: the metrics the invocation emitted, summed.
        names = [m["Name"] for block in document["_aws"]["CloudWatchMetrics"] for m in block.get("Metrics", [])]
        fields = {}
        for name in names:
            values = document.get(name)
            fields[name] = _number(sum(values) if isinstance(values, list) else values)
        when = datetime.fromtimestamp(document["_aws"].get("Timestamp", event.timestamp) / 1000, tz=timezone.utc)
        return Entry(when, "METRIC", event.function, "metrics", fields)
    fields = {k: _value(v) for k, v in document.items() if k not in CONTEXT_KEYS}
    if document.get("cold_start") is True:
        fields["cold_start"] = "true"
    detail = document.get("exception") or ""
    if document.get("exception_name") and document.get("exception_name") not in detail:
        fields["exception_name"] = str(document["exception_name"])
    return Entry(
        time=_powertools_time(document.get("timestamp")) or stamped,
        level=str(document.get("level", "")).upper(),
        function=event.function,
        message=_value(document.get("message", "")),
        fields=fields,
        detail=str(detail),
    )


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class LogReader:
    """Reads the functions' log groups through a CloudWatch Logs client, merged in time order."""

    def __init__(self, client, groups: dict[str, str]) -> None:
        self.client = client
        self.groups = groups

    def read(self, start_ms: int) -> list[LogEvent]:
        events: list[LogEvent] = []
        for function, group in self.groups.items():
            events.extend(self._group_events(function, group, start_ms))
        # Stable: the events of one invocation keep their order (MiniStack stamps them all alike).
        return sorted(events, key=lambda e: e.timestamp)

    def _group_events(self, function: str, group: str, start_ms: int) -> Iterator[LogEvent]:
        kwargs = {"logGroupName": group, "startTime": start_ms}
        ordinal: dict[tuple, int] = {}
        while True:
            try:
                page = self.client.filter_log_events(**kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return  # nothing logged yet: the group appears with the first invocation on some targets
                raise
            for raw in page.get("events", []):
                stream, stamp = raw.get("logStreamName", ""), int(raw["timestamp"])
                if raw.get("eventId"):
                    key = (group, raw["eventId"])
                else:
                    # No event id (MiniStack): the n-th event of a stream at a given millisecond.
                    n = ordinal.get((stream, stamp), 0)
                    ordinal[(stream, stamp)] = n + 1
                    key = (group, stream, stamp, n)
                yield LogEvent(function, stamp, raw.get("message", ""), key)
            token = page.get("nextToken")
            if not token or token == kwargs.get("nextToken"):
                return
            kwargs["nextToken"] = token


def now_ms() -> int:
    return int(time.time() * 1000)


def read_logs(reader: LogReader, since: timedelta, clock: Callable[[], int] = now_ms) -> list[LogEvent]:
    return reader.read(clock() - int(since.total_seconds() * 1000))


def follow(reader: LogReader, since: timedelta, emit: Callable[[LogEvent], None],
           clock: Callable[[], int] = now_ms, sleep: Callable[[float], None] = time.sleep,
           interval: float = 1.0, polls: int | None = None) -> None:
    """Emit every event since ``since`` ago, then each new one as it arrives, until interrupted (or ``polls``)."""
    start = clock() - int(since.total_seconds() * 1000)
    seen: set[tuple] = set()
    done = 0
    while polls is None or done < polls:
        events = reader.read(start)
        for event in _new(events, seen):
            emit(event)
        if events:
            # Re-read the last millisecond: more events may still land with that stamp.
            start = max(start, events[-1].timestamp)
            seen = {e.key for e in events if e.timestamp >= start}
        done += 1
        if polls is None or done < polls:
            sleep(interval)


def _new(events: Iterable[LogEvent], seen: set[tuple]) -> Iterator[LogEvent]:
    for event in events:
        if event.key not in seen:
            yield event
