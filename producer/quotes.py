"""One quote pushed by Yahoo Finance's stream, parsed from yfinance's decoded message.

Pure: no clock, no I/O, standard library only, so every rule is tested without a server.

yfinance decodes each frame's ``PricingData`` protobuf with ``MessageToDict(...,
preserving_proto_field_name=True)``: field names stay snake_case, int64 fields (``time``,
``day_volume``, ``price_hint``) arrive as strings, and proto3 leaves out every field whose value is
zero, so an absent ``day_volume`` means 0 and an absent ``day_high`` means Yahoo sent none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

# Yahoo's own precision for a quote; when it sends none, four decimals keep cents and sub-cents.
DEFAULT_PRICE_DECIMALS = 4


class BadPush(ValueError):
    """A decoded message that cannot be a quote (no symbol, no time, no positive price)."""


@dataclass(frozen=True)
class Quote:
    """A push, with prices already rounded to the quote's precision."""

    symbol: str
    time_ms: int
    price: float
    day_high: float | None
    day_low: float | None
    previous_close: float | None
    day_volume: int


def round_price(value: Any, decimals: int) -> float | None:
    """A float32 price as the exchange printed it: float32 589.53 is 589.530029..., rounded back to 589.53."""
    if value is None:
        return None
    number = round(float(value), decimals)
    # Zero is proto3's "not sent"; a non-finite price is never a real quote.
    if not math.isfinite(number) or number <= 0:
        return None
    return number


def parse_push(message: Mapping[str, Any]) -> Quote:
    """The quote in one decoded push; raises BadPush when it cannot be one."""
    symbol = str(message.get("id") or "").strip().upper()
    if not symbol:
        raise BadPush(f"push without a symbol: {dict(message)!r:.200}")
    try:
        time_ms = int(message["time"])
        decimals = int(message.get("price_hint", DEFAULT_PRICE_DECIMALS))
        day_volume = int(message.get("day_volume", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadPush(f"push for {symbol} without a usable time, volume or price hint ({exc!r})") from None
    if not 0 <= decimals <= 8:
        decimals = DEFAULT_PRICE_DECIMALS
    try:
        price = round_price(message.get("price"), decimals)
        day_high = round_price(message.get("day_high"), decimals)
        day_low = round_price(message.get("day_low"), decimals)
        previous_close = round_price(message.get("previous_close"), decimals)
    except (TypeError, ValueError) as exc:
        raise BadPush(f"push for {symbol} with a price that is not a number ({exc})") from None
    if price is None:
        raise BadPush(f"push for {symbol} at {time_ms} without a price")
    return Quote(symbol, time_ms, price, day_high, day_low, previous_close, max(day_volume, 0))
