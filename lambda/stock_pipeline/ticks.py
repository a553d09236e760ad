"""Tick validation and enrichment.

Pure: no AWS imports, no clock, no I/O, so every rule here is tested without fakes and
the ingest handler only moves bytes in and items out.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any, Mapping

from stock_pipeline.contract import ANOMALY_NO, ANOMALY_YES, TIMESTAMP_FORMAT, TickItem

# Derived values are stored with four decimals; banker's rounding so that a long series
# of rounded changes does not drift in one direction.
FOUR_PLACES = Decimal("0.0001")
ANOMALY_PERCENT = Decimal(5)

# Bounds keep every number inside what DynamoDB can store (38 significant digits,
# magnitude 1E-130..1E+126) and what 4-decimal quantisation can represent, so that bad
# data is rejected here instead of failing the write and blocking the shard.
MIN_PRICE = Decimal("0.000001")
MAX_PRICE = Decimal("1000000000")
MAX_VOLUME = 10**15

SYMBOL_MAX_LENGTH = 16
_SYMBOL_CHARS = re.compile(r"[A-Z0-9.\-^=]+")

PRICE_FIELDS = ("open", "dayHigh", "dayLow", "lastPrice", "previousClose")
REQUIRED_FIELDS = ("symbol", "timestamp", *PRICE_FIELDS, "lastVolume")


class InvalidTick(ValueError):
    """A payload that can never become a tick; `reason` says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Tick:
    symbol: str
    timestamp: str
    open: Decimal
    high: Decimal
    low: Decimal
    price: Decimal
    previous_close: Decimal
    volume: int


def parse_tick(payload: bytes | str) -> Tick:
    """Decode one record's payload (UTF-8 JSON object) and validate it."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidTick(f"payload is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        raw = json.loads(payload)
    except RecursionError:
        raise InvalidTick("payload is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        # JSONDecodeError and the interpreter's limit on integer digits both land here.
        raise InvalidTick(f"payload is not valid JSON: {exc}") from None
    return validate_tick(raw)


def validate_tick(raw: Any) -> Tick:
    """Check one decoded tick against the producer contract and normalise it."""
    if not isinstance(raw, dict):
        raise InvalidTick(f"payload must be a JSON object, got {_json_type(raw)}")
    missing = [name for name in REQUIRED_FIELDS if name not in raw or raw[name] is None]
    if missing:
        raise InvalidTick("missing or null field(s): " + ", ".join(missing))

    symbol = _symbol(raw["symbol"])
    timestamp = _timestamp(raw["timestamp"])
    prices = {name: _price(name, raw[name]) for name in PRICE_FIELDS}
    if prices["dayHigh"] < prices["dayLow"]:
        raise InvalidTick(f"dayHigh {prices['dayHigh']} is below dayLow {prices['dayLow']}")
    return Tick(
        symbol=symbol,
        timestamp=timestamp,
        open=prices["open"],
        high=prices["dayHigh"],
        low=prices["dayLow"],
        price=prices["lastPrice"],
        previous_close=prices["previousClose"],
        volume=_volume(raw["lastVolume"]),
    )


def enrich(tick: Tick) -> dict[str, Any]:
    """The ticks-table item: the tick's values plus change, change %, mean and anomaly flag."""
    # Exact arithmetic regardless of the caller's decimal context; only the final
    # quantisation rounds.
    with localcontext() as ctx:
        ctx.prec = 60
        change = tick.price - tick.previous_close
        change_percent = _round4(change / tick.previous_close * 100)
        moving_average = _round4((tick.open + tick.high + tick.low + tick.price) / 4)
        change = _round4(change)
    return {
        TickItem.SYMBOL: tick.symbol,
        TickItem.TIMESTAMP: tick.timestamp,
        TickItem.OPEN: tick.open,
        TickItem.HIGH: tick.high,
        TickItem.LOW: tick.low,
        TickItem.PRICE: tick.price,
        TickItem.PREVIOUS_CLOSE: tick.previous_close,
        TickItem.CHANGE: change,
        TickItem.CHANGE_PERCENT: change_percent,
        TickItem.VOLUME: Decimal(tick.volume),
        TickItem.MOVING_AVERAGE: moving_average,
        # Judged on the stored, rounded value so the flag always agrees with change_percent.
        TickItem.ANOMALY: ANOMALY_YES if abs(change_percent) > ANOMALY_PERCENT else ANOMALY_NO,
    }


def to_archive_json(item: Mapping[str, Any]) -> str:
    """The item as one JSON object with sorted keys; Decimals become JSON numbers."""
    return json.dumps(item, default=_json_number, sort_keys=True, separators=(",", ":"))


def _symbol(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidTick(f"symbol must be a string, got {_json_type(value)}")
    symbol = value.strip().upper()
    if not symbol:
        raise InvalidTick("symbol is empty")
    if len(symbol) > SYMBOL_MAX_LENGTH:
        raise InvalidTick(f"symbol {symbol[:32]!r} is longer than {SYMBOL_MAX_LENGTH} characters")
    if not _SYMBOL_CHARS.fullmatch(symbol) or not any(c.isalnum() for c in symbol):
        raise InvalidTick(f"symbol {symbol!r} is not a ticker (letters, digits and . - ^ = only)")
    return symbol


def _timestamp(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidTick(f"timestamp must be a string, got {_json_type(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidTick(f"timestamp {value[:64]!r} is not ISO 8601") from None
    if parsed.utcoffset() is None:
        raise InvalidTick(f"timestamp {value!r} has no UTC offset; a local time is ambiguous")
    try:
        utc = parsed.astimezone(timezone.utc)
    except OverflowError:
        raise InvalidTick(f"timestamp {value!r} is out of range in UTC") from None
    # Sub-second precision is dropped: the sort key has whole seconds.
    return utc.strftime(TIMESTAMP_FORMAT)


def _price(name: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTick(f"{name} must be a number, got {_json_type(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidTick(f"{name} must be finite, got {value}")
    # str() first: Decimal(589.53) would carry the binary float's 40-odd digits.
    price = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if price <= 0:
        raise InvalidTick(f"{name} must be greater than 0, got {value}")
    if not MIN_PRICE <= price <= MAX_PRICE:
        raise InvalidTick(f"{name} {value} is outside the accepted range {MIN_PRICE}..{MAX_PRICE}")
    return price


def _volume(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTick(f"lastVolume must be a non-negative integer, got {_json_type(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidTick(f"lastVolume must be a non-negative integer, got {value}")
        value = int(value)
    if value < 0:
        raise InvalidTick(f"lastVolume must be a non-negative integer, got {value}")
    if value > MAX_VOLUME:
        raise InvalidTick(f"lastVolume {value} is larger than {MAX_VOLUME}")
    return value


def _round4(value: Decimal) -> Decimal:
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN)


def _json_number(value: Any) -> int | float:
    if isinstance(value, Decimal):
        if value.as_tuple().exponent >= 0:
            return int(value)
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    if value is None:
        return "null"
    return names.get(type(value), type(value).__name__)
