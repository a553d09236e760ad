"""Ticks the stream could not take wait in a local file and go first, in order, next time.

``Spool`` is the file: one record's data (a tick's JSON) per line, appended and fsynced, the format
``tickstack replay`` reads. ``SpoolingSink`` puts ticks on Kinesis through a ``KinesisSink`` in
batches (at most every 200 ms or 500 records), retries a failing send with jittered backoff, and
when the stream still cannot take them (throttled beyond the retries, the emulator or the network
gone) appends the unsent ticks to the spool instead of dropping them. While the spool holds
anything, new ticks queue behind it, so per-symbol order survives an outage.

Typical use (``produce --live``)::

    with SpoolingSink(KinesisSink(client, stream_name), spool_path) as sink:  # resends the spool first
        run_live(symbols, bar_seconds, sink.add, stop, on_wakeup=sink.poll)
    # leaving the block sends what is batched; what cannot go is spooled, and the log says how much
"""

from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from producer.batching import MAX_DELAY_SECONDS, MAX_RECORDS, TickBatcher
from producer.kinesis import MAX_RECORDS_PER_CALL, SINK_ERRORS, KinesisSink, StreamRejected, tick_record
from producer.recording import read_lines

log = logging.getLogger(__name__)

Record = tuple[str, bytes]

STREAM_REFUSED = "the stream did not take them"
BEHIND_SPOOL = "queued behind the spool"


