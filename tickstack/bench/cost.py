"""The monthly AWS bill of the pipeline at N symbols every S seconds, next to the reference design's.

Pure arithmetic over three inputs, each written down once:

- what each design costs per invocation of each function, as a line in the records the invocation
  carries (`Linear`: a fixed part per invocation plus a part per record). For this design it is
  fitted to requests counted at two batch sizes (`tickstack.bench.profile`); for the reference
  design (`reference_design`) it follows from its pattern: one invocation per record batch, one
  DynamoDB PutItem and one S3 PUT per tick, one trend invocation per stream batch with one Query
  per tick;
- how AWS would batch at the workload's rate (`Deployment`, `records_per_invocation`): a Kinesis
  mapping polls each shard about once a second, a DynamoDB-stream mapping about four times a
  second, so at 500 symbols every 30 s (16.7 ticks/s) over an on-demand stream's 4 initial shards an
  invocation carries about 4 records, not the 100 a replay packs in;
- the list prices (`tickstack.bench.prices`).

Left out, being the same for both designs and independent of the tick rate: alarms, the dashboard,
custom metrics from the functions' embedded metric format, KMS requests of the AWS-managed keys, log
storage over its 14-day retention, data transfer inside the region (free).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

from tickstack.bench import prices
from tickstack.bench.request_hook import write_units

GB = 2**30
KB = 1024
READ_UNIT_BYTES = 4096
# DynamoDB stores about 100 bytes of overhead with every item.
ITEM_STORAGE_OVERHEAD_BYTES = 100
PAYLOAD_UNIT_BYTES = 25 * KB
SECONDS_PER_HOUR = 3600
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Workload:
    symbols: int = 500
    every_seconds: float = 30.0
    hours_per_month: float = HOURS_PER_MONTH

    def __post_init__(self) -> None:
        if self.symbols < 1 or self.every_seconds <= 0 or self.hours_per_month <= 0:
            raise ValueError("a workload needs at least one symbol, a positive interval and positive hours")

    @property
    def ticks_per_second(self) -> float:
        return self.symbols / self.every_seconds

    @property
    def seconds(self) -> float:
        return self.hours_per_month * SECONDS_PER_HOUR

    @property
    def ticks(self) -> float:
        """Ticks in a month."""
        return self.ticks_per_second * self.seconds


@dataclass(frozen=True)
class Linear:
    """A quantity per invocation: `fixed` whatever the batch, plus `per_record` for each record in it."""

    fixed: float = 0.0
    per_record: float = 0.0

    def at(self, records: float) -> float:
        return self.fixed + self.per_record * records

    def per_tick(self, records: float) -> float:
        return self.at(records) / records


def fit(records_a: float, per_invocation_a: float, records_b: float, per_invocation_b: float) -> Linear:
    """The line through two measured points (records per invocation, quantity per invocation), never negative."""
    if math.isclose(records_a, records_b):
        # One batch size only: nothing tells the parts apart; call it all per record.
        return Linear(0.0, (per_invocation_a + per_invocation_b) / (records_a + records_b))
    slope = (per_invocation_b - per_invocation_a) / (records_b - records_a)
    fixed = per_invocation_a - slope * records_a
    if slope < 0:  # fewer per invocation with more records: noise around a per-invocation constant
        return Linear((per_invocation_a + per_invocation_b) / 2, 0.0)
    if fixed < 0:  # the best line through the origin
        return Linear(0.0, (per_invocation_a * records_a + per_invocation_b * records_b)
                      / (records_a**2 + records_b**2))
    return Linear(fixed, slope)


@dataclass(frozen=True)
class FunctionProfile:
    memory_mb: int
    batch_size: int
    duration_ms: Linear
    log_bytes: Linear
    # Billed quantities per invocation, by meter (see prices.METERS).
    meters: dict[str, Linear] = field(default_factory=dict)
    # Requests per invocation by "service Operation", for the report.
    requests: dict[str, Linear] = field(default_factory=dict)


@dataclass(frozen=True)
class DesignProfile:
    name: str
    process: FunctionProfile  # fed by the Kinesis stream
    trend: FunctionProfile  # fed by the ticks table's stream
    # Billed quantities per tick whatever the batching (an alert's publish and its delivery).
    per_tick: dict[str, float]
    # A tick on the stream (data and partition key), its item in the ticks table, and what the archive keeps of it.
    record_bytes: float
    stored_item_bytes: float
    archived_bytes: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> "DesignProfile":
        def function(raw: Mapping) -> FunctionProfile:
            return FunctionProfile(
                memory_mb=raw["memory_mb"], batch_size=raw["batch_size"],
                duration_ms=Linear(**raw["duration_ms"]), log_bytes=Linear(**raw["log_bytes"]),
                meters={k: Linear(**v) for k, v in raw["meters"].items()},
                requests={k: Linear(**v) for k, v in raw.get("requests", {}).items()})

        return cls(name=data["name"], process=function(data["process"]), trend=function(data["trend"]),
                   per_tick=dict(data["per_tick"]), record_bytes=data["record_bytes"],
                   stored_item_bytes=data["stored_item_bytes"], archived_bytes=data["archived_bytes"])


@dataclass(frozen=True)
class Deployment:
    """What the bill depends on besides the code: the stream's capacity, the pollers, backups, tracing."""

    kinesis_shards: int | None = None  # None: on-demand capacity (the Terraform default)
    # An on-demand stream starts with the capacity of 4 shards (4 MB/s, 4,000 records/s in).
    on_demand_shards: int = 4
    kinesis_polls_per_second: float = 1.0
    table_stream_shards: int = 1
    table_stream_polls_per_second: float = 4.0
    point_in_time_recovery: bool = True
    # Active tracing samples the first invocation each second and 5% of the others, per function.
    active_tracing: bool = True
    xray_reservoir_per_second: float = 1.0
    xray_rate: float = 0.05

    @property
    def stream_shards(self) -> int:
        return self.on_demand_shards if self.kinesis_shards is None else self.kinesis_shards


