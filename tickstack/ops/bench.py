"""Benchmark the deployed pipeline on a fresh embedded stack: throughput, latency, memory.

Usage: make bench, or python scripts/bench.py [--symbols AAPL,MSFT,IBM,GOOG] [--latency-ticks 30] [--out build/bench.json]

Throughput: every daily bar of the chosen symbols (real prices from bokeh_sampledata) replayed as fast as
the stream takes them, timed until every tick is stored and analysed. Latency: single ticks put on an
idle pipeline, timed until the item is in the table and until the trend function has analysed it.
Memory: peak resident set of the emulator's whole process tree (it and its Lambda workers).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tickstack.deploy import pipeline
from tickstack.ops import sample_data
from tickstack.ops.replay import replay, wait_processed
from tickstack.settings import PROJECT_ROOT, Settings
from tickstack.targets.base import Target
from tickstack.targets.ministack import MiniStack
from tickstack.waiting import wait_until

console = Console()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree_rss(root_pid: int) -> int:
    """Resident bytes of every process in ``root_pid``'s process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != root_pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ProcessLookupError):
            continue
    return total


class PeakMemory:
    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, process_tree_rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def write_recording(path: Path, symbols: list[str]) -> int:
    ticks = [tick for symbol in symbols for tick in sample_data.recording(symbol)]
    sample_data.write_recording(path, ticks)
    return len(ticks)


def measure_latency(target: Target, count: int) -> dict[str, list[float]]:
    kinesis, dynamodb = target.client("kinesis"), target.client("dynamodb")
    outputs = target.outputs
    stored, analysed = [], []
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    for i in range(count):
        timestamp = (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        tick = {"symbol": "LATENCY", "timestamp": timestamp, "open": 100.0, "dayHigh": 101.0, "dayLow": 99.0,
                "lastPrice": 100.0 + (i % 7), "previousClose": 100.0, "lastVolume": 1000}
        sent = time.perf_counter()
        kinesis.put_record(StreamName=outputs["stream_name"], PartitionKey="LATENCY", Data=json.dumps(tick).encode())
        key = {"symbol": {"S": "LATENCY"}, "timestamp": {"S": timestamp}}
        wait_until(lambda: "Item" in dynamodb.get_item(TableName=outputs["table_name"], Key=key),
                   timeout=30, what="the latency tick in the table", interval=0.002, max_interval=0.01)
        stored.append(time.perf_counter() - sent)

        def analysed_up_to_it():
            item = dynamodb.get_item(TableName=outputs["trend_state_table_name"],
                                     Key={"symbol": {"S": "LATENCY"}}).get("Item", {})
            return item.get("last_timestamp", {}).get("S", "") >= timestamp

        wait_until(analysed_up_to_it, timeout=30, what="the trend analysis of the latency tick",
                   interval=0.002, max_interval=0.01)
        analysed.append(time.perf_counter() - sent)
    return {"stored": stored, "analysed": analysed}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the pipeline on a fresh embedded stack.")
    parser.add_argument("--symbols", default="AAPL,MSFT,IBM,GOOG")
    parser.add_argument("--latency-ticks", type=int, default=30)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "build" / "bench.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tickstack-bench-") as tmp:
        settings = Settings(home=Path(tmp) / "home", port=_free_port(), region="us-east-1", name_prefix="bench")
        target = MiniStack(settings)
        try:
            started = time.perf_counter()
            pipeline.up(target, lambda line: None)
            deploy_seconds = time.perf_counter() - started
            recording = Path(tmp) / "bench.jsonl"
            ticks = write_recording(recording, args.symbols.split(","))
            pid = target.pid()
            with PeakMemory(pid) as memory:
                latency = measure_latency(target, args.latency_ticks)
                began = time.perf_counter()
                report = replay(target, [recording])
                sent_seconds = time.perf_counter() - began
                wait_processed(target, report, timeout=1800)
                processed_seconds = time.perf_counter() - began
        finally:
            pipeline.down(target, lambda line: None)

    results = {
        "ticks": ticks,
        "symbols": args.symbols,
        "deploy_seconds": round(deploy_seconds, 1),
        "replay_send_ticks_per_second": round(ticks / sent_seconds, 1),
        "end_to_end_ticks_per_second": round(ticks / processed_seconds, 1),
        "end_to_end_seconds": round(processed_seconds, 1),
        "latency_stored_ms_p50": round(statistics.median(latency["stored"]) * 1000, 1),
        "latency_stored_ms_p95": round(percentile(latency["stored"], 0.95) * 1000, 1),
        "latency_analysed_ms_p50": round(statistics.median(latency["analysed"]) * 1000, 1),
        "latency_analysed_ms_p95": round(percentile(latency["analysed"], 0.95) * 1000, 1),
        "peak_rss_mib": round(memory.peak / 2**20, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    table = Table(title="tickstack benchmark (embedded emulator)", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in results.items():
        table.add_row(key, str(value))
    console.print(table)
    console.print(f"written to {args.out}")


if __name__ == "__main__":
    main()
