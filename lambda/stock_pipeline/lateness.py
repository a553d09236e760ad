"""Late ticks: stored, left out of the analysis, counted once; and the symbols they stall.

The policy. Each symbol's trend analysis is a fold over its ticks in timestamp order that
never rewrites history: a tick older than the last analysed one (its watermark) is stored and
archived like any other, but left out of the averages, since folding it in would change
crosses already alerted. So that no single tick can move a watermark out of reach of the ticks
that follow it, ProcessStockData quarantines any tick stamped more than future_tolerance_seconds
(300 by default) ahead of its own clock; recordings of the past replay as before. Each late tick
is counted in the LateTicks metric and logged once, with its lag behind the watermark. A symbol
whose watermark has not moved for longer than stalled_after_seconds (900 by default) while late
ticks of it keep arriving is stalled: it raises the StalledSymbols alarm on AWS and is listed by
`tickstack status`.

Telling late from analysed. A stream record whose tick lies below the watermark the run started
from is either late, or a tick analysed already: redelivered, or read from the table by an
earlier catch-up before its own record came. The state item keeps `read_at`: when the read that
last moved the watermark saw the ticks it analysed, in whole seconds. For a table read that is
when the read returned, on the function's clock, rounded up; for ticks read from a batch's
records it is when the batch's newest record was written, since every tick written after that
comes in a later batch. The record's ApproximateCreationDateTime says when its item was written,
rounded down (AWS and MiniStack both give whole seconds). Written after that read, the tick was
not there for it, and no later read looks below the watermark: it is late. Written before (or in
the same second), it was analysed, or it is late behind an earlier read: not counted, so the count
errs low, never high. A record without a creation time is not late. Each record is counted once:
a redelivered record carries a sequence number no higher than the highest counted (or, without
sequence numbers, was written before the last count).

Pure: no clock, no I/O; the caller passes the time in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from stock_pipeline.contract import TIMESTAMP_FORMAT


# How far the stream's clock (ApproximateCreationDateTime) and the function's may disagree.
CLOCK_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class Arrival:
    """A stream record naming one tick of a symbol."""

    timestamp: str  # the tick's, TIMESTAMP_FORMAT
    # The record's ApproximateCreationDateTime: when the item was written, epoch seconds
    # rounded down; None when the record has none.
    written_at: int | None = None
    # The record's stream sequence number; None when it has none or it is not a number.
    sequence: int | None = None


@dataclass(frozen=True)
class LateWatch:
    """What the trend-state item keeps to tell late ticks and stalled symbols (contract.TrendStateItem)."""

    # When the read that last moved the watermark saw its ticks, epoch seconds (see above).
    read_at: int | None = None
    late_ticks: int = 0
    last_late_at: int | None = None
    late_sequence: int | None = None


@dataclass(frozen=True)
class LateTick:
    timestamp: str
    watermark: str
    lag_seconds: int  # watermark minus the tick's timestamp
    written_at: int
    sequence: int | None


def late_candidates(arrivals: Iterable[Arrival], watermark: str | None, read_at: int | None) -> list[LateTick]:
    """The arrivals written after the read that moved `watermark` past them: never analysed.

    `watermark` and `read_at` are the state's as the run first read it.
    """
    if watermark is None or read_at is None:
        return []
    late = []
    for arrival in arrivals:
        if arrival.timestamp < watermark and arrival.written_at is not None and arrival.written_at > read_at:
            late.append(
                LateTick(
                    timestamp=arrival.timestamp,
                    watermark=watermark,
                    lag_seconds=lag_seconds(watermark, arrival.timestamp),
                    written_at=arrival.written_at,
                    sequence=arrival.sequence,
                )
            )
    return late


def not_counted(candidates: Sequence[LateTick], watch: LateWatch) -> list[LateTick]:
    """The candidates `watch` has not counted yet: each stream record is counted once."""
    fresh = []
    seen: set[tuple[str, int | None, int]] = set()
    for tick in candidates:
        key = (tick.timestamp, tick.sequence, tick.written_at)
        if key in seen:
            continue
        seen.add(key)
        if watch.last_late_at is None:
            fresh.append(tick)
        elif tick.sequence is not None and watch.late_sequence is not None:
            # A number no higher than the highest counted is a redelivery, unless the numbers
            # restarted (MiniStack restored from disk): then the record was written after the
            # last count, by more than the two clocks can disagree.
            if tick.sequence > watch.late_sequence or tick.written_at > watch.last_late_at + CLOCK_MARGIN_SECONDS:
                fresh.append(tick)
        elif tick.written_at > watch.last_late_at:
            fresh.append(tick)
    return fresh


def counted(watch: LateWatch, late: Sequence[LateTick], now: float) -> LateWatch:
    """`watch` once `late` (new to it) are counted at `now`."""
    if not late:
        return watch
    sequences = [t.sequence for t in late if t.sequence is not None]
    if watch.late_sequence is not None:
        sequences.append(watch.late_sequence)
    return replace(
        watch,
        late_ticks=watch.late_ticks + len(late),
        last_late_at=math.floor(now),
        late_sequence=max(sequences) if sequences else None,
    )


def advanced(watch: LateWatch, read_returned_at: float) -> LateWatch:
    """`watch` once a read that saw the ticks as of `read_returned_at` moved the watermark."""
    return replace(watch, read_at=math.ceil(read_returned_at))


def is_stalled(watch: LateWatch, now: float, threshold_seconds: float) -> bool:
    """Nothing analysed for longer than the threshold, while late ticks keep arriving."""
    if watch.read_at is None or watch.last_late_at is None:
        return False
    return (
        watch.last_late_at > watch.read_at
        and now - watch.read_at > threshold_seconds
        and now - watch.last_late_at <= threshold_seconds
    )


def lag_seconds(watermark: str, timestamp: str) -> int:
    """How far `timestamp` lies behind `watermark`, in seconds (both TIMESTAMP_FORMAT)."""
    return int((_parse(watermark) - _parse(timestamp)).total_seconds())


def epoch_seconds(timestamp: str) -> int:
    """A TIMESTAMP_FORMAT time as epoch seconds."""
    return int(_parse(timestamp).timestamp())


def _parse(timestamp: str) -> datetime:
    return datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)
