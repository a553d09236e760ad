"""The alerts a recording would produce, computed in-process by the functions' own pure code.

No stack, no emulator: each recorded line goes through what the deployed functions run on it.

1. ProcessStockData: `parse_tick` (a line it rejects is quarantined by the pipeline; here it is
   counted with its reason), then `enrich`, whose item is written to the ticks table.
2. The table: one item per (symbol, timestamp); a later line with the same key overwrites the
   earlier one, as a DynamoDB put does. Numbers are held as DynamoDB holds them (see
   `stored_number`).
3. StockTrendAnalysis: per symbol, the `advance` fold over the stored prices in timestamp order,
   as the deployed catch-up reads them, then `build_alert` for each cross.

The result is what the pipeline computes once every line of the recording is stored. The live
pipeline can differ only where the recording itself is out of order in time: a tick that
arrives after a newer one of its symbol was analysed is skipped there (the fold never rewrites
history), and a duplicate that arrives after its timestamp was analysed changes the table but
not the alerts. A recording in timestamp order per symbol, as the producer writes it, behaves
the same in both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from os import PathLike
from pathlib import Path

from stock_pipeline.contract import DEFAULT_LONG_WINDOW, DEFAULT_SHORT_WINDOW, TickItem
from stock_pipeline.ticks import InvalidTick, enrich, parse_tick
from stock_pipeline.trend import PricePoint, TrendState, advance, build_alert
from tickstack.ops.alerts import alert_record

__all__ = [
    "BacktestResult",
    "RecordingTable",
    "RejectedLine",
    "alert_record",
    "analyse",
    "backtest",
    "load_recording",
    "recorded_price",
    "stored_number",
]

_ONE = Decimal(1)


@dataclass(frozen=True)
class RejectedLine:
    """A recorded line the ingest function would quarantine."""

    source: str
    line_number: int
    reason: str


@dataclass
class RecordingTable:
    """A recording as the ticks table would hold it once every line is ingested."""

    # symbol -> timestamp -> stored price
    prices: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    # Non-blank lines read; blank lines are not sent by `tickstack replay` either.
    lines: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)
    # Valid lines whose (symbol, timestamp) an earlier line already had: they overwrote it.
    overwritten: int = 0

    @property
    def stored(self) -> int:
        """Items in the table."""
        return sum(len(points) for points in self.prices.values())

    def put(self, symbol: str, timestamp: str, price: Decimal) -> None:
        """Store one tick's price as its item would be: a later line of the same key overwrites it."""
        points = self.prices.get(symbol)
        if points is None:
            points = self.prices[symbol] = {}
        if timestamp in points:
            self.overwritten += 1
        points[timestamp] = price


def recorded_price(data: bytes) -> tuple[str, str, Decimal]:
    """A stripped recorded line's (symbol, timestamp, stored price), as ProcessStockData stores it.

    Raises InvalidTick for a line it would quarantine.
    """
    item = enrich(parse_tick(data))
    return item[TickItem.SYMBOL], item[TickItem.TIMESTAMP], stored_number(item[TickItem.PRICE])


@dataclass
class BacktestResult:
    # Each as `tickstack alerts --json` prints it, ordered by (timestamp, symbol, signal).
    alerts: list[dict]
    short_window: int
    long_window: int
    lines: int
    stored: int
    overwritten: int
    rejected: list[RejectedLine]
    # symbol -> number of stored ticks analysed
    symbols: dict[str, int]

    @property
    def rejected_reasons(self) -> Counter[str]:
        """How many lines were rejected for each reason."""
        return Counter(line.reason for line in self.rejected)


def stored_number(value: Decimal) -> Decimal:
    """`value` as DynamoDB stores and returns it: leading and trailing zeros trimmed.

    A recorded 100.0 is sent as N "100.0" and read back as "100", so the alert the trend function
    builds from the stored price says 100. MiniStack canonicalises the same way.
    """
    _, digits, exponent = value.as_tuple()
    if exponent < 0 and digits[-1] != 0:
        return value  # already canonical: the common case, kept cheap
    normal = value.normalize()
    return normal.quantize(_ONE) if normal.as_tuple().exponent > 0 else normal


def load_recording(paths: Iterable[str | PathLike[str]], table: RecordingTable | None = None) -> RecordingTable:
    """Ingest recorded lines as ProcessStockData would, into `table` (a new one by default)."""
    table = table or RecordingTable()
    for path in paths:
        source = str(path)
        with open(path, "rb") as fh:
            for line_number, raw in enumerate(fh, start=1):
                # As producer.recording.read_lines sends it: stripped, blank lines skipped.
                data = raw.strip()
                if not data:
                    continue
                table.lines += 1
                try:
                    table.put(*recorded_price(data))
                except InvalidTick as exc:
                    table.rejected.append(RejectedLine(source, line_number, exc.reason))
    return table


def analyse(
    table: RecordingTable, short_window: int = DEFAULT_SHORT_WINDOW, long_window: int = DEFAULT_LONG_WINDOW
) -> BacktestResult:
    """Run the trend analysis over a loaded table: a window sweep loads the recording once."""
    # advance checks the windows; calling it with no points makes a bad pair fail even on an empty table.
    advance("", TrendState(), (), short_window, long_window)
    alerts = []
    for symbol, points in table.prices.items():
        # The whole symbol at once: the fold gives the same crosses whatever the batching
        # (the deployed catch-up reads 500 at a time), and advance orders them by timestamp.
        result = advance(
            symbol,
            TrendState(),
            [PricePoint(timestamp, price) for timestamp, price in points.items()],
            short_window,
            long_window,
        )
        for cross in result.crosses:
            alert = build_alert(cross)
            alerts.append(alert_record(alert.subject, alert.message, alert.attributes, sent_at=None, deliveries=1))
    alerts.sort(key=lambda a: (a["timestamp"], a["symbol"], a["signal"]))
    return BacktestResult(
        alerts=alerts,
        short_window=short_window,
        long_window=long_window,
        lines=table.lines,
        stored=table.stored,
        overwritten=table.overwritten,
        rejected=list(table.rejected),
        symbols={symbol: len(points) for symbol, points in sorted(table.prices.items())},
    )


def backtest(
    paths: Iterable[str | PathLike[str]] | str | PathLike[str],
    short_window: int = DEFAULT_SHORT_WINDOW,
    long_window: int = DEFAULT_LONG_WINDOW,
) -> BacktestResult:
    """The alerts the pipeline would send for the recordings at `paths` (one path or several)."""
    if isinstance(paths, (str, PathLike)):
        paths = [Path(paths)]
    # Fail on bad windows before reading anything.
    advance("", TrendState(), (), short_window, long_window)
    return analyse(load_recording(paths), short_window, long_window)