class Spool:
    """An append-only JSON-lines file of records waiting for the stream."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._count = sum(1 for _ in self.read()) if self.path.exists() else 0

    def __len__(self) -> int:
        return self._count

    def read(self) -> list[Record]:
        """The records in the order they were spooled. A line that is not JSON (a write cut by a crash)
        is kept and sent as it is, under partition key "unknown", so the pipeline quarantines it with a
        reason instead of it vanishing here."""
        if not self.path.exists():
            return []
        return [(line.partition_key, line.data) for line in read_lines([self.path])]

    def append(self, records: Sequence[Record]) -> None:
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as fh:
            fh.write(b"".join(data + b"\n" for _, data in records))
            fh.flush()
            # These ticks exist nowhere else: on disk before the caller moves on.
            os.fsync(fh.fileno())
        self._count += len(records)

    def replace(self, records: Sequence[Record]) -> None:
        """Keep only ``records`` (what is still unsent after a partial resend), atomically."""
        if not records:
            self.clear()
            return
        partial = self.path.with_name(self.path.name + ".partial")
        with open(partial, "wb") as fh:
            fh.write(b"".join(data + b"\n" for _, data in records))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, self.path)
        self._count = len(records)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self._count = 0


@dataclass
class Delivery:
    """What one call did: records that landed, records spooled, and what the spool holds afterwards."""

    sent: int = 0
    spooled: int = 0
    spool_size: int = 0


class SpoolingSink:
    """A KinesisSink that batches, retries, and spools what it cannot send; see the module docstring.

    ``attempts`` sends per chunk (with jittered exponential backoff from ``backoff`` seconds) before
    spooling. After a spooling failure the stream is left alone for ``hold`` seconds (doubling per
    failure up to ``max_hold``): meanwhile ticks go straight to the spool, so a dead endpoint costs the
    live loop no retries. ``clock``, ``sleep`` and ``rng`` are injectable for tests.
    """

    def __init__(self, sink: KinesisSink, spool_path: Path | str, *, attempts: int = 3, backoff: float = 0.2,
                 hold: float = 5.0, max_hold: float = 60.0, max_records: int = MAX_RECORDS,
                 max_delay: float = MAX_DELAY_SECONDS, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, rng: Callable[[], float] = random.random) -> None:
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        self.sink = sink
        self.spool = Spool(spool_path)
        self.attempts = attempts
        self.backoff = backoff
        self.hold = hold
        self.max_hold = max_hold
        self.clock = clock
        self.sleep = sleep
        self.rng = rng
        self.totals = Delivery(spool_size=len(self.spool))
        self._batcher = TickBatcher(max_records, max_delay)
        self._failures = 0
        self._hold_until: float | None = None

    @property
    def spooled(self) -> int:
        """How many ticks the spool file holds now."""
        return len(self.spool)

    def __enter__(self) -> "SpoolingSink":
        self.resend_spool()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def resend_spool(self) -> Delivery:
        """Send what an earlier run spooled, in order, before anything new; call once at start."""
        waiting = len(self.spool)
        if not waiting:
            return Delivery()
        log.warning("%d ticks spooled in %s by an earlier run: sending them first", waiting, self.spool.path)
        sent = self._drain()
        return self._account(Delivery(sent=sent, spool_size=len(self.spool)))

    def add(self, tick: dict) -> Delivery | None:
        """Batch a tick; send the batch when it is full or its oldest tick waited ``max_delay``."""
        batch = self._batcher.add(tick, self.clock())
        return self.send(batch) if batch else None

    def poll(self) -> Delivery | None:
        """Send a batch whose time is up, and retry the spool once a hold is over; call often (the live
        loop's ``on_wakeup``), since a lone tick is only sent from here or from the next ``add``."""
        batch = self._batcher.due(self.clock())
        if batch:
            return self.send(batch)
        if len(self.spool) and not self._holding():
            sent = self._drain()
            return self._account(Delivery(sent=sent, spool_size=len(self.spool)))
        return None

    def close(self) -> Delivery:
        """Send what is batched; what cannot go is spooled, and the log says how much waits there."""
        delivery = self.send(self._batcher.drain())
        if len(self.spool):
            log.warning("%d ticks wait in %s; they go first on the next start", len(self.spool), self.spool.path)
        return delivery

    def send(self, ticks: Iterable[dict]) -> Delivery:
        """Send ticks now (no batching), behind whatever the spool holds; spool what cannot go."""
        records = [tick_record(t) for t in ticks]
        if not records:
            return Delivery(spool_size=len(self.spool))
        sent = 0
        if len(self.spool):
            if not self._holding():
                sent = self._drain()
            if len(self.spool):
                # Behind the spool, never around it: a later tick must not land before an earlier one.
                self._spool(records, reason=BEHIND_SPOOL)
                return self._account(Delivery(sent=sent, spooled=len(records), spool_size=len(self.spool)))
        unsent = self._deliver(records)
        if unsent:
            self._spool(unsent, reason=STREAM_REFUSED)
        sent += len(records) - len(unsent)
        return self._account(Delivery(sent=sent, spooled=len(unsent), spool_size=len(self.spool)))

    def _drain(self) -> int:
        records = self.spool.read()
        unsent = self._deliver(records)
        self.spool.replace(unsent)
        landed = len(records) - len(unsent)
        if landed:
            log.warning("sent %d spooled ticks from %s; %d still wait there", landed, self.spool.path, len(unsent))
        return landed

    def _deliver(self, records: list[Record]) -> list[Record]:
        """Send in order; return the unsent tail after ``attempts`` tries of the chunk that failed."""
        for offset in range(0, len(records), MAX_RECORDS_PER_CALL):
            # One call's worth at a time: when botocore raises, nothing of this chunk is known to have
            # landed, so at most one chunk is resent (a duplicate the pipeline absorbs, never a loss).
            pending = records[offset:offset + MAX_RECORDS_PER_CALL]
            pending = self._deliver_chunk(pending)
            if pending:
                return pending + records[offset + MAX_RECORDS_PER_CALL:]
        self._failures = 0
        self._hold_until = None
        return []

    def _deliver_chunk(self, pending: list[Record]) -> list[Record]:
        for attempt in range(1, self.attempts + 1):
            try:
                self.sink.send(pending)
                return []
            except SINK_ERRORS as exc:
                # A StreamRejected knows which leading records landed; keep the rest only.
                if isinstance(exc, StreamRejected):
                    pending = pending[len(exc.sent):]
                if attempt == self.attempts:
                    self._start_hold(exc)
                    return pending
                delay = self.backoff * 2 ** (attempt - 1) * (0.5 + self.rng() / 2)
                log.info("stream did not take %d ticks (%s: %s); retry %d/%d in %.2f s", len(pending),
                         type(exc).__name__, exc, attempt, self.attempts - 1, delay)
                self.sleep(delay)
        return pending

    def _start_hold(self, exc: Exception) -> None:
        self._failures += 1
        pause = min(self.max_hold, self.hold * 2 ** (self._failures - 1)) * (0.5 + self.rng() / 2)
        self._hold_until = self.clock() + pause
        log.warning("stream unavailable after %d attempts (%s: %s); spooling to %s, next try in %.1f s",
                    self.attempts, type(exc).__name__, exc, self.spool.path, pause)

    def _holding(self) -> bool:
        return self._hold_until is not None and self.clock() < self._hold_until

    def _spool(self, records: list[Record], reason: str) -> None:
        self.spool.append(records)
        # A failed send is news; a batch queued behind the spool during an outage every 200 ms is not.
        level = logging.WARNING if reason == STREAM_REFUSED else logging.INFO
        log.log(level, "spooled %d ticks to %s (%s); it holds %d", len(records), self.spool.path, reason,
                len(self.spool))

    def _account(self, delivery: Delivery) -> Delivery:
        self.totals.sent += delivery.sent
        self.totals.spooled += delivery.spooled
        self.totals.spool_size = delivery.spool_size
        return delivery