def records_per_invocation(ticks_per_second: float, shards: int, polls_per_second: float, batch_size: int) -> float:
    """Records an invocation carries when `shards` are each polled `polls_per_second` times a second."""
    return min(float(batch_size), max(1.0, ticks_per_second / (shards * polls_per_second)))


def batching(design: DesignProfile, workload: Workload, deployment: Deployment) -> dict[str, float]:
    rate = workload.ticks_per_second
    return {
        "process": records_per_invocation(rate, deployment.stream_shards, deployment.kinesis_polls_per_second,
                                          design.process.batch_size),
        "trend": records_per_invocation(rate, deployment.table_stream_shards,
                                        deployment.table_stream_polls_per_second, design.trend.batch_size),
    }


def monthly_usage(design: DesignProfile, workload: Workload, deployment: Deployment) -> dict[str, float]:
    """Each meter's quantity in a month."""
    usage: dict[str, float] = defaultdict(float)
    ticks = workload.ticks
    records = batching(design, workload, deployment)
    for name, function in (("process", design.process), ("trend", design.trend)):
        k = records[name]
        invocations = ticks / k
        usage["lambda.requests"] += invocations
        # Lambda bills duration by the millisecond, rounded up.
        billed_seconds = math.ceil(function.duration_ms.at(k)) / 1000
        usage["lambda.gb_seconds"] += invocations * billed_seconds * function.memory_mb / 1024
        usage["logs.ingested_gb"] += invocations * function.log_bytes.at(k) / GB
        for meter, line in function.meters.items():
            usage[meter] += invocations * line.at(k)
        if deployment.active_tracing:
            per_second = invocations / workload.seconds
            sampled = min(per_second, deployment.xray_reservoir_per_second) + deployment.xray_rate * max(
                0.0, per_second - deployment.xray_reservoir_per_second)
            usage["xray.traces_recorded"] += sampled * workload.seconds
    for meter, per_tick in design.per_tick.items():
        usage[meter] += ticks * per_tick
    # The stream: the same for both designs, the producer's records.
    if deployment.kinesis_shards is None:
        rounded = max(1, math.ceil(design.record_bytes / KB)) * KB
        usage["kinesis.stream_hours"] += workload.hours_per_month
        usage["kinesis.ingested_gb"] += ticks * rounded / GB
        usage["kinesis.retrieved_gb"] += ticks * rounded / GB  # one consumer: the ingest function
    else:
        usage["kinesis.shard_hours"] += deployment.kinesis_shards * workload.hours_per_month
        usage["kinesis.put_payload_units"] += ticks * max(1, math.ceil(design.record_bytes / PAYLOAD_UNIT_BYTES))
    # What a month of ticks leaves stored (billed as if held the whole month: an upper bound for the
    # first month; nothing expires, so each later month holds more).
    stored_gb = ticks * (design.stored_item_bytes + ITEM_STORAGE_OVERHEAD_BYTES) / GB
    usage["dynamodb.storage_gb_months"] += stored_gb
    if deployment.point_in_time_recovery:
        usage["dynamodb.pitr_gb_months"] += stored_gb
    usage["s3.storage_gb_months"] += ticks * design.archived_bytes / GB
    # Lambda's own reads of the table's stream are free.
    usage["dynamodb.streams_read_request_units"] += 0.0
    return dict(sorted(usage.items()))


