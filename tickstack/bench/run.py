"""`make bench`: the pipeline on a fresh embedded stack, measured against the emulator's own ceiling.

Usage: make bench, or python scripts/bench.py [--symbols AAPL,MSFT,IBM,GOOG,FB] [--out bench/results/latest.json]
       python scripts/bench.py --cost-only [--cost-symbols 500 --cost-every 30]  (the bill again, from the results)

One run, on two emulators started for it, the same MiniStack started the same way (requests counted
in their Lambda workers, see request_hook.py):

1. Ceiling: a chain of the pipeline's shape with trivial handlers (ceiling.py), deployed beside the
   pipeline on an emulator of its own and fed the recording; that emulator is stopped before the
   pipeline is measured. What a chain leaves in an emulator cannot be removed (a deleted table's
   stream stays readable for 24 hours, as on AWS: about 25 MB after the recording), and is not the
   pipeline's memory.
2. Replay: every daily bar of the symbols (real prices, symbols interleaved as a live feed sends them)
   put on the pipeline's stream as fast as it takes them, timed until every tick is stored and
   analysed; ticks_per_s, ratio_to_ceiling, and the requests each tick cost, counted.
3. Alerts: the stack's, compared with the backtest of the same recording field by field.
4. Single ticks on the idle pipeline (more days of the same symbols): put -> analysed latency.
5. Rounds of one tick per symbol: with 4., the two batch sizes the cost model is fitted to.
6. Crossing ticks, one at a time: put -> alert seen in the alert-audit queue.
Then the monthly bill at N symbols every S seconds beside the reference design's (cost.py), peak
memory of the emulator and its workers, the backtest's speed over the same recording, the targets.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from producer.kinesis import KinesisSink, tick_record
from stock_pipeline.adapters import DynamoDBTrendStateStore
from tickstack.bench import cost, counting, feed, profile, request_hook
from tickstack.bench.ceiling import CeilingChain
from tickstack.bench.counting import PRODUCER, Call, Tally, per_tick
from tickstack.bench.invocations import invocations
from tickstack.bench.memory import PeakMemory, process_group_rss
from tickstack.deploy import pipeline
from tickstack.ops.alerts import parse_envelope
from tickstack.ops.replay import replay, wait_processed
from tickstack.ops.verify import backtest_throughput, deployment_windows, verify
from tickstack.settings import PROJECT_ROOT, Settings
from tickstack.targets.ministack import MiniStack
from tickstack.waiting import wait_until

console = Console()
DEFAULT_SYMBOLS = "AAPL,MSFT,IBM,GOOG,FB"
DEFAULT_OUT = PROJECT_ROOT / "bench" / "results" / "latest.json"
CROSS_SYMBOL = "XCROSS"
WARMUP_SYMBOL = "WARMUP"
MB = 1_000_000
MIB = 2**20
# Latency is polled this finely; waiting for a batch, less so.
FINE = {"interval": 0.002, "max_interval": 0.01}


# --- small helpers --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency_summary(seconds: Sequence[float]) -> dict:
    if not seconds:
        return {"samples": 0}
    ms = [s * 1000 for s in seconds]
    return {"p50": round(statistics.median(ms), 1), "p95": round(percentile(ms, 0.95), 1),
            "p99": round(percentile(ms, 0.99), 1), "samples": len(ms)}


def now_ms() -> int:
    return int(time.time() * 1000)


def settle(calls_dir: Path, quiet_seconds: float = 0.6, timeout: float = 120) -> None:
    """Return once no function has made a request for `quiet_seconds` (trailing invocations done)."""
    last = {"sizes": None, "since": time.monotonic()}

    def quiet() -> bool:
        sizes = counting.snapshot(calls_dir)
        if sizes != last["sizes"]:
            last.update(sizes=sizes, since=time.monotonic())
            return False
        return time.monotonic() - last["since"] >= quiet_seconds

    wait_until(quiet, timeout=timeout, what="the functions to go quiet", interval=0.1, max_interval=0.1)


class Analysis:
    """Whether the trend function has analysed up to given ticks (one client, polled fast)."""

    def __init__(self, target) -> None:
        self.states = DynamoDBTrendStateStore(target.outputs["trend_state_table_name"],
                                              client=target.client("dynamodb"))

    def reached(self, newest: dict[str, str]) -> bool:
        for symbol, timestamp in newest.items():
            stored = self.states.get(symbol)
            if stored is None or (stored.trend.last_timestamp or "") < timestamp or stored.pending:
                return False
        return True

    def wait(self, newest: dict[str, str], timeout: float = 60, fine: bool = False) -> None:
        wait_until(lambda: self.reached(newest), timeout=timeout, what=f"the analysis of {sorted(newest)}",
                   **(FINE if fine else {"interval": 0.01, "max_interval": 0.05}))


def newest(ticks: Sequence[dict]) -> dict[str, str]:
    found: dict[str, str] = {}
    for t in ticks:
        found[t["symbol"]] = max(found.get(t["symbol"], ""), t["timestamp"])
    return found


class Window:
    """A phase: its calls (count files between two snapshots) and its time span (for the logs)."""

    def __init__(self, calls_dir: Path) -> None:
        self.calls_dir = calls_dir
        self.mark = counting.snapshot(calls_dir)
        self.start_ms = now_ms()
        self.end_ms = self.start_ms
        self.calls: list[Call] = []

    def close(self) -> "Window":
        settle(self.calls_dir)
        self.end_ms = now_ms()
        self.calls = counting.calls_since(self.calls_dir, self.mark)
        return self


@dataclass
class Measured:
    """Everything one run gathered, for `_results`."""

    symbols: list[str]
    ticks: list[dict]
    target: MiniStack
    ceiling_target: MiniStack
    calls_dir: Path
    outputs: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    batch_sizes: dict = field(default_factory=dict)
    windows: Any = None
    deployment: cost.Deployment | None = None
    deploy_seconds: float = 0.0
    emulator_pid: int = 0
    chain: CeilingChain | None = None
    ceiling: Any = None
    ceiling_calls: list[Call] = field(default_factory=list)
    ceiling_invocations: dict = field(default_factory=dict)
    sent_seconds: float = 0.0
    replay_seconds: float = 0.0
    verification: Any = None
    analysed: list[float] = field(default_factory=list)
    analysed_new_symbol: list[float] = field(default_factory=list)
    alerted: list[float] = field(default_factory=list)
    rss: dict[str, int] = field(default_factory=dict)
    rss_at_peak: dict[str, int] = field(default_factory=dict)  # by process, at the pipeline's peak
    phases: dict[str, Window] = field(default_factory=dict)
    by_phase: dict[str, dict[str, profile.Phase]] = field(default_factory=dict)


# --- the run --------------------------------------------------------------------------------------


def run(args: argparse.Namespace, say: Callable[[str], None]) -> dict:
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="tickstack-bench-") as tmp_name:
        tmp = Path(tmp_name)
        extra_env = counting.prepare_hook(tmp / "counting")
        calls_dir = Path(extra_env[request_hook.DIR_VARIABLE])
        settings = Settings(home=tmp / "home", port=_free_port(), region="us-east-1", name_prefix="bench")
        target = MiniStack(settings, persist=False, extra_env=extra_env)
        ceiling_target = MiniStack(replace(settings, home=tmp / "ceiling", port=_free_port()), persist=False,
                                   extra_env=extra_env)
        ticks = feed.recording(symbols)
        recording = feed.write(tmp / "bench.jsonl", ticks)
        say(f"{len(ticks)} ticks of {', '.join(symbols)}; deploying a fresh embedded stack")
        got = Measured(symbols, ticks, target, ceiling_target, calls_dir)
        try:
            _measure(args, got, recording, say)
        finally:
            pipeline.down(target, lambda line: None)
        results = _results(args, got)
        say("backtest of the same recording (3 fresh runs)")
        results["backtest_ticks_per_s"] = round(backtest_throughput(recording))
    return results


def _measure(args, got: Measured, recording: Path, say: Callable[[str], None]) -> None:
    target, calls_dir, ticks = got.target, got.calls_dir, got.ticks
    started = time.perf_counter()
    pipeline.up(target, lambda line: None)
    got.deploy_seconds = time.perf_counter() - started
    got.outputs = outputs = target.outputs
    names = outputs["function_names"]
    lam = target.client("lambda")
    got.config = {role: lam.get_function_configuration(FunctionName=name) for role, name in names.items()}
    got.batch_sizes = batch_sizes = {
        role: lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"][0]["BatchSize"]
        for role, name in names.items()}
    got.windows = deployment_windows(target)
    got.deployment = _deployment(args, target, outputs, got.config)
    got.emulator_pid = pid = target.pid()
    got.rss["deployed"] = process_group_rss(pid)

    # 1. The ceiling, on an emulator of its own ---------------------------------------------------
    say(f"ceiling chain: batch sizes {batch_sizes['process']} (Kinesis) and {batch_sizes['trend']} (table stream)")
    ceiling_target = got.ceiling_target
    ceiling_target.start(lambda line: None)
    try:
        got.chain = chain = CeilingChain(ceiling_target, ceiling_target.settings.name_prefix)
        chain.deploy(runtime=got.config["process"]["Runtime"], memory_mb=got.config["process"]["MemorySize"],
                     kinesis_batch_size=batch_sizes["process"], stream_batch_size=batch_sizes["trend"])
        ceiling_kinesis = ceiling_target.client("kinesis")
        request_hook.count_client(ceiling_kinesis, str(calls_dir), f"{PRODUCER}-ceiling")
        window = Window(calls_dir)
        with PeakMemory(ceiling_target.pid()) as memory:
            got.ceiling = chain.measure(recording, ceiling_kinesis)
            window.close()
        got.rss["ceiling_peak"] = memory.peak
        ceiling_logs = ceiling_target.client("logs")
        got.ceiling_invocations = {role: invocations(ceiling_logs, name, window.start_ms, window.end_ms)
                                   for role, name in chain.functions.items()}
        got.ceiling_calls = window.calls
    finally:
        ceiling_target.stop(lambda line: None)
    say(f"ceiling: {got.ceiling.ticks_per_s:.0f} ticks/s")

    # 2-6. The pipeline -----------------------------------------------------------------------------
    kinesis = target.client("kinesis")
    request_hook.count_client(kinesis, str(calls_dir), PRODUCER)
    sink = KinesisSink(kinesis, outputs["stream_name"])
    analysis = Analysis(target)
    phases = got.phases
    got.rss["pipeline_start"] = process_group_rss(pid)
    with PeakMemory(pid) as memory:
        warm = feed.tick(WARMUP_SYMBOL, date(2001, 1, 2), 10.0, 10.0, 1)
        sink.send([tick_record(warm)])
        analysis.wait(newest([warm]), timeout=120)

        say("replay")
        phases["replay"] = window = Window(calls_dir)
        began = time.perf_counter()
        report = replay(feed.StreamFeed(target, outputs["stream_name"], kinesis), [recording])
        got.sent_seconds = time.perf_counter() - began
        wait_processed(target, report, timeout=900)
        got.replay_seconds = time.perf_counter() - began
        window.close()
        say(f"replay: {len(ticks) / got.replay_seconds:.0f} ticks/s")

        got.verification = verify(target, [recording], got.windows)

        say("single ticks on the idle pipeline")
        more = feed.continuation(feed.last_ticks(ticks))
        phases["single"] = window = Window(calls_dir)
        for _ in range(args.single_ticks):
            t = next(more)
            sent = time.perf_counter()
            sink.send([tick_record(t)])
            analysis.wait(newest([t]), timeout=30, fine=True)
            got.analysed.append(time.perf_counter() - sent)
        window.close()

        say("rounds of one tick per symbol")
        phases["rounds"] = window = Window(calls_dir)
        for _ in range(args.rounds):
            batch = [next(more) for _ in got.symbols]
            sink.send([tick_record(t) for t in batch])
            analysis.wait(newest(batch), timeout=60)
        window.close()

        say("crossing ticks")
        _crosses(args, got, sink, analysis)
    got.rss["pipeline_peak"] = memory.peak
    got.rss_at_peak = memory.at_peak

    # Invocations per phase, from the functions' logs -----------------------------------------------
    logs = target.client("logs")
    sources = {name: role for role, name in names.items()} | {PRODUCER: PRODUCER}
    phase_ticks = {"replay": len(ticks), "single": args.single_ticks, "rounds": args.rounds * len(got.symbols)}
    for phase_name, window in phases.items():
        by_source = _by_source(window.calls, sources)
        got.by_phase[phase_name] = {
            role: profile.Phase(phase_ticks[phase_name], invocations(logs, names[role], window.start_ms, window.end_ms),
                                by_source.get(role, []))
            for role in names}
        got.by_phase[phase_name][PRODUCER] = profile.Phase(phase_ticks[phase_name], [], by_source.get(PRODUCER, []))


def _crosses(args, got: Measured, sink: KinesisSink, analysis: Analysis) -> None:
    """Put -> alert in the audit queue, for ticks made to cross, one at a time on the idle pipeline (and put ->
    analysed for the others: a symbol of short history, where the real ones have thousands of ticks)."""
    target, windows = got.target, got.windows
    series = feed.crossing_series(CROSS_SYMBOL, date(2014, 1, 1), windows.long, args.cross_ticks)
    expected = {a["timestamp"] for a in feed.crosses(series, windows.short, windows.long)}
    warmup, rest = series[:windows.long], series[windows.long:]
    sink.send([tick_record(t) for t in warmup])
    analysis.wait(newest(warmup), timeout=60)
    queue_url = target.outputs["alert_audit_queue_url"]
    # The replay's alerts were compared already; an empty queue makes each peek small and quick.
    target.client("sqs").purge_queue(QueueUrl=queue_url)
    wait_until(lambda: not target.audit_messages(queue_url), timeout=30, what="the audit queue to be empty")

    def alert_for(timestamp: str) -> bool:
        for message in target.audit_messages(queue_url):
            alert = parse_envelope(message.get("Body", ""))
            if alert and alert["symbol"] == CROSS_SYMBOL and alert["timestamp"] == timestamp:
                return True
        return False

    for t in rest:
        if len(got.alerted) >= args.cross_ticks:
            break
        sent = time.perf_counter()
        sink.send([tick_record(t)])
        if t["timestamp"] in expected:
            wait_until(lambda: alert_for(t["timestamp"]), timeout=30, what=f"the alert of {t['timestamp']}", **FINE)
            got.alerted.append(time.perf_counter() - sent)
            analysis.wait(newest([t]), timeout=30)
        else:
            analysis.wait(newest([t]), timeout=30, fine=True)
            got.analysed_new_symbol.append(time.perf_counter() - sent)


def _by_source(calls: Sequence[Call], sources: dict[str, str]) -> dict[str, list[Call]]:
    grouped: dict[str, list[Call]] = {}
    for call in calls:
        grouped.setdefault(sources.get(call.source, call.source), []).append(call)
    return grouped


# --- results --------------------------------------------------------------------------------------


def _results(args, got: Measured) -> dict:
    ticks, outputs, config, batch_sizes, windows = got.ticks, got.outputs, got.config, got.batch_sizes, got.windows
    ceiling, chain, measured, phases, verification = got.ceiling, got.chain, got.by_phase, got.phases, got.verification
    n = len(ticks)
    replay_phase = measured["replay"]
    functions = ("process", "trend")
    replay_tally = Tally.of(phases["replay"].calls)
    function_tally = Tally.of(c for role in functions for c in replay_phase[role].calls)
    everything = [c for w in phases.values() for c in w.calls]
    sizes = counting.item_sizes(everything)
    ticks_per_s = n / got.replay_seconds

    # The cost model -------------------------------------------------------------------------------
    single, rounds = measured["single"], measured["rounds"]
    memory = {role: config[role]["MemorySize"] for role in functions}
    fitted = {role: profile.fit_function(single[role], rounds[role], memory[role], batch_sizes[role], sizes)
              for role in functions}
    producer_tally = replay_phase[PRODUCER].tally
    ticks_table = outputs["table_name"]
    design = profile.design(
        fitted["process"], fitted["trend"], profile.alert_meters(replay_phase["trend"].tally, n),
        record_bytes=producer_tally.kinesis_bytes / max(producer_tally.kinesis_records, 1),
        stored_item_bytes=sizes.get(ticks_table, 0.0),
        archived_bytes=function_tally.s3_put_bytes / n)
    workload = cost.Workload(args.cost_symbols, args.cost_every, args.hours_per_month)
    bill = price(design, windows.long, workload, got.deployment, cost.reference_deployment(got.deployment))
    bill["fit"] = {
        "records_per_invocation": {
            **{name: {role: round(measured[name][role].records_per_invocation, 2) for role in functions}
               for name in ("single", "rounds", "replay")},
            "priced_workload": bill["records_per_invocation"]["this_design"]},
        # Requests per tick but alerts as counted in the replay, where a batch holds runs of each symbol (at
        # the priced workload a batch lies within one burst, where each symbol has one tick: see
        # requests_per_tick above).
        "replay_requests_per_tick": {
            role: round(sum(count for name, count in replay_phase[role].tally.requests.items()
                            if name not in profile.ALERT_REQUESTS) / n, 4) for role in functions},
    }

    # Counting, shown to include the functions ------------------------------------------------------
    counted = counting.counting_processes(got.calls_dir)
    writer = Tally.of(c for c in got.ceiling_calls if c.source == chain.functions["write"])
    reader = Tally.of(c for c in got.ceiling_calls if c.source == chain.functions["seen"])
    proof = {
        "counted_processes": counted,
        "emulator_pid": got.emulator_pid,
        "emulator_counted": any(got.emulator_pid in pids for pids in counted.values()),
        "ceiling_writer": {"items_written_counted": writer.ddb_items_written, "records_sent": ceiling.ticks + 1,
                           "requests": dict(writer.requests),
                           "invocations": len(got.ceiling_invocations["write"])},
        "ceiling_reader": {"requests": dict(reader.requests), "invocations": len(got.ceiling_invocations["seen"])},
        "pipeline_items_written_in_replay": {
            "ticks_table": sum(c.items_written for c in replay_phase["process"].calls if ticks_table in c.tables),
            "valid_ticks_sent": n},
    }

    results = {
        "ticks": n,
        "symbols": got.symbols,
        "recording": {"order": "by timestamp, the symbols interleaved as a live feed sends them",
                      "first": ticks[0]["timestamp"], "last": ticks[-1]["timestamp"],
                      "source": "bokeh_sampledata stocks.csv.gz (daily bars)"},
        "batch_sizes": {"kinesis": batch_sizes["process"], "table_stream": batch_sizes["trend"]},
        "memory_size_mb": memory,
        "sma_windows": {"short": windows.short, "long": windows.long},
        "deploy_seconds": round(got.deploy_seconds, 1),
        "ceiling_ticks_per_s": round(ceiling.ticks_per_s, 1),
        "ceiling_seconds": round(ceiling.seconds, 2),
        "ticks_per_s": round(ticks_per_s, 1),
        "replay_seconds": round(got.replay_seconds, 2),
        "replay_send_ticks_per_s": round(n / got.sent_seconds, 1),
        "ratio_to_ceiling": round(ticks_per_s / ceiling.ticks_per_s, 3),
        "latency_ms": {"put_to_analysed": latency_summary(got.analysed),
                       "put_to_alert": latency_summary(got.alerted),
                       "put_to_analysed_short_history": latency_summary(got.analysed_new_symbol)},
        "requests_per_tick": {
            "total": per_tick(replay_tally.total, n),
            "by_service": {s: per_tick(c, n) for s, c in replay_tally.by_service().items()},
            "by_operation": {name: per_tick(c, n) for name, c in sorted(replay_tally.requests.items())},
            "by_source": {role: per_tick(replay_phase[role].tally.total, n) for role in (PRODUCER, *functions)},
            "failed_requests": replay_tally.failed,
        },
        "invocations_per_tick": {role: per_tick(replay_phase[role].count, n) for role in functions},
        "s3_puts_per_tick": per_tick(function_tally.s3_puts, n),
        "ddb_items_read_per_tick": per_tick(function_tally.ddb_items_read, n),
        "ddb_items_written_per_tick": per_tick(function_tally.ddb_items_written, n),
        "ddb_read_units_per_tick": per_tick(function_tally.read_units(sizes), n),
        "ddb_write_units_per_tick": per_tick(function_tally.ddb_write_units, n),
        "item_bytes": {table: round(size, 1) for table, size in sorted(sizes.items())},
        "lambda_duration_ms_per_invocation_in_replay": {
            role: round(statistics.mean(i.duration_ms for i in replay_phase[role].invocations), 1)
            if replay_phase[role].invocations else None for role in functions},
        "log_bytes_per_invocation_in_replay": {
            role: round(statistics.mean(i.log_bytes for i in replay_phase[role].invocations))
            if replay_phase[role].invocations else None for role in functions},
        "peak_rss_mb": round(got.rss["pipeline_peak"] / MB, 1),
        "peak_rss_mib": round(got.rss["pipeline_peak"] / MIB, 1),
        "rss_mb": {name: round(value / MB, 1) for name, value in got.rss.items()},
        "rss_at_pipeline_peak_mb": {name: round(value / MB, 1) for name, value in sorted(got.rss_at_peak.items())},
        "alerts_expected": len(verification.backtest.alerts),
        "alerts_seen": len(verification.sent),
        "alerts_correct": verification.parity.identical,
        "alert_differences": [{"alert_id": d.alert_id, "kind": d.kind, "fields": [list(f) for f in d.fields]}
                              for d in verification.parity.differences[:20]],
        "monthly_cost_usd": bill,
        "request_counting": proof,
        "cost_profile": design.to_dict(),
    }
    return results


def _deployment(args, target, outputs, config) -> cost.Deployment:
    """This design as deployed: the stream's mode and shards, PITR on the ticks table, tracing on both functions."""
    if args.kinesis_shards is not None:
        shards = args.kinesis_shards or None  # 0: on demand
    else:
        summary = target.client("kinesis").describe_stream_summary(StreamName=outputs["stream_name"])
        summary = summary["StreamDescriptionSummary"]
        provisioned = summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED") == "PROVISIONED"
        shards = summary["OpenShardCount"] if provisioned else None
    try:
        backups = target.client("dynamodb").describe_continuous_backups(TableName=outputs["table_name"])
        pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"] == "ENABLED"
    except Exception:  # noqa: BLE001 - an emulator without the call: the Terraform default
        pitr = True
    tracing = all(c.get("TracingConfig", {}).get("Mode") == "Active" for c in config.values())
    # DynamoDB's own default, PROVISIONED, where a table reports no mode.
    mode = target.client("dynamodb").describe_table(TableName=outputs["table_name"])["Table"].get(
        "BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    capacity = outputs["table_capacity"]
    tables = sum(1 for key in ("table_name", "trend_state_table_name", "alerts_table_name") if outputs.get(key))
    return cost.Deployment(kinesis_shards=shards, tables_provisioned=mode == "PROVISIONED",
                           table_target_utilization=capacity["target_utilization"],
                           table_min_units=capacity["min_units"], tables=tables,
                           point_in_time_recovery=pitr, active_tracing=tracing)


def price(design: cost.DesignProfile, long_window: int, workload: cost.Workload, ours: cost.Deployment,
          theirs: cost.Deployment) -> dict:
    """Both designs' bill at `workload`, with the assumptions it rests on."""
    reference = cost.reference_design(design, long_window)
    bill = cost.compare(design, reference, workload, ours, theirs)
    bill["assumptions"] = cost_assumptions(bill)
    return bill


def _stream(deployment: dict) -> str:
    if deployment["kinesis_shards"] is None:
        return f"an on-demand stream (the capacity of {deployment['on_demand_shards']} shards at first)"
    shards = deployment["kinesis_shards"]
    return f"a provisioned stream of {shards} shard{'s' if shards != 1 else ''}"


def _tables(deployment: dict) -> str:
    n = deployment["tables"]
    tables = f"{n} table{'s' if n != 1 else ''}"
    if not deployment["tables_provisioned"]:
        return f"{tables} on demand"
    return (f"{tables} provisioned, scaled to {deployment['table_target_utilization']:g}% utilization "
            f"from {deployment['table_min_units']} unit{'s' if deployment['table_min_units'] != 1 else ''}")


def _taken(bill: dict, key: str, role: str) -> str:
    n, k = bill["invocations_per_burst"][key][role], bill["records_per_invocation"][key][role]
    return f"{n} invocation{'s' if n != 1 else ''} of {k:g} records"


def cost_assumptions(bill: dict) -> list[str]:
    """What the bill rests on, in words, with the numbers of this bill."""
    w, deployed = bill["workload"], bill["deployment"]
    ours, theirs = deployed["this_design"], deployed["reference"]
    n, s = w["symbols"], w["every_seconds"]
    per_shard = math.ceil(n / (ours["kinesis_shards"] or ours["on_demand_shards"]))
    busy = bill["busy_seconds_per_burst"]["this_design"]

    def on_off(flag: bool) -> str:
        return "on" if flag else "off"

    return [
        (f"Arrival: the workload is the poll producer's. Every {s:g} s it reads all {n} symbols and sends them "
         "together (PutRecords of up to 500 records, none waiting over 0.2 s), so a burst of "
         f"{n} records lands every {s:g} s. Partition keys are symbols, so a burst spreads evenly over the "
         "stream's shards (hash skew ignored)."),
        ("Batching: each shard's share of a burst is read in invocations of at most the mapping's batch size, "
         "one after another on the shard: ceil(share / batch size) invocations per shard per burst. The trend "
         "function reads the ticks table's stream (1 shard; one stream record per tick) the same way. The process "
         "invocations of a burst write within about a second while the table stream is polled 4 times a second "
         "and a trend invocation runs, so the model takes the trend batches as full as the burst allows, at most "
         "the batch size. For the reference, whose batches of 2 spread a burst's writes over many small "
         "invocations, this favours it (fewer, fuller trend invocations than it would get). Per burst: "
         f"this design, process {_taken(bill, 'this_design', 'process')}, trend "
         f"{_taken(bill, 'this_design', 'trend')}; the reference, process "
         f"{_taken(bill, 'reference', 'process')}, trend {_taken(bill, 'reference', 'trend')}."),
        (f"This design as deployed: {_stream(ours)}, {_tables(ours)}, point-in-time recovery "
         f"{on_off(ours['point_in_time_recovery'])}, "
         f"active tracing {on_off(ours['active_tracing'])}; its mappings' batch sizes as deployed "
         f"({bill['batch_sizes']['this_design']['process']} Kinesis, {bill['batch_sizes']['this_design']['trend']} "
         f"table stream). A burst puts {per_shard} records on a shard, against a shard's 1,000 records/s."),
        (f"The reference as documented: {_stream(theirs)} (ON_DEMAND; it bills stream-hours and data, not "
         "shards, and its diagram's '1 shard' would change its batches of 2 by under one invocation per shard per "
         "burst); ProcessStockData's mapping batch size 2 (its 'triggers every 60 seconds', a batching window, "
         "holds back no full batch, and a burst fills batches of 2 at once); one DynamoDB PutItem (write units from the measured item size) and one S3 PUT "
         "(raw-data/SYMBOL/timestamp.json) per tick; in the trend function one Query of the last long-window ticks "
         "per tick, eventually consistent. It sets neither point-in-time recovery nor active tracing, so neither is "
         "billed to it. Undocumented settings at the AWS defaults: the table-stream mapping's batch size "
         f"{cost.REFERENCE_TABLE_STREAM_BATCH_SIZE}, {cost.REFERENCE_MEMORY_MB} MB of memory per function (this "
         "design's durations were measured at its own memory: in the reference's favour)."),
        ("Requests, items and bytes per invocation are counted in the functions on the emulator and fitted to "
         "a fixed part per invocation plus a part per record, from single ticks and from rounds of one tick "
         "per symbol; each record in those batches is its symbol's only one, as in a batch within one burst."),
        ("Lambda duration: as measured on the emulator (MiniStack's REPORT lines), fitted the same way, billed by "
         "the millisecond rounded up at each design's own records per invocation. The reference is given this "
         "design's durations and log bytes per invocation (fixed + per record) at its own batches, which favours "
         "it: its PutItem and S3 PUT per tick would make its invocations longer. MiniStack sorts and filters a "
         "whole partition for each Query, so a function querying symbols with thousands of ticks runs longer "
         "there than it would on AWS."),
        "Log bytes: as the emulator's log groups hold them, plus 26 bytes per event.",
        "Alerts: publishes per tick at the rate of the replay of real prices, each delivered to the audit queue.",
        ("DynamoDB capacity: on demand, the request units counted; provisioned, the capacity scaling keeps: "
         "each month's units spread over its seconds and divided by the target utilization, at least a burst's "
         f"units over the seconds DynamoDB banks for bursts (the interval, at most {cost.BURST_CAPACITY_SECONDS}), "
         "plus every table's floor whole (an upper bound). The reference's documentation does not say how its "
         f"table is billed: it is billed as this design's ({_tables(theirs)}), so that the bills compare request "
         "patterns."),
        ("DynamoDB reads billed on full item sizes (measured written sizes), 4 KB per unit, strong consistency "
         "as the functions ask; the reference's Query reads the last long-window ticks, eventually consistent."),
        ("Kinesis: on demand, stream-hours plus GB in and GB out (one consumer), each record rounded up to 1 KB; "
         "provisioned, shard-hours plus one 25 KB PUT payload unit per record."),
        ("Storage: a month of ticks held a whole month (table, its continuous backups where PITR is on, and the "
         "archive); nothing expires."),
        ("X-Ray (where active tracing is on): Lambda records the first invocation each second and 5% of the rest, "
         "per function. A burst's invocations of one function start within the seconds it keeps the function busy "
         "(its busiest shard's invocations one after another, at the durations billed; at least 1 s, at most the "
         "interval), so per burst: min(invocations, reservoir x those seconds) + 5% of the rest. This design, "
         f"busy per burst: process {busy['process']:g} s, trend {busy['trend']:g} s."),
        ("Free tiers ignored; alarms, dashboard, custom metrics, KMS requests and log storage left out (the "
         "same for both designs)."),
    ]


# --- printing -------------------------------------------------------------------------------------


def targets(results: dict) -> list[dict]:
    bill = results["monthly_cost_usd"]
    alert_p50 = results["latency_ms"]["put_to_alert"].get("p50")
    checks = [
        ("ratio_to_ceiling", ">=", 0.6, results["ratio_to_ceiling"]),
        ("s3_puts_per_tick", "<=", 0.05, results["s3_puts_per_tick"]),
        ("ddb_items_read_per_tick", "<=", 1.0, results["ddb_items_read_per_tick"]),
        ("latency_ms.put_to_alert.p50", "<=", 100.0, alert_p50),
        ("monthly_cost_usd.ratio (this design / reference)", "<=", 0.2, bill["ratio"]),
        ("peak_rss_mb", "<=", 250.0, results["peak_rss_mb"]),
        ("alerts_correct == alerts_expected == alerts_seen", "==", results["alerts_expected"],
         results["alerts_correct"] if results["alerts_seen"] == results["alerts_expected"] else -1),
    ]
    compare = {">=": lambda m, t: m >= t, "<=": lambda m, t: m <= t, "==": lambda m, t: m == t}
    return [{"measure": name, "target": f"{op} {bound}", "measured": measured,
             "met": measured is not None and compare[op](measured, bound)} for name, op, bound, measured in checks]


def print_results(results: dict) -> None:
    main = Table(title="tickstack benchmark (embedded emulator)", title_justify="left")
    main.add_column("measure")
    main.add_column("value", justify="right")
    latency = results["latency_ms"]
    rows = [
        ("ticks (symbols)", f"{results['ticks']:,} ({', '.join(results['symbols'])})"),
        ("batch sizes (Kinesis, table stream)", f"{results['batch_sizes']['kinesis']}, "
                                                f"{results['batch_sizes']['table_stream']}"),
        ("ceiling: trivial chain", f"{results['ceiling_ticks_per_s']:,} ticks/s"),
        ("pipeline end to end", f"{results['ticks_per_s']:,} ticks/s ({results['replay_seconds']} s)"),
        ("ratio to ceiling", f"{results['ratio_to_ceiling']}"),
        ("put -> analysed, idle (p50/p95/p99)", _ms(latency["put_to_analysed"])),
        ("put -> analysed, idle, short history", _ms(latency["put_to_analysed_short_history"])),
        ("put -> alert in audit queue (p50/p95/p99)", _ms(latency["put_to_alert"])),
        ("requests per tick", f"{results['requests_per_tick']['total']}"),
        ("S3 PUTs per tick", f"{results['s3_puts_per_tick']}"),
        ("DynamoDB items read per tick", f"{results['ddb_items_read_per_tick']}"),
        ("invocations per tick (process, trend)", f"{results['invocations_per_tick']['process']}, "
                                                  f"{results['invocations_per_tick']['trend']}"),
        ("peak RSS, emulator + workers", f"{results['peak_rss_mb']} MB ({results['peak_rss_mib']} MiB)"),
        ("RSS deployed / pipeline start; the ceiling's emulator at its peak", " / ".join(
            f"{results['rss_mb'][k]}" for k in ("deployed", "pipeline_start")) + f"; {results['rss_mb']['ceiling_peak']} MB"),
        ("at the peak, by process", ", ".join(
            f"{name} {mb}" for name, mb in results.get("rss_at_pipeline_peak_mb", {}).items()) + " MB"),
        ("alerts expected / seen / identical", f"{results['alerts_expected']} / {results['alerts_seen']} / "
                                               f"{results['alerts_correct']}"),
        ("backtest of the same recording", f"{results.get('backtest_ticks_per_s', '-'):,} ticks/s"),
        ("deploy", f"{results['deploy_seconds']} s"),
    ]
    for row in rows:
        main.add_row(*row)
    console.print(main)
    requests = Table(title="AWS requests per tick in the replay, counted", title_justify="left")
    requests.add_column("service operation")
    requests.add_column("per tick", justify="right")
    for name, value in results["requests_per_tick"]["by_operation"].items():
        requests.add_row(name, f"{value}")
    requests.add_row("total", f"{results['requests_per_tick']['total']}")
    console.print(requests)
    print_cost(results["monthly_cost_usd"])
    goals = Table(title="targets", title_justify="left")
    for column in ("measure", "target", "measured", "met"):
        goals.add_column(column)
    for goal in results["targets"]:
        goals.add_row(goal["measure"], goal["target"], str(goal["measured"]), "yes" if goal["met"] else "NO")
    console.print(goals)


def print_cost(bill: dict) -> None:
    w, designs = bill["workload"], ("this_design", "reference")
    table = Table(title=f"monthly AWS cost, us-east-1 list prices as published on {bill['prices']['as_published']}: "
                        f"{w['symbols']} symbols every {w['every_seconds']:g} s ({w['ticks_per_second']} ticks/s, "
                        f"{w['hours_per_month']:g} h)", title_justify="left")
    table.add_column("service")
    table.add_column("this design", justify="right")
    table.add_column("reference (one write per tick)", justify="right")
    for service, both in bill["per_service"].items():
        table.add_row(service, *(f"${both[key]:,.2f}" for key in designs))
    table.add_row("total", *(f"${bill[key]:,.2f}" for key in designs))
    console.print(table)
    console.print(f"this design / reference = {bill['ratio']}")
    names = {"this_design": "this design", "reference": "reference"}
    for key in designs:
        deployed = bill["deployment"][key]
        pitr, tracing = (("on" if deployed[flag] else "off") for flag in ("point_in_time_recovery", "active_tracing"))
        console.print(f"  {names[key]}: {_stream(deployed)}, {_tables(deployed)}, PITR {pitr}, tracing {tracing}; "
                      "per burst "
                      + ", ".join(f"{role} {_taken(bill, key, role)} (batch size {bill['batch_sizes'][key][role]})"
                                  for role in ("process", "trend"))
                      + "; requests per tick (alerts apart) "
                      + ", ".join(f"{role} {value}" for role, value in bill["requests_per_tick"][key].items()))
        for role, busy in bill["busy_seconds_per_burst"][key].items():
            if busy > w["every_seconds"]:
                console.print(f"  [yellow]{names[key]}: a burst keeps the {role} function busy {busy:g} s at the "
                              f"measured durations, longer than the {w['every_seconds']:g} s interval: it would "
                              "fall behind[/yellow]")


def _ms(summary: dict) -> str:
    if not summary.get("samples"):
        return "-"
    return f"{summary['p50']} / {summary['p95']} / {summary['p99']} ms ({summary['samples']})"


# --- entry point ----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Benchmark the pipeline on a fresh embedded stack against the "
                                            "emulator's ceiling, count its AWS requests, and price them.")
    p.add_argument("--symbols", default=DEFAULT_SYMBOLS, help="symbols of the sample data to replay")
    p.add_argument("--single-ticks", type=int, default=60, help="single ticks on the idle pipeline (latency)")
    p.add_argument("--rounds", type=int, default=30, help="rounds of one tick per symbol")
    p.add_argument("--cross-ticks", type=int, default=20, help="crossing ticks timed until their alert")
    p.add_argument("--cost-symbols", type=int, default=500, help="N: symbols of the priced workload")
    p.add_argument("--cost-every", type=float, default=30.0, help="S: seconds between a symbol's ticks")
    p.add_argument("--hours-per-month", type=float, default=cost.HOURS_PER_MONTH)
    p.add_argument("--kinesis-shards", type=int, default=None,
                   help="price this design on a provisioned stream of this many shards, 0 for on demand "
                        "(default: as deployed; with --cost-only, as saved)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--cost-only", action="store_true",
                   help="no run: price the workload again from the cost profile in --out")
    return p


