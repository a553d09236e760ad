"""Bring one symbol's trend analysis up to date with the ticks table, alerting each cross once.

A stream record only says "this symbol changed". The analysis itself reads the table from
the last analysed tick on, so redelivered, reordered, lost or expired stream records
change nothing: whatever wakes it, the same ticks are analysed once, in timestamp order.

Alerts go through an outbox kept in the state item:

1. the new analysis position is saved together with the crosses it found, as `pending`,
   in one write conditional on the version read;
2. each pending alert is published, then removed from `pending` by another conditional
   write, one alert at a time;
3. pending alerts found on reading the state (an earlier run stopped between 1 and 2)
   are published before anything else.

A cross is therefore committed exactly once (step 1 wins or loses as a whole) and published
until its removal is recorded. The one gap left is a crash between SNS accepting an alert
and the write that clears it: that alert goes out again on the next run. A conditional
write that loses means another invocation moved the state: re-read and start over, a
bounded number of times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from stock_pipeline.ports import AlertPublisher, StaleState, StoredTrendState, TickStore, TrendStateStore
from stock_pipeline.trend import Cross, advance, build_alert, check_windows

MAX_ATTEMPTS = 5
# Prices read and analysed per state write: bounds memory, and a run cut short by the
# function timeout keeps the progress of every finished chunk.
CHUNK_SIZE = 500

MetricCounter = Callable[[str, int], None]


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


class TrendCatchUp:
    def __init__(
        self,
        ticks: TickStore,
        states: TrendStateStore,
        publisher: AlertPublisher,
        short_window: int,
        long_window: int,
        logger: Any,  # a logging.Logger or a Powertools Logger: both take extra=
        count: MetricCounter = lambda name, value: None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        check_windows(short_window, long_window)
        self._ticks = ticks
        self._states = states
        self._publisher = publisher
        self._short = short_window
        self._long = long_window
        self._log = logger
        self._count = count
        self._chunk_size = chunk_size

    def run(self, symbol: str) -> CatchUpReport:
        report = CatchUpReport(symbol)
        # Alerts this run has published: after a lost race the re-read state may still
        # list one as pending, and it must not go out twice.
        published: set[str] = set()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                self._attempt(symbol, report, published, first=attempt == 1)
                return report
            except StaleState as exc:
                report.lost_races += 1
                self._log.warning(
                    "trend state changed under us; re-reading",
                    extra={"symbol": symbol, "attempt": attempt, "error": str(exc)},
                )
        raise StaleState(f"gave up on {symbol} after {MAX_ATTEMPTS} lost conditional writes")

    def _attempt(self, symbol: str, report: CatchUpReport, published: set[str], first: bool) -> None:
        stored = self._states.get(symbol) or StoredTrendState()
        if first:
            report.started_after = stored.trend.last_timestamp
        report.last_timestamp = stored.trend.last_timestamp
        if stored.pending:
            self._log.info(
                "publishing alerts left pending by an earlier run",
                extra={"symbol": symbol, "pending": [cross.alert_id for cross in stored.pending]},
            )
        stored = self._flush(symbol, stored, report, published)

        while True:
            points = self._ticks.prices_after(symbol, stored.trend.last_timestamp, self._chunk_size)
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
                trend=result.state, pending=stored.pending + result.crosses, version=stored.version + 1
            )
            self._states.save(symbol, committed, expected_version=stored.version)
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

    def _flush(
        self, symbol: str, stored: StoredTrendState, report: CatchUpReport, published: set[str]
    ) -> StoredTrendState:
        while stored.pending:
            cross = stored.pending[0]
            if cross.alert_id in published:
                self._log.info("alert already published by this run; clearing it", extra={"alert_id": cross.alert_id})
            else:
                self._publisher.publish(build_alert(cross))
                published.add(cross.alert_id)
                report.published.append(cross)
                self._count("AlertsPublished", 1)
                self._log.info("alert published", extra={"alert_id": cross.alert_id})
            cleared = replace(stored, pending=stored.pending[1:], version=stored.version + 1)
            self._states.save(symbol, cleared, expected_version=stored.version)
            stored = cleared
        return stored
