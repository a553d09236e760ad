"""Moving-average crosses and the alert texts they produce.

Pure: the analysis of one symbol is a fold over its prices in timestamp order. The fold's
state (last analysed timestamp, last non-zero sign, the prices the next averages still
need) is small enough to persist, so analysis resumes exactly where it stopped whatever
the batching of the input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from stock_pipeline.contract import (
    ALERT_ID_LINE_PREFIX,
    DEATH_CROSS,
    DEFAULT_LONG_WINDOW,
    DEFAULT_SHORT_WINDOW,
    GOLDEN_CROSS,
    AlertAttribute,
)
from stock_pipeline.contract import alert_id as _alert_id

# Validated prices lie between 1E-6 and 1E+9 with at most 17 significant digits, so every
# sum and product below needs far fewer digits than this: they are exact.
_PRECISION = 100
# The averages are given to four places, trailing zeros included ("31.6260").
SMA_QUANTUM = Decimal("0.0001")
_FOUR_PLACES = SMA_QUANTUM


@dataclass(frozen=True)
class TrendState:
    """Where the analysis of one symbol stopped."""

    last_timestamp: str | None = None
    # -1 or 1 once SMA-short and SMA-long have differed; 0 while unknown.
    last_sign: int = 0
    # The latest prices, oldest first, at most long_window - 1 of them: with the next
    # price they make the next long average.
    window: tuple[Decimal, ...] = ()


@dataclass(frozen=True)
class PricePoint:
    timestamp: str
    # None when the stored item has no numeric price: such a row is passed over, not fatal,
    # since an analysis that raised on it would retry the same row forever.
    price: Decimal | None


@dataclass(frozen=True)
class Cross:
    symbol: str
    signal: str
    timestamp: str
    price: Decimal
    sma_short: Decimal
    sma_long: Decimal
    short_window: int = DEFAULT_SHORT_WINDOW
    long_window: int = DEFAULT_LONG_WINDOW

    @property
    def alert_id(self) -> str:
        """Names the cross, and so its alert, the same on every run and every delivery."""
        return _alert_id(self.symbol, self.timestamp, self.signal)


@dataclass(frozen=True)
class Evaluation:
    """The averages at one analysed point (None during warm-up), for diagnostics."""

    timestamp: str
    price: Decimal
    sma_short: Decimal | None
    sma_long: Decimal | None
    sign: int | None


@dataclass(frozen=True)
class Skipped:
    timestamp: str
    reason: str


@dataclass(frozen=True)
class Advance:
    state: TrendState
    crosses: tuple[Cross, ...] = ()
    evaluations: tuple[Evaluation, ...] = ()
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class Alert:
    subject: str
    message: str
    attributes: dict[str, str]


def sma(prices: Sequence[Decimal], window: int) -> Decimal | None:
    """Mean of the last `window` prices, or None when there are fewer."""
    if window < 1:
        raise ValueError("window must be at least 1")
    if len(prices) < window:
        return None
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return sum(prices[-window:], Decimal(0)) / window


def advance(
    symbol: str,
    state: TrendState,
    points: Iterable[PricePoint],
    short_window: int = DEFAULT_SHORT_WINDOW,
    long_window: int = DEFAULT_LONG_WINDOW,
) -> Advance:
    """Analyse the points newer than `state` and return the crosses and the next state.

    Points are taken in timestamp order whatever order they come in. A point at or before
    the last analysed timestamp is skipped: it was analysed already (a redelivery), or it
    arrived after newer ticks were analysed and would rewrite history (a late arrival).
    A point without a price is passed over.
    """
    check_windows(short_window, long_window)
    window = list(state.window[-(long_window - 1) :])
    last_timestamp = state.last_timestamp
    last_sign = state.last_sign
    crosses: list[Cross] = []
    evaluations: list[Evaluation] = []
    skipped: list[Skipped] = []

    # One exact context for the whole fold, and the two window sums kept running: each new price
    # is added and the one leaving each window subtracted, exactly (no sum ever needs rounding).
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        short_sum = sum(window[-short_window:], Decimal(0))
        long_sum = sum(window, Decimal(0))
        for point in sorted(points, key=lambda p: p.timestamp):
            if last_timestamp is not None and point.timestamp <= last_timestamp:
                reason = "already analysed" if point.timestamp == last_timestamp else "older than the last analysed tick"
                skipped.append(Skipped(point.timestamp, f"{reason} ({last_timestamp})"))
                continue
            last_timestamp = point.timestamp
            if point.price is None:
                skipped.append(Skipped(point.timestamp, "no numeric price"))
                continue
            window.append(point.price)
            count = len(window)
            short_sum += point.price
            long_sum += point.price
            if count > short_window:
                short_sum -= window[count - 1 - short_window]
            if count > long_window:
                long_sum -= window[count - 1 - long_window]
            sma_short = sma_long = sign = None
            if count >= long_window:
                sma_short, sma_long, sign = _compare(short_sum, long_sum, short_window, long_window)
            if sign:
                if last_sign and sign != last_sign:
                    crosses.append(
                        Cross(
                            symbol=symbol,
                            signal=GOLDEN_CROSS if sign > 0 else DEATH_CROSS,
                            timestamp=point.timestamp,
                            price=point.price,
                            sma_short=sma_short,
                            sma_long=sma_long,
                            short_window=short_window,
                            long_window=long_window,
                        )
                    )
                last_sign = sign
            evaluations.append(Evaluation(point.timestamp, point.price, sma_short, sma_long, sign))
    del window[: max(0, len(window) - (long_window - 1))]

    return Advance(
        state=TrendState(last_timestamp=last_timestamp, last_sign=last_sign, window=tuple(window)),
        crosses=tuple(crosses),
        evaluations=tuple(evaluations),
        skipped=tuple(skipped),
    )


def check_windows(short_window: int, long_window: int) -> None:
    if not 1 <= short_window < long_window:
        raise ValueError(f"need 1 <= short window < long window, got {short_window} and {long_window}")


def build_alert(cross: Cross) -> Alert:
    if cross.signal == GOLDEN_CROSS:
        subject = f"{cross.symbol} Golden Cross: uptrend"
        headline = f"{cross.symbol} is in an Uptrend. Consider a buy opportunity."
    elif cross.signal == DEATH_CROSS:
        subject = f"{cross.symbol} Death Cross: downtrend"
        headline = f"{cross.symbol} is in a Downtrend. Consider selling."
    else:
        raise ValueError(f"unknown signal {cross.signal!r}")
    detail = (
        f"Price {cross.price}, SMA-{cross.short_window} {cross.sma_short}, "
        f"SMA-{cross.long_window} {cross.sma_long} at {cross.timestamp}."
    )
    attributes = {
        AlertAttribute.ALERT_ID: cross.alert_id,
        AlertAttribute.SYMBOL: cross.symbol,
        AlertAttribute.SIGNAL: cross.signal,
        AlertAttribute.PRICE: str(cross.price),
        AlertAttribute.TIMESTAMP: cross.timestamp,
        AlertAttribute.SMA_SHORT: str(cross.sma_short),
        AlertAttribute.SMA_LONG: str(cross.sma_long),
        AlertAttribute.SHORT_WINDOW: str(cross.short_window),
        AlertAttribute.LONG_WINDOW: str(cross.long_window),
    }
    message = "\n".join((headline, detail, f"{ALERT_ID_LINE_PREFIX}{cross.alert_id}"))
    return Alert(subject=subject, message=message, attributes=attributes)


def _compare(short_sum: Decimal, long_sum: Decimal, short_window: int, long_window: int) -> tuple[Decimal, Decimal, int]:
    """SMA-short and SMA-long to 4 places and the exact sign of their difference, from the window sums.

    short_sum/short - long_sum/long has the sign of short_sum*long - long_sum*short, which needs
    no division and so no rounding. Called inside advance's exact context.
    """
    scaled = short_sum * long_window - long_sum * short_window
    sma_short = (short_sum / short_window).quantize(_FOUR_PLACES, rounding=ROUND_HALF_EVEN)
    sma_long = (long_sum / long_window).quantize(_FOUR_PLACES, rounding=ROUND_HALF_EVEN)
    return sma_short, sma_long, (scaled > 0) - (scaled < 0)
