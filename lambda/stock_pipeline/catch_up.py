"""Bring one symbol's trend analysis up to date with its new ticks, alerting each cross once.

Where the new ticks are read. The table's stream carries each tick's item (NEW_IMAGE), so a
batch whose records all carry their image is analysed from those images: every tick written
before the batch's newest record has its record in this batch or an earlier one, and the
analysis takes the images newer than the last analysed tick, in timestamp order. That costs no
read of the ticks table, which matters on AWS (no read units per tick) and on the emulator
(whose Query sorts a symbol's whole partition every time). The table is read instead, from the
last analysed tick on, when a symbol has no state yet (its first batch, or a trend state table
newer than the ticks), or when a record carries no image (a KEYS_ONLY stream view, or the
wake-up batch sent after an emulator restart): whatever wakes it then, the ticks the table
holds are analysed once, in timestamp order. Either way a redelivered record changes nothing.

Alerts go through an outbox kept in the state item:

1. the new analysis position is saved together with the crosses it found, as `pending`,
   in one write conditional on the version read;
2. each pending alert is published, then recorded in the alerts table (its publish count
   incremented), then removed from `pending` by another conditional write, one alert at a time;
3. pending alerts found on reading the state (an earlier run stopped between 1 and 2)
   are published before anything else.

A cross is therefore committed exactly once (step 1 wins or loses as a whole) and published
until its removal is recorded; it leaves `pending` only once the alerts table holds it. The
one gap left is a crash between SNS accepting an alert and the write that clears it: that
alert goes out again on the next run, and its publish count in the alerts table says 2 (1
when the crash came before the alerts-table write: the count never exceeds the publishes SNS
accepted). A conditional write that loses means another invocation moved the state: re-read
and start over, a bounded number of times.

What that means for whoever receives the alerts: SNS standard topics deliver at least once;
beyond that, an alert is published again only if the function dies between SNS accepting
it and the write that clears it. No SNS feature closes that window for these subscribers:
publishing with a MessageDeduplicationId is for FIFO topics only, and FIFO topics deliver
to SQS and Lambda, not to e-mail or SMS. So every delivery of one cross carries the same
alert_id (a message attribute and the message's last line), and `tickstack alerts` lists
each alert_id once, from the alerts table, with its delivery or publish count.

The run also counts the late ticks among the stream records that woke it, and says when the
symbol is stalled (see lateness.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from stock_pipeline.contract import DEFAULT_STALLED_AFTER_SECONDS, sns_time
from stock_pipeline.lateness import (
    Arrival,
    LateTick,
    LateWatch,
    advanced,
    counted,
    is_stalled,
    late_candidates,
    not_counted,
)
from stock_pipeline.ports import (
    AlertLog,
    AlertPublisher,
    StaleState,
    StoredTrendState,
    TickStore,
    TrendStateStore,
)
from stock_pipeline.trend import Cross, PricePoint, advance, build_alert, check_windows

MAX_ATTEMPTS = 5
# Prices read and analysed per state write: bounds memory, and a run cut short by the
# function timeout keeps the progress of every finished chunk.
CHUNK_SIZE = 500

MetricCounter = Callable[[str, int], None]
Clock = Callable[[], float]


@dataclass(frozen=True)
class StreamImages:
    """What one batch's records carry for one symbol: its ticks' prices, read from their images."""

    points: tuple[PricePoint, ...]  # one per tick, the last image in stream order
    # When the batch's newest record (of any symbol) was written, epoch seconds rounded down;
    # None when a record gave no creation time. Every tick written after it, and only those,
    # is left for a later batch: it stands for "when the read returned" in lateness.py.
    written_by: int | None = None

    def after(self, timestamp: str | None, limit: int) -> list[PricePoint]:
        """Up to `limit` points newer than `timestamp` (all when None), oldest first, as the table gives them."""
        newer = [p for p in self.points if timestamp is None or p.timestamp > timestamp]
        return sorted(newer, key=lambda p: p.timestamp)[:limit]


@dataclass
class CatchUpReport:
    symbol: str
    # The last analysed timestamp when the run first read the state: stream records at or
    # before it were already analysed (redelivery) or came too late to be (late arrival).
    started_after: str | None = None
    last_timestamp: str | None = None
    analysed: int = 0
    crosses: list[Cross] = field(default_factory=list)
    published: list[Cross] = field(default_factory=list)
    lost_races: int = 0
    # Whether the new ticks were read from the table (else from the stream records' images).
    read_table: bool = False
    # The stream records of this run found late: counted (and logged) by this run, or by an
    # earlier delivery of the same records.
    late: list[LateTick] = field(default_factory=list)
    late_counted_before: list[LateTick] = field(default_factory=list)
    watch: LateWatch = field(default_factory=LateWatch)
    stalled: bool = False


class TrendCatchUp:
    def __init__(
        self,
        ticks: TickStore,
        states: TrendStateStore,
        publisher: AlertPublisher,
        alert_log: AlertLog,
        short_window: int,
        long_window: int,
        logger: Any,  # a logging.Logger or a Powertools Logger: both take extra=
        count: MetricCounter = lambda name, value: None,
        chunk_size: int = CHUNK_SIZE,
        clock: Clock = time.time,
        stalled_after: float = DEFAULT_STALLED_AFTER_SECONDS,
    ) -> None:
        """`clock` gives epoch seconds; `stalled_after` is the threshold of lateness.is_stalled."""
        check_windows(short_window, long_window)
        self._ticks = ticks
        self._states = states
        self._publisher = publisher
        self._alert_log = alert_log
        self._short = short_window
        self._long = long_window
        self._log = logger
        self._count = count
        self._chunk_size = chunk_size
        self._clock = clock
        self._stalled_after = stalled_after
        # States read ahead for a whole batch (prefetch), each used once, by its symbol's first attempt.
        self._read_ahead: dict[str, StoredTrendState | None] = {}

    def prefetch(self, symbols: Sequence[str]) -> None:
        """Read the states of `symbols` ahead, in as few requests as the store takes (one per 100 on
        DynamoDB, where each run would make its own). A symbol the store did not answer for, or a
        read that failed, leaves its run to read its own state, as it would without this."""
        try:
            self._read_ahead = self._states.get_many(symbols)
        except Exception as exc:  # noqa: BLE001 - each run then reads its own state and fails on its own
            self._read_ahead = {}
            self._log.warning("trend states not read ahead; each symbol reads its own", extra={"error": str(exc)})

    def run(self, symbol: str, arrivals: Sequence[Arrival] = (), images: StreamImages | None = None) -> CatchUpReport:
        """Catch `symbol` up; `arrivals` are the stream records that woke it, to find the late ones.

        `images` are the new ticks those records carry; None when any of them carries none, and
        then the table is read.
        """
        report = CatchUpReport(symbol)
        # Alerts this run has published: after a lost race the re-read state may still
        # list one as pending, and it must not go out twice.
        published: set[str] = set()
        # Late or not is judged against the state as the run first read it.
        candidates: list[LateTick] = []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                self._attempt(symbol, arrivals, images, candidates, report, published, first=attempt == 1)
                self._check_stalled(symbol, report)
                return report
            except StaleState as exc:
                report.lost_races += 1
                self._log.warning(
                    "trend state changed under us; re-reading",
                    extra={"symbol": symbol, "attempt": attempt, "error": str(exc)},
                )
        raise StaleState(f"gave up on {symbol} after {MAX_ATTEMPTS} lost conditional writes")

    def _attempt(
        self,
        symbol: str,
        arrivals: Sequence[Arrival],
        images: StreamImages | None,
        candidates: list[LateTick],
        report: CatchUpReport,
        published: set[str],
        first: bool,
    ) -> None:
        if first and symbol in self._read_ahead:
            stored = self._read_ahead.pop(symbol) or StoredTrendState()
        else:
            stored = self._states.get(symbol) or StoredTrendState()
        if first:
            report.started_after = stored.trend.last_timestamp
            candidates.extend(late_candidates(arrivals, stored.trend.last_timestamp, stored.watch.read_at))
        report.last_timestamp = stored.trend.last_timestamp
        report.watch = stored.watch
        if candidates:
            stored = self._count_late(symbol, stored, candidates, report)
        if stored.pending:
            self._log.info(
                "publishing alerts left pending by an earlier run",
                extra={"symbol": symbol, "pending": [cross.alert_id for cross in stored.pending]},
            )
        stored = self._flush(symbol, stored, report, published)

        if stored.version == 0:
            images = None  # no state yet: the table may hold ticks no record of this batch names
        report.read_table = images is None
        while True:
            if images is None:
                points = self._ticks.prices_after(symbol, stored.trend.last_timestamp, self._chunk_size)
                read_returned_at = self._clock()
            else:
                points = images.after(stored.trend.last_timestamp, self._chunk_size)
                read_returned_at = self._clock() if images.written_by is None else images.written_by
            if not points:
                return
            result = advance(symbol, stored.trend, points, self._short, self._long)
            for skipped in result.skipped:
                self._log.warning(
                    "point skipped",
                    extra={"symbol": symbol, "tick_timestamp": skipped.timestamp, "reason": skipped.reason},
                )
            for point in result.evaluations:
                self._log.debug(
                    "point analysed",
                    extra={
                        "symbol": symbol,
                        "tick_timestamp": point.timestamp,
                        "price": str(point.price),
                        "sma_short": None if point.sma_short is None else str(point.sma_short),
                        "sma_long": None if point.sma_long is None else str(point.sma_long),
                        "sign": point.sign,
                    },
                )
            committed = StoredTrendState(
                trend=result.state,
                pending=stored.pending + result.crosses,
                version=stored.version + 1,
                watch=advanced(stored.watch, read_returned_at),
            )
            self._states.save(symbol, committed, expected_version=stored.version)
            report.watch = committed.watch
            report.analysed += len(result.evaluations)
            report.last_timestamp = result.state.last_timestamp
            report.crosses.extend(result.crosses)
            if result.crosses:
                self._count("CrossesDetected", len(result.crosses))
            for cross in result.crosses:
                self._log.info(
                    "cross detected",
                    extra={
                        "alert_id": cross.alert_id,
                        "symbol": symbol,
                        "signal": cross.signal,
                        "tick_timestamp": cross.timestamp,
                        "price": str(cross.price),
                        "sma_short": str(cross.sma_short),
                        "sma_long": str(cross.sma_long),
                    },
                )
            stored = self._flush(symbol, committed, report, published)
            if len(points) < self._chunk_size:
                return

    def _count_late(
        self, symbol: str, stored: StoredTrendState, candidates: list[LateTick], report: CatchUpReport
    ) -> StoredTrendState:
        """Count (in the state, the metric and the log) the late ticks the state has not counted yet."""
        late = not_counted(candidates, stored.watch)
        # After a lost race the re-read state holds what this run counted: not "before" then.
        report.late_counted_before = [tick for tick in candidates if tick not in late and tick not in report.late]
        if not late:
            return stored
        now = self._clock()
        updated = replace(stored, watch=counted(stored.watch, late, now), version=stored.version + 1)
        self._states.save(symbol, updated, expected_version=stored.version)
        report.late = late
        report.watch = updated.watch
        self._count("LateTicks", len(late))
        for tick in late:
            self._log.warning(
                "late tick",
                extra={
                    "symbol": symbol,
                    "tick_timestamp": tick.timestamp,
                    "watermark": tick.watermark,
                    "lag_seconds": tick.lag_seconds,
                    "written_at": tick.written_at,
                    "read_at": stored.watch.read_at,
                    "reason": "stored, but written after the table read that moved the analysis past it: "
                    "left out of the analysis",
                },
            )
        return updated

    def _check_stalled(self, symbol: str, report: CatchUpReport) -> None:
        now = self._clock()
        report.stalled = is_stalled(report.watch, now, self._stalled_after)
        if report.stalled:
            self._count("StalledSymbols", 1)
            self._log.warning(
                "symbol stalled",
                extra={
                    "symbol": symbol,
                    "watermark": report.last_timestamp,
                    "read_at": report.watch.read_at,
                    "late_ticks": report.watch.late_ticks,
                    "last_late_at": report.watch.last_late_at,
                    "stalled_after_seconds": self._stalled_after,
                    "reason": f"nothing analysed for {int(now - (report.watch.read_at or now))} s "
                    "while late ticks keep arriving",
                },
            )

    def _flush(
        self, symbol: str, stored: StoredTrendState, report: CatchUpReport, published: set[str]
    ) -> StoredTrendState:
        while stored.pending:
            cross = stored.pending[0]
            cleared = replace(stored, pending=stored.pending[1:], version=stored.version + 1)
            if cross.alert_id in published:
                self._log.info("alert already published by this run; clearing it", extra={"alert_id": cross.alert_id})
                self._states.save(symbol, cleared, expected_version=stored.version)
            else:
                # The window in which a crash sends this alert again: from SNS accepting it to the
                # clearing write. Only the alerts table is written in it, so that the alert leaves
                # the outbox once recorded; the log line and the metric come after.
                alert = build_alert(cross)
                self._publisher.publish(alert)
                published.add(cross.alert_id)
                publish_count: int | None = None
                try:
                    publish_count = self._alert_log.record(alert, sns_time(self._clock()))
                    self._states.save(symbol, cleared, expected_version=stored.version)
                finally:
                    report.published.append(cross)
                    self._count("AlertsPublished", 1)
                    self._log.info(
                        "alert published", extra={"alert_id": cross.alert_id, "publish_count": publish_count}
                    )
            stored = cleared
            report.watch = stored.watch
        return stored
