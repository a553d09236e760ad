"""Bars by event time: pushed quotes become one tick per symbol per N seconds.

Pure: no clock and no I/O (only log lines). Bars are cut by each quote's own ``time``, never by when
it arrived, so a slow or reconnecting connection changes no bar. The caller says what time it is
(``flush_due(now)``) for the one decision that needs a clock: closing a bar nothing followed.

A closed bar is one tick in the recorded format::

    open           first price of the bar (by event time)
    lastPrice      last price of the bar (by event time)
    dayHigh, dayLow, previousClose, lastVolume
                   from the latest push of the bar (by event time)
    timestamp      the bar's end, UTC "%Y-%m-%dT%H:%M:%SZ" (bar start + N s)

A field the latest push lacks (proto3 leaves zeros out) falls back to what the bar knows: dayHigh and
dayLow to the bar's own highest and lowest price, lastVolume to 0; previousClose has nothing to fall
back to and stays None, so the pipeline quarantines that tick with a reason rather than getting an
invented number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

from producer.quotes import Quote

log = logging.getLogger(__name__)

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DEFAULT_GRACE_SECONDS = 2.0


@dataclass
class BarCounts:
    """What happened to the pushes handed to a BarAggregator."""

    pushes: int = 0           # pushes for subscribed symbols, duplicates and late ones included
    bars: int = 0             # ticks emitted
    duplicates: int = 0       # same symbol, time and price as a push already in the bar: ignored
    late: int = 0             # for a bar already closed: dropped, never reopens it
    unknown_symbols: int = 0  # for a symbol nobody subscribed to: dropped


@dataclass
class _OpenBar:
    start_ms: int
    end_ms: int
    # (time_ms, arrival) orders pushes by event time; arrival breaks ties so that of two pushes with
    # the same time the one received later counts as later, as the exchange sent them.
    first: tuple[int, int, Quote]
    last: tuple[int, int, Quote]
    high: float
    low: float
    seen: set[tuple[int, float]] = field(default_factory=set)

    def take(self, quote: Quote, arrival: int) -> None:
        key = (quote.time_ms, arrival, quote)
        if key[:2] < self.first[:2]:
            self.first = key
        if key[:2] >= self.last[:2]:
            self.last = key
        self.high = max(self.high, quote.price)
        self.low = min(self.low, quote.price)
        self.seen.add((quote.time_ms, quote.price))


def utc_timestamp(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms // 1000, timezone.utc).strftime(TIMESTAMP_FORMAT)


def _tick(bar: _OpenBar, timestamp_ms: int) -> dict:
    latest = bar.last[2]
    return {
        "symbol": latest.symbol,
        "timestamp": utc_timestamp(timestamp_ms),
        "open": bar.first[2].price,
        "dayHigh": latest.day_high if latest.day_high is not None else bar.high,
        "dayLow": latest.day_low if latest.day_low is not None else bar.low,
        "lastPrice": latest.price,
        "previousClose": latest.previous_close,
        "lastVolume": latest.day_volume,
    }


class BarAggregator:
    """Cuts pushes for ``symbols`` into bars of ``bar_seconds`` by event time.

    ``bar_seconds == 0`` makes every push its own tick, stamped with the push's second.
    ``add`` and ``flush_due`` return the ticks that closed, oldest bar first; hand them on in that
    order. One bar is open per symbol: a push for a later bar closes it, and so does
    ``flush_due(now)`` once ``now`` (epoch seconds) is ``grace`` seconds past the bar's end with no
    later push.

    Pass ``received_at`` (epoch seconds, the same clock as ``now``) to ``add`` when pushes may come
    late on the wall clock: each symbol's bars are then judged on that symbol's own feed clock, ``now``
    minus how far behind its freshest push arrived. A feed delayed 15 minutes (as Yahoo delays some
    exchanges) then still gets whole bars, where the wall clock would close each bar at its first push.
    """

    def __init__(self, symbols: Iterable[str], bar_seconds: int, grace: float = DEFAULT_GRACE_SECONDS) -> None:
        if bar_seconds < 0 or int(bar_seconds) != bar_seconds:
            raise ValueError(f"bar_seconds must be a whole number of seconds >= 0, got {bar_seconds!r}")
        if grace < 0:
            raise ValueError(f"grace must be >= 0 seconds, got {grace!r}")
        self.symbols = frozenset(s.strip().upper() for s in symbols)
        self.bar_ms = int(bar_seconds) * 1000
        self.grace = grace
        self.counts = BarCounts()
        self._open: dict[str, _OpenBar] = {}
        # Start of the latest bar closed per symbol (for N=0: the latest push emitted), so that a
        # late push is recognised even once no bar of that symbol is open.
        self._closed_through: dict[str, int] = {}
        self._last_emitted: dict[str, Quote] = {}
        self._freshest_ms: dict[str, int] = {}
        self._lag: dict[str, float] = {}
        self._unknown_seen: set[str] = set()
        self._arrivals = 0

    @property
    def open_bars(self) -> int:
        return len(self._open)

    def add(self, quote: Quote, received_at: float | None = None) -> list[dict]:
        """Take one push; return the ticks it closed (a later bar's push closes the open one)."""
        if quote.symbol not in self.symbols:
            self.counts.unknown_symbols += 1
            if quote.symbol not in self._unknown_seen:
                # Once per symbol: a server pushing an unwanted symbol all day would flood the log.
                self._unknown_seen.add(quote.symbol)
                log.warning("push for %s, which is not subscribed (%s): ignored", quote.symbol,
                            ", ".join(sorted(self.symbols)))
            return []
        self.counts.pushes += 1
        self._arrivals += 1
        if received_at is not None and quote.time_ms >= self._freshest_ms.get(quote.symbol, quote.time_ms):
            # Only the freshest push sets the lag: a stray old one must not hold every bar open.
            self._freshest_ms[quote.symbol] = quote.time_ms
            self._lag[quote.symbol] = received_at - quote.time_ms / 1000
        if self.bar_ms == 0:
            return self._add_unbarred(quote)
        return self._add_to_bar(quote)

    def flush_due(self, now: float) -> list[dict]:
        """Close every bar whose end is ``grace`` seconds before ``now`` (epoch seconds) or more, on its
        symbol's feed clock (see the class docstring)."""
        due = [bar for symbol, bar in self._open.items()
               if bar.end_ms <= (now - self._lag.get(symbol, 0.0) - self.grace) * 1000]
        return self._close(due)

    def flush_all(self) -> list[dict]:
        """Close every open bar now, e.g. when the producer stops: a partial bar is still real prices."""
        return self._close(list(self._open.values()))

    def _add_unbarred(self, quote: Quote) -> list[dict]:
        previous = self._last_emitted.get(quote.symbol)
        if previous is not None:
            if (quote.time_ms, quote.price) == (previous.time_ms, previous.price):
                self.counts.duplicates += 1
                return []
            if quote.time_ms < previous.time_ms:
                self._drop_late(quote, previous.time_ms)
                return []
        self._last_emitted[quote.symbol] = quote
        bar = _OpenBar(quote.time_ms, quote.time_ms, (quote.time_ms, 0, quote), (quote.time_ms, 0, quote),
                       quote.price, quote.price)
        self.counts.bars += 1
        return [_tick(bar, quote.time_ms)]

    def _add_to_bar(self, quote: Quote) -> list[dict]:
        start = quote.time_ms - quote.time_ms % self.bar_ms
        closed_through = self._closed_through.get(quote.symbol)
        if closed_through is not None and start <= closed_through:
            self._drop_late(quote, closed_through)
            return []
        bar = self._open.get(quote.symbol)
        if bar is not None and start < bar.start_ms:
            # Older than the open bar: its own bar either closed already or never opened, and opening
            # it now would put a tick behind a later one.
            self._drop_late(quote, bar.start_ms)
            return []
        closed: list[dict] = []
        if bar is not None and start > bar.start_ms:
            closed = self._close([bar])
            bar = None
        if bar is None:
            entry = (quote.time_ms, self._arrivals, quote)
            bar = _OpenBar(start, start + self.bar_ms, entry, entry, quote.price, quote.price)
            bar.seen.add((quote.time_ms, quote.price))
            self._open[quote.symbol] = bar
        elif (quote.time_ms, quote.price) in bar.seen:
            self.counts.duplicates += 1
        else:
            bar.take(quote, self._arrivals)
        return closed

    def _close(self, bars: list[_OpenBar]) -> list[dict]:
        ticks = []
        for bar in sorted(bars, key=lambda b: (b.end_ms, b.last[2].symbol)):
            symbol = bar.last[2].symbol
            del self._open[symbol]
            self._closed_through[symbol] = bar.start_ms
            self.counts.bars += 1
            ticks.append(_tick(bar, bar.end_ms))
        return ticks

    def _drop_late(self, quote: Quote, closed_through_ms: int) -> None:
        self.counts.late += 1
        log.warning("late push for %s at %s (price %s): bars up to the one from %s are already cut; dropped",
                    quote.symbol, utc_timestamp(quote.time_ms), quote.price, utc_timestamp(closed_through_ms))