def monthly_cost(usage: Mapping[str, float]) -> dict[str, float]:
    """USD per service for a month's usage."""
    unknown = sorted(set(usage) - set(prices.METERS))
    if unknown:
        raise KeyError(f"no price for {', '.join(unknown)}")
    cost: dict[str, float] = defaultdict(float)
    for meter, quantity in usage.items():
        cost[prices.METERS[meter]["service"]] += quantity * prices.usd_per_unit(meter)
    return dict(sorted(cost.items()))


def reference_design(measured: DesignProfile, long_window: int) -> DesignProfile:
    """The reference design's one-write-per-tick pattern, priced on this design's measured ticks.

    Per tick: one DynamoDB PutItem of the same item and one S3 PUT of it (its own object) in the
    ingest function; one Query of the last `long_window` ticks in the trend function (eventually
    consistent, the cheaper read). One invocation of each per batch, as here. Durations and log
    bytes per invocation are taken equal to this design's measured ones (an assumption that
    favours the reference: a PUT per tick makes its invocations longer), alerts the same.
    """
    query_units = 0.5 * max(1, math.ceil(long_window * measured.stored_item_bytes / READ_UNIT_BYTES))
    process = replace(measured.process, meters={
        "dynamodb.write_request_units": Linear(0.0, float(write_units(round(measured.stored_item_bytes)))),
        "s3.put_requests": Linear(0.0, 1.0),
    }, requests={"dynamodb PutItem": Linear(0.0, 1.0), "s3 PutObject": Linear(0.0, 1.0)})
    trend = replace(measured.trend, meters={
        "dynamodb.read_request_units": Linear(0.0, query_units),
    }, requests={"dynamodb Query": Linear(0.0, 1.0)})
    return replace(measured, name="reference (one write per tick)", process=process, trend=trend)


def requests_per_tick(function: FunctionProfile, records: float) -> float:
    return sum(line.per_tick(records) for line in function.requests.values())


def compare(measured: DesignProfile, reference: DesignProfile, workload: Workload,
            deployment: Deployment) -> dict:
    """Both designs' monthly bill at `workload`, per service, JSON-ready."""
    ours_usage = monthly_usage(measured, workload, deployment)
    theirs_usage = monthly_usage(reference, workload, deployment)
    ours, theirs = monthly_cost(ours_usage), monthly_cost(theirs_usage)
    services = sorted(set(ours) | set(theirs))
    records = batching(measured, workload, deployment)
    total_ours, total_theirs = sum(ours.values()), sum(theirs.values())
    return {
        "workload": {"symbols": workload.symbols, "every_seconds": workload.every_seconds,
                     "hours_per_month": workload.hours_per_month,
                     "ticks_per_second": round(workload.ticks_per_second, 3), "ticks": round(workload.ticks)},
        "deployment": asdict(deployment),
        "records_per_invocation": {k: round(v, 2) for k, v in records.items()},
        # The functions' requests per tick at those batches, alerts apart.
        "requests_per_tick": {
            design.name: {"process": round(requests_per_tick(design.process, records["process"]), 4),
                          "trend": round(requests_per_tick(design.trend, records["trend"]), 4)}
            for design in (measured, reference)},
        "this_design": round(total_ours, 2),
        "reference": round(total_theirs, 2),
        "ratio": round(total_ours / total_theirs, 4) if total_theirs else None,
        "per_service": {s: {"this_design": round(ours.get(s, 0.0), 2), "reference": round(theirs.get(s, 0.0), 2)}
                        for s in services},
        "usage": {"this_design": {m: round(q, 4) for m, q in ours_usage.items()},
                  "reference": {m: round(q, 4) for m, q in theirs_usage.items()}},
        "prices": {"region": prices.REGION, "as_published": prices.AS_PUBLISHED, "taken": prices.TAKEN,
                   "how": prices.HOW,
                   "meters": {m: {k: v for k, v in p.items()} for m, p in prices.METERS.items()}},
    }