def cost_only(args: argparse.Namespace) -> dict:
    """The bill at another workload, from a results file's measured profile and both designs' deployments."""
    results = json.loads(args.out.read_text())
    try:
        design = cost.DesignProfile.from_dict(results["cost_profile"])
        long_window = results["sma_windows"]["long"]
        saved = results["monthly_cost_usd"]["deployment"]
    except KeyError as missing:
        raise SystemExit(f"{args.out}: no {missing} to price from; run `make bench` first") from None
    if "tables_provisioned" in saved.get("reference", {}):
        ours, theirs = (cost.Deployment.from_dict(saved[key]) for key in ("this_design", "reference"))
    else:  # an older file, from before the tables' capacity mode was priced: the reference as documented
        ours = cost.Deployment.from_dict(saved.get("this_design", saved))
        theirs = cost.reference_deployment(ours)
    if args.kinesis_shards is not None:
        ours = replace(ours, kinesis_shards=args.kinesis_shards or None)
    workload = cost.Workload(args.cost_symbols, args.cost_every, args.hours_per_month)
    return price(design, long_window, workload, ours, theirs)


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.cost_only:
        print_cost(cost_only(args))
        return
    results = run(args, lambda line: console.print(f"[dim]bench:[/dim] {line}"))
    results["targets"] = targets(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_results(results)
    console.print(f"written to {args.out}")
