"""The monthly AWS bill of the pipeline at N symbols every S seconds, next to the reference design's.

Pure arithmetic over four inputs, each written down once:

- what each design costs per invocation of each function, as a line in the records the invocation
  carries (`Linear`: a fixed part per invocation plus a part per record). For this design it is
  fitted to requests counted at two batch sizes (`tickstack.bench.profile`); for the reference
  design (`reference_design`) it follows from its documented pattern: ProcessStockData fed in
  batches of 2, one DynamoDB PutItem and one S3 PUT per tick, one Query of the last long-window
  ticks per tick in the trend function;
- how the ticks arrive: the poll producer reads all N symbols every S seconds and sends them
  together, so a burst of N records lands every S seconds, spread evenly over the stream's shards
  (partition keys are symbols); each shard's share is read in invocations of at most the mapping's
  batch size (`batches`), the same for the ticks table's stream and the trend function;
- how each design is deployed (`Deployment`): the stream's capacity mode and shards, the tables'
  capacity mode, point-in-time recovery, active tracing. This design's comes from the deployed stack,
  the reference's from its documentation (`reference_deployment`);
- the list prices (`tickstack.bench.prices`).

Left out, being the same for both designs and independent of the tick rate: alarms, the dashboard,
custom metrics from the functions' embedded metric format, KMS requests of the AWS-managed keys, log
storage over its 14-day retention, data transfer inside the region (free).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace

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
# DynamoDB keeps up to 5 minutes of a table's unused provisioned capacity for bursts.
BURST_CAPACITY_SECONDS = 300


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
    def bursts(self) -> float:
        """Bursts in a month: every `every_seconds`, all `symbols` at once."""
        return self.seconds / self.every_seconds

    @property
    def ticks(self) -> float:
        """Ticks in a month."""
        return self.symbols * self.bursts


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
    def from_dict(cls, data: Mapping) -> DesignProfile:
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
    """What the bill depends on besides the code: the stream's and tables' capacity, backups, tracing."""

    kinesis_shards: int | None = 1  # provisioned shards (the Terraform default: 1); None: on-demand capacity
    # An on-demand stream starts with the capacity of 4 shards (4 MB/s, 4,000 records/s in).
    on_demand_shards: int = 4
    table_stream_shards: int = 1
    # Provisioned tables (the Terraform default), their capacity scaled to stay near
    # `table_target_utilization` percent of what they consume, never under `table_min_units`;
    # False: on-demand tables, billed per request.
    tables_provisioned: bool = True
    table_target_utilization: float = 70.0
    table_min_units: int = 1
    tables: int = 3
    point_in_time_recovery: bool = True
    # Active tracing records the first invocation each second and 5% of the others, per function.
    active_tracing: bool = True
    xray_reservoir_per_second: float = 1.0
    xray_rate: float = 0.05

    def __post_init__(self) -> None:
        if (self.kinesis_shards is not None and self.kinesis_shards < 1) or self.on_demand_shards < 1 \
                or self.table_stream_shards < 1:
            raise ValueError("a stream needs at least one shard")
        if not 0 < self.table_target_utilization <= 100 or self.table_min_units < 1 or self.tables < 1:
            raise ValueError("provisioned tables need a utilization in (0, 100], at least one unit and one table")

    @property
    def stream_shards(self) -> int:
        return self.on_demand_shards if self.kinesis_shards is None else self.kinesis_shards

    @classmethod
    def from_dict(cls, data: Mapping) -> Deployment:
        """As saved in a results file; fields an older model kept (its pollers' rates) are dropped."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# The reference design as its documentation describes it: an on-demand stream ("Kinesis Data Streams
# (ON_DEMAND)"), one table, neither point-in-time recovery nor active tracing (it mentions neither).
REFERENCE_DEPLOYMENT = Deployment(kinesis_shards=None, tables=1, point_in_time_recovery=False, active_tracing=False)


def reference_deployment(ours: Deployment) -> Deployment:
    """The reference as documented, its table billed as this design's are: its documentation does not
    say how, and the comparison is of the two request patterns, not of two capacity modes."""
    return replace(REFERENCE_DEPLOYMENT, tables_provisioned=ours.tables_provisioned,
                   table_target_utilization=ours.table_target_utilization, table_min_units=ours.table_min_units)
# ProcessStockData's Kinesis mapping: "Batch size 2".
REFERENCE_KINESIS_BATCH_SIZE = 2
# Settings the reference does not document, at the AWS defaults: a DynamoDB-stream mapping reads
# batches of up to 100 records, a function has 128 MB of memory.
REFERENCE_TABLE_STREAM_BATCH_SIZE = 100
REFERENCE_MEMORY_MB = 128


@dataclass(frozen=True)
class Batches:
    """How one function takes a burst: its invocations, the records each carries, the busiest shard's share."""

    invocations: int  # per burst, over all shards
    records: float  # per invocation, on average
    busiest_shard_invocations: int  # per burst, on the shard with the most (run one after another)


def batches(burst: int, shards: int, batch_size: int) -> Batches:
    """A burst of `burst` records spread evenly over `shards`, each shard's share read `batch_size` at a time.

    Each shard gets burst // shards records or one more; a share of r records takes ceil(r / batch_size)
    invocations, one after another on its shard (a mapping invokes one batch per shard at a time).
    """
    if burst < 1 or shards < 1 or batch_size < 1:
        raise ValueError("a burst, shards and a batch size are at least 1")
    share, extra = divmod(burst, shards)
    larger, smaller = math.ceil((share + 1) / batch_size), math.ceil(share / batch_size)
    invocations = extra * larger + (shards - extra) * smaller
    return Batches(invocations=invocations, records=burst / invocations,
                   busiest_shard_invocations=larger if extra else smaller)


def batching(design: DesignProfile, workload: Workload, deployment: Deployment) -> dict[str, Batches]:
    """Each function's batches at `workload`: the process function's off the Kinesis stream, the trend
    function's off the ticks table's stream (one item, so one stream record, per tick), each taken as
    full as the burst allows up to its mapping's batch size."""
    return {
        "process": batches(workload.symbols, deployment.stream_shards, design.process.batch_size),
        "trend": batches(workload.symbols, deployment.table_stream_shards, design.trend.batch_size),
    }


def billed_ms(function: FunctionProfile, records: float) -> int:
    """Lambda bills duration by the millisecond, rounded up."""
    return math.ceil(function.duration_ms.at(records))


def busy_seconds(function: FunctionProfile, taken: Batches) -> float:
    """How long a burst keeps the function busy: the busiest shard's invocations, one after another."""
    return taken.busiest_shard_invocations * billed_ms(function, taken.records) / 1000


def traces_per_burst(invocations: int, busy: float, workload: Workload, deployment: Deployment) -> float:
    """Invocations active tracing records of one function in one burst.

    The reservoir records the first invocation of each second, 5% of the rest are sampled. A burst's
    invocations start within the seconds the function is busy with it (at least one, at most the
    interval, after which the next burst starts).
    """
    seconds = min(workload.every_seconds, max(1.0, busy))
    reservoir = min(float(invocations), deployment.xray_reservoir_per_second * seconds)
    return reservoir + deployment.xray_rate * (invocations - reservoir)


def monthly_usage(design: DesignProfile, workload: Workload, deployment: Deployment) -> dict[str, float]:
    """Each meter's quantity in a month."""
    usage: dict[str, float] = defaultdict(float)
    ticks, bursts = workload.ticks, workload.bursts
    taken = batching(design, workload, deployment)
    for name, function in (("process", design.process), ("trend", design.trend)):
        k = taken[name].records
        invocations = bursts * taken[name].invocations
        usage["lambda.requests"] += invocations
        usage["lambda.gb_seconds"] += invocations * billed_ms(function, k) / 1000 * function.memory_mb / 1024
        usage["logs.ingested_gb"] += invocations * function.log_bytes.at(k) / GB
        for meter, line in function.meters.items():
            usage[meter] += invocations * line.at(k)
        if deployment.active_tracing:
            usage["xray.traces_recorded"] += bursts * traces_per_burst(
                taken[name].invocations, busy_seconds(function, taken[name]), workload, deployment)
    for meter, per_tick in design.per_tick.items():
        usage[meter] += ticks * per_tick
    # The stream: the producer's records, the same for both designs.
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
    if deployment.tables_provisioned:
        for units, hours in (("dynamodb.write_request_units", "dynamodb.write_capacity_unit_hours"),
                             ("dynamodb.read_request_units", "dynamodb.read_capacity_unit_hours")):
            usage[hours] += provisioned_units(usage.pop(units, 0.0), workload, deployment) * workload.hours_per_month
    return dict(sorted(usage.items()))


def provisioned_units(month_units: float, workload: Workload, deployment: Deployment) -> float:
    """The capacity (units a second, over all tables) that serves `month_units` request units a month.

    Scaling holds each table's capacity near `table_target_utilization` percent of its consumption,
    which it measures per minute, so a burst every `every_seconds` is served from the capacity left
    unused since the last one (DynamoDB banks up to `BURST_CAPACITY_SECONDS` of it): at least the
    steady rate over the target, and at least a burst's units over the seconds banked. No table
    scales below its floor, so the floors are added whole: an upper bound, by at most the floors.
    """
    steady = month_units / workload.seconds / (deployment.table_target_utilization / 100)
    per_burst = month_units / workload.bursts / min(workload.every_seconds, BURST_CAPACITY_SECONDS)
    return max(steady, per_burst) + deployment.tables * deployment.table_min_units


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
    """The reference design's one-write-per-tick pattern with its own settings, on this design's measured ticks.

    ProcessStockData reads the stream in batches of at most 2 records (`REFERENCE_KINESIS_BATCH_SIZE`)
    and pays, per tick, one DynamoDB PutItem of the same item (write units from its measured size)
    and one S3 PUT of it (its own object, raw-data/SYMBOL/timestamp.json). The trend function reads
    the table's stream (the AWS default batch size, `REFERENCE_TABLE_STREAM_BATCH_SIZE`) and pays one
    Query of the last `long_window` ticks per tick (eventually consistent, the cheaper read). Both at
    Lambda's default memory (`REFERENCE_MEMORY_MB`): the reference states none. Durations and log
    bytes per invocation are this design's measured lines (fixed + per record), evaluated at the
    reference's own batches: an assumption that favours the reference (a PUT per tick makes its
    invocations longer). Alerts, stream records, stored items and archived bytes per tick the same.
    """
    query_units = 0.5 * max(1, math.ceil(long_window * measured.stored_item_bytes / READ_UNIT_BYTES))
    process = replace(measured.process, memory_mb=REFERENCE_MEMORY_MB, batch_size=REFERENCE_KINESIS_BATCH_SIZE,
                      meters={
                          "dynamodb.write_request_units": Linear(
                              0.0, float(write_units(round(measured.stored_item_bytes)))),
                          "s3.put_requests": Linear(0.0, 1.0),
                      }, requests={"dynamodb PutItem": Linear(0.0, 1.0), "s3 PutObject": Linear(0.0, 1.0)})
    trend = replace(measured.trend, memory_mb=REFERENCE_MEMORY_MB, batch_size=REFERENCE_TABLE_STREAM_BATCH_SIZE,
                    meters={"dynamodb.read_request_units": Linear(0.0, query_units)},
                    requests={"dynamodb Query": Linear(0.0, 1.0)})
    return replace(measured, name="reference (one write per tick)", process=process, trend=trend)


def requests_per_tick(function: FunctionProfile, records: float) -> float:
    return sum(line.per_tick(records) for line in function.requests.values())


def compare(measured: DesignProfile, reference: DesignProfile, workload: Workload, ours: Deployment,
            theirs: Deployment) -> dict:
    """Both designs' monthly bill at `workload`, each as deployed (`ours`, `theirs`), per service, JSON-ready."""
    designs = {"this_design": (measured, ours), "reference": (reference, theirs)}
    usage = {key: monthly_usage(design, workload, deployment) for key, (design, deployment) in designs.items()}
    bills = {key: monthly_cost(used) for key, used in usage.items()}
    taken = {key: batching(design, workload, deployment) for key, (design, deployment) in designs.items()}
    totals = {key: sum(bill.values()) for key, bill in bills.items()}
    services = sorted(set(bills["this_design"]) | set(bills["reference"]))

    def each(value) -> dict:
        """`value(design, function profile, its batches)` per design and function."""
        return {key: {role: value(design, getattr(design, role), taken[key][role]) for role in ("process", "trend")}
                for key, (design, _) in designs.items()}

    return {
        "workload": {"symbols": workload.symbols, "every_seconds": workload.every_seconds,
                     "hours_per_month": workload.hours_per_month,
                     "ticks_per_second": round(workload.ticks_per_second, 3), "ticks": round(workload.ticks),
                     "bursts": round(workload.bursts)},
        "designs": {key: design.name for key, (design, _) in designs.items()},
        "deployment": {key: asdict(deployment) for key, (_, deployment) in designs.items()},
        "batch_sizes": each(lambda d, f, b: f.batch_size),
        "invocations_per_burst": each(lambda d, f, b: b.invocations),
        "records_per_invocation": each(lambda d, f, b: round(b.records, 2)),
        # The seconds one burst keeps each function busy on its busiest shard, at the durations billed.
        "busy_seconds_per_burst": each(lambda d, f, b: round(busy_seconds(f, b), 2)),
        # The functions' requests per tick at those batches, alerts apart.
        "requests_per_tick": each(lambda d, f, b: round(requests_per_tick(f, b.records), 4)),
        "this_design": round(totals["this_design"], 2),
        "reference": round(totals["reference"], 2),
        "ratio": round(totals["this_design"] / totals["reference"], 4) if totals["reference"] else None,
        "per_service": {s: {key: round(bills[key].get(s, 0.0), 2) for key in designs} for s in services},
        "usage": {key: {m: round(q, 4) for m, q in used.items()} for key, used in usage.items()},
        "prices": {"region": prices.REGION, "as_published": prices.AS_PUBLISHED, "taken": prices.TAKEN,
                   "how": prices.HOW,
                   "meters": {m: {k: v for k, v in p.items()} for m, p in prices.METERS.items()}},
    }
