"""When to send: ticks leave in batches of at most ``max_records``, none waiting over ``max_delay``.

Pure: the caller says what time it is (any monotonic clock, in seconds). One PutRecords call per
batch instead of one per tick keeps the request count low when many symbols close a bar together,
and the delay bound keeps a lone tick from waiting for company.
"""

from __future__ import annotations

# Kinesis takes at most 500 records per PutRecords call.
MAX_RECORDS = 500
MAX_DELAY_SECONDS = 0.2


class TickBatcher:
    def __init__(self, max_records: int = MAX_RECORDS, max_delay: float = MAX_DELAY_SECONDS) -> None:
        if max_records < 1 or max_delay < 0:
            raise ValueError("max_records must be >= 1 and max_delay >= 0")
        self.max_records = max_records
        self.max_delay = max_delay
        self._pending: list[dict] = []
        self._oldest: float | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, tick: dict, now: float) -> list[dict]:
        """Queue a tick; return a batch to send now when this one fills it or the oldest waited enough."""
        if self._oldest is None:
            self._oldest = now
        self._pending.append(tick)
        if len(self._pending) >= self.max_records:
            return self.drain()
        return self.due(now)

    def due(self, now: float) -> list[dict]:
        """The pending batch when its oldest tick has waited ``max_delay``, else nothing."""
        if self._oldest is not None and now - self._oldest >= self.max_delay:
            return self.drain()
        return []

    def drain(self) -> list[dict]:
        """Everything pending, now (on shutdown, or when the batch is full)."""
        batch, self._pending, self._oldest = self._pending, [], None
        return batch
