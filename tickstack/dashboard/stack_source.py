"""A deployed stack read for pictures: the `DashboardSource` over a target, and the reads `tickstack chart` shares.

Where each number on the page comes from, on every target (callers never ask which one):

- stored ticks and per-symbol status: the trend-state table (Scan: one small item per symbol,
  giving the symbols, their last analysed timestamp and price) and one `Query Select=COUNT`
  per symbol on the ticks table, repeated only when that symbol's state item changed (or
  every RECOUNT_S as a safety net), so an idle stack costs one Scan per refresh;
- rejected: `ListObjectsV2` under the rejected prefix (count), and the newest few objects'
  `reason` (each object read once: a rejected record's key never gets another body);
- alerts: `read_alerts` (the alerts table, with the deliveries the alert-audit queue saw where the
  target can peek it); a stack that cannot give them (one deployed before the alerts table) leaves
  the list empty, says why, and the charts mark the crosses computed from the ticks;
- ticks in and iterator age: CloudWatch `AWS/Kinesis` IncomingRecords (sum over
  METRICS_WINDOW) and GetRecords.IteratorAgeMilliseconds (else `AWS/Lambda` IteratorAge of
  the process function), latest value; None where the target lists no such metric;
- function invocations, errors and average duration: CloudWatch `AWS/Lambda` where the
  target lists the metric for the function; otherwise counted from the function's
  CloudWatch Logs: one `REPORT RequestId` line per invocation (its Duration), and an
  invocation whose log shows an unhandled error (a `Traceback`/`[ERROR]` line, or a REPORT
  `Status: error|timeout`) counts as an error. MiniStack 1.5.33 records AWS/Lambda metrics
  only for Invoke API calls, never for stream-driven invocations, and no AWS/Kinesis or EMF
  metrics at all; it does write START/END/REPORT lines for every invocation (measured).

CloudWatch metrics (1-minute data at best, and billed per request on AWS) are re-read every
METRICS_TTL_S; the rest every TTL_S. The page polls every 1.5 s, and all pages share one
refresh. An emulator that stops answering makes `snapshot()` raise one clear error (the
server answers 503 and the page says so) rather than waiting out the client's retries.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from stock_pipeline.adapters import state_from_item
from stock_pipeline.contract import (
    DEFAULT_LONG_WINDOW,
    DEFAULT_SHORT_WINDOW,
    REJECTED_PREFIX,
    TICKS_PARTITION_KEY,
    TICKS_SORT_KEY,
    RejectedObject,
    TickItem,
    TrendStateItem,
)
from stock_pipeline.trend import PricePoint, check_windows
from tickstack.dashboard.source import AlertRecord, FunctionStats, RejectedRecord, Snapshot, SymbolData, SymbolStatus
from tickstack.errors import EmulatorError, TargetError
from tickstack.ops.alerts import read_alerts
from tickstack.ops.chart import ChartError, ChartSeries, chart_series
from tickstack.targets import Target

log = logging.getLogger(__name__)

TTL_S = 1.0
METRICS_TTL_S = 15.0
RECOUNT_S = 30.0
METRICS_WINDOW = timedelta(hours=24)
REJECTED_SHOWN = 5
# Log events can be ingested a little after their timestamp: each read looks back this far.
LOG_LOOKBACK_MS = 30_000

_deserializer = TypeDeserializer()


# -- what the chart command shares --------------------------------------------------------


def stack_windows(outputs: Mapping[str, Any]) -> tuple[int, int]:
    """The short and long windows the deployed trend function uses (the contract's defaults if unsaid)."""
    windows = outputs.get("sma_windows") or {}
    short = windows.get("short") or outputs.get("sma_short_window") or DEFAULT_SHORT_WINDOW
    long = windows.get("long") or outputs.get("sma_long_window") or DEFAULT_LONG_WINDOW
    return int(short), int(long)


def stored_prices(target: Target, symbol: str, client: Any = None) -> list[PricePoint]:
    """Every stored tick of `symbol` as (timestamp, price), oldest first (Query, paginated)."""
    client = client or target.client("dynamodb")
    request: dict[str, Any] = {
        "TableName": target.outputs["table_name"],
        "KeyConditionExpression": "#symbol = :symbol",
        "ExpressionAttributeNames": {"#symbol": TICKS_PARTITION_KEY, "#ts": TICKS_SORT_KEY, "#price": TickItem.PRICE},
        "ExpressionAttributeValues": {":symbol": {"S": symbol}},
        "ProjectionExpression": "#ts, #price",
    }
    points: list[PricePoint] = []
    while True:
        page = client.query(**request)
        for raw in page.get("Items", []):
            price = raw.get(TickItem.PRICE, {}).get("N")
            points.append(PricePoint(raw[TICKS_SORT_KEY]["S"], Decimal(price) if price is not None else None))
        if "LastEvaluatedKey" not in page:
            return points
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass(frozen=True)
class StackAlerts:
    alerts: list[dict] | None  # None: the target cannot give them
    note: str | None = None  # why not, for people


def stack_alerts(target: Target) -> StackAlerts:
    """The alerts the stack sent, or None and why when this target cannot read them back."""
    try:
        return StackAlerts(read_alerts(target))
    except EmulatorError:
        raise  # an emulator that stopped answering is an error, not a missing feature
    except TargetError as exc:
        return StackAlerts(None, f"alerts cannot be read back here ({exc}): crosses computed from the stored ticks")


@dataclass(frozen=True)
class StackChart:
    series: ChartSeries
    notes: tuple[str, ...] = ()


def stack_series(
    target: Target,
    symbol: str,
    short_window: int | None = None,
    long_window: int | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
) -> StackChart:
    """The chart of a symbol's stored ticks, marking the crosses the stack alerted.

    The windows are the deployment's unless given; with other windows than the stack's, the
    alerts say nothing about these averages, so the crosses are computed and that is said.
    """
    symbol = symbol.upper()
    stack_short, stack_long = stack_windows(target.outputs)
    short, long = short_window or stack_short, long_window or stack_long
    try:
        check_windows(short, long)
    except ValueError as exc:
        raise ChartError(str(exc)) from None
    prices = stored_prices(target, symbol)
    if not any(p.price is not None for p in prices):
        raise ChartError(f"no stored ticks of {symbol} in table {target.outputs['table_name']} on {target.name}: "
                         "replay or produce some first")
    series = chart_series(prices, short, long, symbol=symbol)
    if start is not None or end is not None:
        try:
            series = series.between(start, end)
        except ValueError as exc:
            raise ChartError(str(exc)) from None
    if (short, long) != (stack_short, stack_long):
        note = (f"crosses computed with SMA-{short}/SMA-{long}: the stack alerts on "
                f"SMA-{stack_short}/SMA-{stack_long}")
        return StackChart(series, (note,))
    found = stack_alerts(target)
    if found.alerts is None:
        return StackChart(series, (found.note or "",))
    return StackChart(series.marking_alerts(a for a in found.alerts if a["symbol"] == symbol))


# -- the dashboard source -----------------------------------------------------------------


@dataclass
class _Counted:
    state_version: Any
    ticks: int
    at: float


class StackSource:
    """`DashboardSource` over a deployed target; thread-safe, one shared refresh per TTL_S."""

    def __init__(
        self,
        target: Target,
        *,
        ttl_s: float = TTL_S,
        metrics_ttl_s: float = METRICS_TTL_S,
        recount_s: float = RECOUNT_S,
        metrics_window: timedelta = METRICS_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.target = target
        self.outputs = target.outputs
        self.short_window, self.long_window = stack_windows(self.outputs)
        self.ttl_s, self.metrics_ttl_s, self.recount_s = ttl_s, metrics_ttl_s, recount_s
        self.metrics_window = metrics_window
        self._clock, self._now = clock, now
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._snapshot: tuple[float, Snapshot] | None = None
        self._counts: dict[str, _Counted] = {}
        self._rejected_bodies: dict[tuple[str, str], RejectedRecord] = {}
        self._metrics: tuple[float, _MetricValues] | None = None
        window_start_ms = int((now() - metrics_window).timestamp() * 1000)
        self._logs = {
            key: _LogTally(f"/aws/lambda/{name}", window_start_ms) for key, name in self.outputs["function_names"].items()
        }

    def client(self, service: str) -> Any:
        # boto3 clients are thread-safe once made; making one is not.
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self.target.client(service)
            return self._clients[service]

    @property
    def label(self) -> str:
        where = getattr(self.target, "endpoint", None)
        place = f"{self.target.name} at {where}" if where else self.target.name
        return f"{place}, stream {self.outputs['stream_name']}"

    # -- DashboardSource ----------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        with self._lock:
            if self._snapshot is not None and self._clock() - self._snapshot[0] < self.ttl_s:
                return self._snapshot[1]
            # One quick health check first: a stopped emulator is said in one line at once,
            # instead of each call below waiting out its connection retries.
            self.target.require_running()
            snapshot = self._read()
            self._snapshot = (self._clock(), snapshot)
            return snapshot

    def symbol_series(self, symbol: str) -> SymbolData:
        ticks = stored_prices(self.target, symbol, client=self.client("dynamodb"))
        found = stack_alerts(self.target)
        alerts = None if found.alerts is None else [a for a in found.alerts if a["symbol"] == symbol]
        return SymbolData(symbol, ticks, self.short_window, self.long_window, alerts)

    # -- reading ------------------------------------------------------------------------------

    def _read(self) -> Snapshot:
        symbols = self._symbols()
        rejected_count, rejected_latest = self._rejected()
        found = stack_alerts(self.target)
        metrics = self._metric_values()
        functions, functions_basis = self._functions(metrics)
        window = _duration_text(self.metrics_window)
        notes = {
            "functions": functions_basis,
            "ticks_in": f"records put on the stream, last {window}" if metrics.ticks_in is not None else None,
            "iterator_age_ms": None if metrics.iterator_age_ms is not None else "not recorded by this target",
            "alerts": found.note,
        }
        return {
            "source": self.label,
            "ticks_in": metrics.ticks_in,
            "stored": sum(s["ticks"] for s in symbols),
            "rejected": rejected_count,
            "rejected_latest": rejected_latest,
            "alerts": [_alert_record(a) for a in found.alerts or ()],
            "functions": functions,
            "iterator_age_ms": metrics.iterator_age_ms,
            "symbols": symbols,
            "notes": {k: v for k, v in notes.items() if v},
        }

    def _symbols(self) -> list[SymbolStatus]:
        dynamodb = self.client("dynamodb")
        request: dict[str, Any] = {"TableName": self.outputs["trend_state_table_name"]}
        items: list[dict[str, Any]] = []
        while True:
            page = dynamodb.scan(**request)
            items.extend({k: _deserializer.deserialize(v) for k, v in raw.items()} for raw in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        statuses: list[SymbolStatus] = []
        for item in sorted(items, key=lambda i: i[TrendStateItem.SYMBOL]):
            symbol = item[TrendStateItem.SYMBOL]
            state = state_from_item(item).trend
            version = (item.get(TrendStateItem.VERSION), item.get(TrendStateItem.UPDATED_AT))
            statuses.append({
                "symbol": symbol,
                "ticks": self._count(symbol, version),
                "last_timestamp": state.last_timestamp,
                "last_price": state.window[-1] if state.window else None,
            })
        return statuses

    def _count(self, symbol: str, version: Any) -> int:
        """Ticks stored for `symbol`, counted again only when its trend state moved (or RECOUNT_S passed)."""
        counted = self._counts.get(symbol)
        now = self._clock()
        if counted is not None and counted.state_version == version and now - counted.at < self.recount_s:
            return counted.ticks
        dynamodb = self.client("dynamodb")
        request: dict[str, Any] = {
            "TableName": self.outputs["table_name"],
            "KeyConditionExpression": "#symbol = :symbol",
            "ExpressionAttributeNames": {"#symbol": TICKS_PARTITION_KEY},
            "ExpressionAttributeValues": {":symbol": {"S": symbol}},
            "Select": "COUNT",
        }
        total = 0
        while True:
            page = dynamodb.query(**request)
            total += page.get("Count", 0)
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        self._counts[symbol] = _Counted(version, total, now)
        return total

    def _rejected(self) -> tuple[int, list[RejectedRecord]]:
        s3 = self.client("s3")
        bucket = self.outputs["bucket_name"]
        prefix = self.outputs.get("rejected_prefix") or REJECTED_PREFIX
        objects = [o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                   for o in page.get("Contents", [])]
        newest = sorted(objects, key=lambda o: (o["LastModified"], o["Key"]), reverse=True)[:REJECTED_SHOWN]
        latest = []
        for obj in newest:
            cache_key = (obj["Key"], obj.get("ETag", ""))
            if cache_key not in self._rejected_bodies:
                self._rejected_bodies[cache_key] = _rejected_record(s3, bucket, obj)
            latest.append(self._rejected_bodies[cache_key])
        return len(objects), latest

    def _metric_values(self) -> _MetricValues:
        if self._metrics is not None and self._clock() - self._metrics[0] < self.metrics_ttl_s:
            return self._metrics[1]
        values = _read_metrics(self.client("cloudwatch"), self.outputs, self._now(), self.metrics_window)
        self._metrics = (self._clock(), values)
        return values

    def _functions(self, metrics: _MetricValues) -> tuple[list[FunctionStats], str]:
        stats: list[FunctionStats] = []
        bases: set[str] = set()
        for key, name in self.outputs["function_names"].items():
            known = metrics.functions.get(name, {})
            tally: _LogTally | None = None
            if not {"invocations", "errors", "duration_ms"} <= known.keys():
                tally = self._logs[key]
                if not tally.read(self.client("logs")):
                    tally = None
            row: FunctionStats = {"name": name, "invocations": None, "errors": None, "duration_ms": None}
            for field_name in ("invocations", "errors", "duration_ms"):
                if field_name in known:
                    row[field_name] = known[field_name]  # type: ignore[literal-required]
                    bases.add("metrics")
                elif tally is not None:
                    row[field_name] = tally.value(field_name)  # type: ignore[literal-required]
                    bases.add("logs")
            stats.append(row)
        window = _duration_text(self.metrics_window)
        if bases == {"metrics"}:
            basis = f"CloudWatch AWS/Lambda metrics, last {window}"
        elif bases == {"logs"}:
            basis = ("counted from the functions' CloudWatch Logs (one REPORT line per invocation): "
                     "this target lists no AWS/Lambda metrics for them")
        elif bases:
            basis = f"CloudWatch AWS/Lambda metrics where recorded (last {window}), else counted from the functions' logs"
        else:
            basis = "not recorded by this target: no AWS/Lambda metrics and no function logs"
        return stats, basis


# -- CloudWatch metrics ---------------------------------------------------------------------


@dataclass(frozen=True)
class _MetricValues:
    ticks_in: int | None = None
    iterator_age_ms: float | None = None
    # function name -> the fields CloudWatch has (a field it lists no metric for is absent)
    functions: Mapping[str, Mapping[str, float | int]] = field(default_factory=dict)


def _listed(cloudwatch: Any, namespace: str, dimension: str, value: str) -> set[str]:
    """Names of the metrics the target lists for exactly this one dimension."""
    names: set[str] = set()
    request: dict[str, Any] = {"Namespace": namespace, "Dimensions": [{"Name": dimension, "Value": value}]}
    while True:
        page = cloudwatch.list_metrics(**request)
        for metric in page.get("Metrics", []):
            if [d["Name"] for d in metric.get("Dimensions", [])] == [dimension]:
                names.add(metric["MetricName"])
        if not page.get("NextToken"):
            return names
        request["NextToken"] = page["NextToken"]


def _read_metrics(cloudwatch: Any, outputs: Mapping[str, Any], now: datetime, window: timedelta) -> _MetricValues:
    """The CloudWatch numbers the target records; a target without CloudWatch, or without the metric, gives None."""
    stream = outputs["stream_name"]
    functions = dict(outputs["function_names"])
    try:
        kinesis = _listed(cloudwatch, "AWS/Kinesis", "StreamName", stream)
        lambdas = {name: _listed(cloudwatch, "AWS/Lambda", "FunctionName", name) for name in functions.values()}
    except ClientError as exc:
        log.info("no CloudWatch metrics on this target: %s", exc)
        return _MetricValues()

    queries: list[dict[str, Any]] = []

    def ask(query_id: str, namespace: str, metric: str, dimension: str, value: str, stat: str, period: int) -> None:
        queries.append({
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": [{"Name": dimension, "Value": value}]},
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        })

    if "IncomingRecords" in kinesis:
        ask("ticks_in", "AWS/Kinesis", "IncomingRecords", "StreamName", stream, "Sum", 3600)
    if "GetRecords.IteratorAgeMilliseconds" in kinesis:
        ask("age", "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", stream, "Maximum", 60)
    elif "IteratorAge" in lambdas.get(functions.get("process", ""), ()):
        ask("age", "AWS/Lambda", "IteratorAge", "FunctionName", functions["process"], "Maximum", 60)
    for index, name in enumerate(functions.values()):
        listed = lambdas[name]
        if "Invocations" in listed:
            ask(f"f{index}_invocations", "AWS/Lambda", "Invocations", "FunctionName", name, "Sum", 3600)
        if "Errors" in listed:
            ask(f"f{index}_errors", "AWS/Lambda", "Errors", "FunctionName", name, "Sum", 3600)
        if "Duration" in listed:
            ask(f"f{index}_duration_sum", "AWS/Lambda", "Duration", "FunctionName", name, "Sum", 3600)
            ask(f"f{index}_duration_count", "AWS/Lambda", "Duration", "FunctionName", name, "SampleCount", 3600)
    if not queries:
        return _MetricValues()

    series: dict[str, list[tuple[datetime, float]]] = {q["Id"]: [] for q in queries}
    request: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": now - window, "EndTime": now + timedelta(minutes=1)}
    try:
        while True:
            page = cloudwatch.get_metric_data(**request)
            for result in page.get("MetricDataResults", []):
                series[result["Id"]].extend(zip(result.get("Timestamps", []), result.get("Values", [])))
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    except ClientError as exc:
        log.info("CloudWatch GetMetricData failed: %s", exc)
        return _MetricValues()

    def total(query_id: str) -> float | None:
        return sum(v for _, v in series[query_id]) if query_id in series else None

    per_function: dict[str, dict[str, float | int]] = {}
    for index, name in enumerate(functions.values()):
        known: dict[str, float | int] = {}
        if (invocations := total(f"f{index}_invocations")) is not None:
            known["invocations"] = int(invocations)
        if (errors := total(f"f{index}_errors")) is not None:
            known["errors"] = int(errors)
        duration_sum, duration_count = total(f"f{index}_duration_sum"), total(f"f{index}_duration_count")
        if duration_sum is not None and duration_count is not None:
            known["duration_ms"] = round(duration_sum / duration_count, 1) if duration_count else None  # type: ignore[assignment]
        per_function[name] = known
    ages = sorted(series.get("age", []))
    ticks_in = total("ticks_in")
    return _MetricValues(
        ticks_in=None if ticks_in is None else int(ticks_in),
        iterator_age_ms=ages[-1][1] if ages else None,
        functions=per_function,
    )


# -- CloudWatch Logs ------------------------------------------------------------------------

_REPORT = re.compile(r"REPORT RequestId: (?P<id>\S+).*?\tDuration: (?P<ms>[\d.]+) ms")
_REPORT_FAILED = re.compile(r"\tStatus: (error|timeout)")


class _LogFollower:
    """New events of one log group matching one filter pattern, read incrementally with a short look-back."""

    def __init__(self, group: str, pattern: str, start_ms: int) -> None:
        self.group, self.pattern = group, pattern
        self.start_ms = start_ms
        self.cursor_ms = start_ms
        self._seen: dict[tuple[str, int, str], int] = {}

    def new_events(self, logs: Any) -> list[dict[str, Any]] | None:
        """Events not returned before, oldest first; None when the group does not exist."""
        request: dict[str, Any] = {
            "logGroupName": self.group,
            "filterPattern": self.pattern,
            "startTime": max(self.start_ms, self.cursor_ms - LOG_LOOKBACK_MS),
        }
        events: list[dict[str, Any]] = []
        try:
            while True:
                page = logs.filter_log_events(**request)
                events.extend(page.get("events", []))
                if not page.get("nextToken"):
                    break
                request["nextToken"] = page["nextToken"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
        fresh = []
        for event in events:
            key = (event.get("logStreamName", ""), event["timestamp"], event["message"])
            if key not in self._seen:
                self._seen[key] = event["timestamp"]
                fresh.append(event)
            self.cursor_ms = max(self.cursor_ms, event["timestamp"])
        horizon = self.cursor_ms - LOG_LOOKBACK_MS
        self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
        return sorted(fresh, key=lambda e: e["timestamp"])


class _LogTally:
    """Invocations, errors and durations of one function, counted from its log lines as they arrive."""

    def __init__(self, group: str, start_ms: int) -> None:
        self.reports = _LogFollower(group, "REPORT RequestId", start_ms)
        self.failures = _LogFollower(group, "Traceback", start_ms)
        self.invocations = 0
        self.errors = 0
        self.duration_total = 0.0
        # Error lines not yet tied to their invocation: stream -> timestamps. Within one log
        # stream (one execution environment) invocations run one after another, so an error
        # line belongs to the next REPORT of its stream.
        self._pending: dict[str, list[int]] = {}

    def read(self, logs: Any) -> bool:
        """Take in the new lines; False when the function has no log group on this target."""
        # Error lines first: each is written before its invocation's REPORT line.
        failures = self.failures.new_events(logs)
        if failures is None:
            return False
        for event in failures:
            if _unhandled_error(event["message"]):
                self._pending.setdefault(event.get("logStreamName", ""), []).append(event["timestamp"])
        for event in self.reports.new_events(logs) or ():
            match = _REPORT.search(event["message"])
            if match is None:
                continue
            self.invocations += 1
            self.duration_total += float(match["ms"])
            stream = event.get("logStreamName", "")
            before = [t for t in self._pending.get(stream, ()) if t <= event["timestamp"]]
            if before or _REPORT_FAILED.search(event["message"]):
                self.errors += 1
            if before:
                self._pending[stream] = [t for t in self._pending[stream] if t > event["timestamp"]]
        return True

    def value(self, name: str) -> int | float | None:
        if name == "invocations":
            return self.invocations
        if name == "errors":
            return self.errors
        return round(self.duration_total / self.invocations, 1) if self.invocations else None


def _unhandled_error(message: str) -> bool:
    """A runtime's report of an unhandled error, not an application log line that quotes a traceback."""
    text = message.lstrip()
    if text.startswith(("Traceback (most recent call last)", "[ERROR]")):
        return True
    if text.startswith("{"):
        try:
            body = json.loads(text)
        except ValueError:
            return False
        # The Lambda runtime's JSON error report, as opposed to a structured log line.
        return isinstance(body, dict) and {"errorType", "errorMessage"} <= body.keys() and "level" not in body
    return False


# -- shapes ---------------------------------------------------------------------------------


def _alert_record(alert: Mapping[str, Any]) -> AlertRecord:
    return {
        "symbol": alert["symbol"],
        "signal": alert["signal"],
        "timestamp": alert["timestamp"],
        "price": alert["price"],
        "subject": alert.get("subject") or "",
        "message": alert.get("message") or "",
        "sent_at": alert.get("sent_at") or "",
    }


def _rejected_record(s3: Any, bucket: str, obj: Mapping[str, Any]) -> RejectedRecord:
    key = obj["Key"]
    try:
        body = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        reason = str(body[RejectedObject.REASON])
        at = str(body.get(RejectedObject.REJECTED_AT) or "")
    except (ValueError, KeyError, TypeError) as exc:
        reason, at = f"(unreadable rejected object: {exc})", ""
    return {"reason": reason, "at": at or obj["LastModified"].strftime("%Y-%m-%dT%H:%M:%SZ"), "key": key}


def _duration_text(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} h" if hours >= 1 else f"{window.total_seconds() / 60:g} min"


__all__: Sequence[str] = (
    "StackAlerts",
    "StackChart",
    "StackSource",
    "stack_alerts",
    "stack_series",
    "stack_windows",
    "stored_prices",
)
