"""Requests counted where they are made: set up the counting, cut it into phases, add it up.

The functions are counted by `request_hook` installed as ``sitecustomize`` in the emulator's Lambda
workers (see that module); the producer by the same hook on the bench's own Kinesis client. Each
process appends to its own file; a phase is what the files gained between two `snapshot`s.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tickstack.bench import request_hook

PRODUCER = "producer"
READ_UNIT_BYTES = 4096
SNS_CHUNK_BYTES = 65536
# Operations S3 bills at its PUT, COPY, POST and LIST rate, and at its GET rate.
S3_PUT_TIER = frozenset({"PutObject", "CopyObject", "UploadPart", "CreateMultipartUpload",
                         "CompleteMultipartUpload", "ListObjects", "ListObjectsV2", "ListObjectVersions"})
S3_GET_TIER = frozenset({"GetObject", "HeadObject", "SelectObjectContent"})
DYNAMODB_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


def prepare_hook(directory: Path) -> dict[str, str]:
    """Write the worker hook as ``sitecustomize.py`` into ``directory/site`` and return the emulator's
    extra environment: that folder first on PYTHONPATH, and where the counts go."""
    site, counts = directory / "site", directory / "calls"
    site.mkdir(parents=True, exist_ok=True)
    counts.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(request_hook.__file__, site / "sitecustomize.py")
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, request_hook.DIR_VARIABLE: str(counts)}


@dataclass(frozen=True)
class Call:
    """One API call, as a count line records it."""

    source: str
    service: str
    operation: str
    tables: tuple[str, ...] = ()
    items_read: int = 0
    items_scanned: int = 0
    read_bytes: int = 0
    consistent: bool = False
    items_written: int = 0
    written_bytes: int = 0
    write_units: float = 0
    bytes_sent: int = 0
    records: int = 0
    kilobytes: int = 0
    failed: bool = False

    @classmethod
    def from_line(cls, line: Mapping) -> "Call":
        return cls(
            source=line["fn"], service=line["s"], operation=line["o"], tables=tuple(line.get("t", ())),
            items_read=line.get("r", 0), items_scanned=line.get("sc", 0), read_bytes=line.get("rs", 0),
            consistent=bool(line.get("c")), items_written=line.get("w", 0), written_bytes=line.get("ws", 0),
            write_units=line.get("wu", 0), bytes_sent=line.get("b", 0), records=line.get("n", 0),
            kilobytes=line.get("kb", 0), failed=bool(line.get("e")),
        )

    @property
    def name(self) -> str:
        return f"{self.service} {self.operation}"


def snapshot(directory: Path) -> dict[str, int]:
    """How far each count file has been written."""
    return {path.name: path.stat().st_size for path in directory.glob(f"*{request_hook.FILE_SUFFIX}")}


def calls_since(directory: Path, mark: Mapping[str, int], until: Mapping[str, int] | None = None) -> list[Call]:
    """The calls written after `mark` (and up to `until`, when given)."""
    calls = []
    for path in sorted(directory.glob(f"*{request_hook.FILE_SUFFIX}")):
        start = mark.get(path.name, 0)
        with path.open("rb") as fh:
            fh.seek(start)
            data = fh.read() if until is None else fh.read(max(0, until.get(path.name, 0) - start))
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                calls.append(Call.from_line(json.loads(raw)))
            except (ValueError, KeyError):  # a line cut short by a killed worker
                continue
    return calls


def counting_processes(directory: Path) -> dict[str, list[int]]:
    """source -> the pids that wrote counts: which processes were counted."""
    found: dict[str, list[int]] = defaultdict(list)
    for path in directory.glob(f"*{request_hook.FILE_SUFFIX}"):
        source, _, pid = path.name[: -len(request_hook.FILE_SUFFIX)].rpartition(".")
        found[source].append(int(pid))
    return {source: sorted(pids) for source, pids in sorted(found.items())}


# --- adding up -------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Calls added up: per operation, per service, and the quantities AWS bills."""

    requests: Counter = field(default_factory=Counter)  # "service Operation" -> calls
    failed: int = 0
    s3_puts: int = 0
    s3_gets: int = 0
    s3_put_bytes: int = 0
    ddb_items_read: int = 0
    ddb_items_scanned: int = 0
    ddb_items_written: int = 0
    ddb_write_units: float = 0
    # read calls, kept to price them once the tables' item sizes are known
    ddb_reads: list[Call] = field(default_factory=list)
    sns_publishes: int = 0
    kinesis_records: int = 0
    kinesis_bytes: int = 0
    kinesis_kilobytes: int = 0

    @classmethod
    def of(cls, calls: Iterable[Call]) -> "Tally":
        tally = cls()
        for call in calls:
            tally.add(call)
        return tally

    def add(self, call: Call) -> None:
        self.requests[call.name] += 1
        self.failed += call.failed
        if call.service == "s3":
            if call.operation in S3_PUT_TIER:
                self.s3_puts += 1
                self.s3_put_bytes += call.bytes_sent
            elif call.operation in S3_GET_TIER:
                self.s3_gets += 1
        elif call.service == "dynamodb":
            self.ddb_items_read += call.items_read
            self.ddb_items_scanned += call.items_scanned
            self.ddb_items_written += call.items_written
            self.ddb_write_units += call.write_units
            if call.operation in DYNAMODB_READS:
                self.ddb_reads.append(call)
        elif call.service == "sns" and call.operation in ("Publish", "PublishBatch"):
            # SNS bills each 64 KB chunk of a request as one request, and a batch by its messages.
            chunks = max(1, math.ceil(call.bytes_sent / SNS_CHUNK_BYTES))
            self.sns_publishes += max(chunks, call.records)
        elif call.service == "kinesis" and call.operation in ("PutRecords", "PutRecord"):
            self.kinesis_records += call.records
            self.kinesis_bytes += call.bytes_sent
            self.kinesis_kilobytes += call.kilobytes

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def by_service(self) -> dict[str, int]:
        services: Counter = Counter()
        for name, count in self.requests.items():
            services[name.split(" ", 1)[0]] += count
        return dict(sorted(services.items()))

    def read_units(self, item_sizes: Mapping[str, float]) -> float:
        """DynamoDB read request units of the read calls, given each table's full item size.

        DynamoDB bills a read by the full size of the items it went through (a projection does not
        reduce it), rounded up to 4 KB per call for Query and Scan and per item for the others;
        half as much when eventually consistent; at least one rounding step even when nothing matched.
        """
        return sum(read_units(call, item_sizes) for call in self.ddb_reads)


