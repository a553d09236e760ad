"""Live ticks from Yahoo Finance through yfinance's ``fast_info``."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone
from typing import Callable

FAST_INFO_FIELDS = ("open", "dayHigh", "dayLow", "lastPrice", "previousClose", "lastVolume")


class LiveDataUnavailable(RuntimeError):
    """Yahoo Finance could not be reached or returned no usable quote."""


def _default_ticker(symbol: str):
    import yfinance

    # yfinance logs each failed request itself; the caller reports a failure once, in one line.
    logging.getLogger("yfinance").setLevel(logging.CRITICAL)
    return yfinance.Ticker(symbol)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def fetch_tick(
    symbol: str,
    ticker_factory: Callable[[str], object] = _default_ticker,
    now: Callable[[], datetime] = utc_now,
) -> dict:
    """One tick for ``symbol`` in the recorded format, stamped with the time it was read."""
    try:
        info = ticker_factory(symbol).fast_info
        values = {name: info[name] for name in FAST_INFO_FIELDS}
    # yfinance reports a missing network as a KeyError from fast_info or as an OSError from curl.
    except (KeyError, OSError, ValueError, TypeError, AttributeError) as exc:
        raise LiveDataUnavailable(
            f"no live quote for {symbol} from Yahoo Finance ({type(exc).__name__}: {exc}); "
            "is the network reachable? Offline, replay a recording instead: tickstack replay FILE"
        ) from exc
    for name, value in values.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise LiveDataUnavailable(f"Yahoo Finance returned no {name} for {symbol}; is the symbol right?")
    return {
        "symbol": symbol.upper(),
        "timestamp": now().astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "open": float(values["open"]),
        "dayHigh": float(values["dayHigh"]),
        "dayLow": float(values["dayLow"]),
        "lastPrice": float(values["lastPrice"]),
        "previousClose": float(values["previousClose"]),
        "lastVolume": int(values["lastVolume"]),
    }