def read_units(call: Call, item_sizes: Mapping[str, float]) -> float:
    factor = 1.0 if call.consistent else 0.5
    table = call.tables[0] if call.tables else ""
    full = max(item_sizes.get(table, 0.0), call.read_bytes / call.items_read if call.items_read else 0.0)
    if call.operation in ("Query", "Scan"):
        return factor * max(1, math.ceil(call.items_scanned * full / READ_UNIT_BYTES))
    per_item = max(1, math.ceil(full / READ_UNIT_BYTES))
    if call.operation == "TransactGetItems":
        return 2.0 * per_item * max(call.items_scanned, 1)
    return factor * per_item * max(call.items_scanned, 1)


def item_sizes(calls: Iterable[Call]) -> dict[str, float]:
    """Each table's mean written item size, from the writes that name one table."""
    written: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for call in calls:
        if call.service == "dynamodb" and call.items_written and len(call.tables) == 1 \
                and call.operation in ("PutItem", "BatchWriteItem"):
            written[call.tables[0]][0] += call.written_bytes
            written[call.tables[0]][1] += call.items_written
    return {table: total / count for table, (total, count) in written.items() if count}


def per_tick(value: float, ticks: int, digits: int = 4) -> float:
    return round(value / ticks, digits) if ticks else 0.0
