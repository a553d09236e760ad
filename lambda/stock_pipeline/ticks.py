"""Tick validation and enrichment.

Pure: no AWS imports, no clock, no I/O, so every rule here is tested without fakes and
the ingest handler only moves bytes in and items out.

Speed: the ingest function and `tickstack backtest` run this once per tick, so the common
case takes a short path. Each field is first tried against what an ordinary tick holds (a
ticker string seen before, a timestamp already in the stored format, a float price inside
the range, an int volume) and, failing that, goes through the full check below, which alone
words the rejections. A short path only ever returns what the full check would: it accepts
a subset of what the full check accepts, with the same result.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any, Mapping

from stock_pipeline.contract import ANOMALY_NO, ANOMALY_YES, MAX_TICK_BYTES, TIMESTAMP_FORMAT, TickItem

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

# enrich's arithmetic: 60 digits make every sum, difference and product of validated prices
# exact, whatever the caller's decimal context; only the final quantisation rounds. One
# context object, passed to each operation, rather than a new local context per call.
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
_HUNDRED = Decimal(100)
_FOUR = Decimal(4)

# The short paths' memory of values already checked (see the module docstring). Bounded:
# emptied when full, so a long-lived function holds at most this many of each.
_MEMO_LIMIT = 8192
_symbols: dict[str, str] = {}
_timestamps: dict[str, str] = {}
_float_prices: dict[float, Decimal] = {}
# A timestamp already in TIMESTAMP_FORMAT (a year from 1000, as %Y writes four digits only
# from there): if datetime accepts it, its UTC form is itself.
_STORED_TIMESTAMP = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
# The accepted price range as floats: a float is inside it exactly when Decimal(str(float))
# is inside MIN_PRICE..MAX_PRICE, since both bounds are floats whose shortest repr is the
# bound itself and str() keeps the order of floats.
_MIN_FLOAT_PRICE = float(MIN_PRICE)
_MAX_FLOAT_PRICE = float(MAX_PRICE)
_MIN_INT_PRICE, _MAX_INT_PRICE = 1, int(MAX_PRICE)
# What json.loads runs, without its wrapping (it returns the value and where it ended).
_scan_json = json.decoder.JSONDecoder().scan_once
_object_new = object.__new__


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
    """Decode one record's payload (UTF-8 JSON object of at most MAX_TICK_BYTES) and validate it."""
    # A str is measured in bytes only when it could be too long: a tick is ASCII, 200-odd characters.
    if len(payload) > MAX_TICK_BYTES // 4 and (
        size := len(payload) if isinstance(payload, bytes) else len(payload.encode("utf-8", "surrogatepass"))
    ) > MAX_TICK_BYTES:
        raise InvalidTick(f"payload is {size} bytes, more than the {MAX_TICK_BYTES} a tick may take")
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidTick(f"payload is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        # One JSON value and nothing around it, the producer's form: the scanner json.loads
        # itself uses, without its wrapping. Anything else goes through json.loads, which words the error.
        raw, end = _scan_json(payload, 0)
    except (StopIteration, ValueError, RecursionError):
        end = -1
    if end != len(payload):
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
    # Exactly as many keys as fields, all required ones present: no unexpected field either.
    if type(raw) is dict and len(raw) == len(REQUIRED_FIELDS):
        tick = _ordinary_tick(raw)
        if tick is not None:
            return tick
    return _checked_tick(raw)


def _ordinary_tick(raw: dict) -> Tick | None:
    """The tick, when every field is of the ordinary kind; None sends `raw` to the full check."""
    get = raw.get
    value = get("symbol")
    symbol = _symbols.get(value) if type(value) is str else None
    if symbol is None and (symbol := _remember(_symbols, value, _symbol)) is None:
        return None
    value = get("timestamp")
    timestamp = _timestamps.get(value) if type(value) is str else None
    if timestamp is None and (timestamp := _remember(_timestamps, value, _stored_timestamp)) is None:
        return None
    open_ = _ordinary_price(get("open"))
    high = _ordinary_price(get("dayHigh"))
    low = _ordinary_price(get("dayLow"))
    price = _ordinary_price(get("lastPrice"))
    previous_close = _ordinary_price(get("previousClose"))
    volume = get("lastVolume")
    if (open_ is None or high is None or low is None or price is None or previous_close is None
            or type(volume) is not int or not 0 <= volume <= MAX_VOLUME or high < low):
        return None
    tick = _object_new(Tick)
    # Tick(...) without the frozen dataclass's setattr per field: the same object, in half the time.
    tick.__dict__.update(symbol=symbol, timestamp=timestamp, open=open_, high=high, low=low, price=price,
                         previous_close=previous_close, volume=volume)
    return tick


def _remember(memo: dict, value: Any, check) -> Any:
    """`check(value)` remembered in `memo`; None (remembering nothing) when it raises InvalidTick."""
    if type(value) is not str:
        return None
    try:
        checked = check(value)
    except InvalidTick:
        return None
    if checked is None:
        return None
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[value] = checked
    return checked


def _stored_timestamp(value: str) -> str | None:
    """`value` when it is already a valid timestamp in the stored format, else None."""
    if not _STORED_TIMESTAMP.fullmatch(value):
        return None
    try:
        datetime.fromisoformat(value)  # a real date and time of day
    except ValueError:
        return None
    return value


def _ordinary_price(value: Any) -> Decimal | None:
    """What `_price` gives for a float or int inside the range; None for anything else."""
    if type(value) is float:
        price = _float_prices.get(value)
        if price is None:
            # NaN and the infinities fail the comparison too.
            if not _MIN_FLOAT_PRICE <= value <= _MAX_FLOAT_PRICE:
                return None
            price = Decimal(repr(value))
            if len(_float_prices) >= _MEMO_LIMIT:
                _float_prices.clear()
            _float_prices[value] = price
        return price
    if type(value) is int and _MIN_INT_PRICE <= value <= _MAX_INT_PRICE:
        return Decimal(value)
    return None


def _checked_tick(raw: Any) -> Tick:
    """The full check of every rule, and the wording of every rejection."""
    if not isinstance(raw, dict):
        raise InvalidTick(f"payload must be a JSON object, got {_json_type(raw)}")
    missing = [name for name in REQUIRED_FIELDS if name not in raw or raw[name] is None]
    if missing:
        raise InvalidTick("missing or null field(s): " + ", ".join(missing))
    unexpected = [name for name in raw if name not in REQUIRED_FIELDS]
    if unexpected:
        shown = ", ".join(repr(name[:32]) for name in unexpected[:8]) + (", ..." if len(unexpected) > 8 else "")
        raise InvalidTick(f"unexpected field(s): {shown} (a tick has {', '.join(REQUIRED_FIELDS)} only)")

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
    # Exact arithmetic regardless of the caller's decimal context (_EXACT); only the final
    # quantisation rounds.
    exact = _EXACT
    price, previous_close = tick.price, tick.previous_close
    change = exact.subtract(price, previous_close)
    change_percent = exact.multiply(exact.divide(change, previous_close), _HUNDRED).quantize(
        FOUR_PLACES, ROUND_HALF_EVEN, exact)
    total = exact.add(exact.add(exact.add(tick.open, tick.high), tick.low), price)
    moving_average = exact.divide(total, _FOUR).quantize(FOUR_PLACES, ROUND_HALF_EVEN, exact)
    change = change.quantize(FOUR_PLACES, ROUND_HALF_EVEN, exact)
    return {
        TickItem.SYMBOL: tick.symbol,
        TickItem.TIMESTAMP: tick.timestamp,
        TickItem.OPEN: tick.open,
        TickItem.HIGH: tick.high,
        TickItem.LOW: tick.low,
        TickItem.PRICE: price,
        TickItem.PREVIOUS_CLOSE: previous_close,
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


def check_not_future(tick: Tick, now: float, tolerance_seconds: float) -> Tick:
    """`tick`, unless it is stamped more than `tolerance_seconds` after `now` (epoch seconds).

    The caller's clock comes in as `now`: this module reads none. Ticks of the past always pass.
    """
    latest = datetime.fromtimestamp(now + tolerance_seconds, timezone.utc).strftime(TIMESTAMP_FORMAT)
    # Stored timestamps sort in time order (four-digit years, see _timestamp).
    if tick.timestamp > latest:
        clock = datetime.fromtimestamp(now, timezone.utc).strftime(TIMESTAMP_FORMAT)
        raise InvalidTick(
            f"timestamp {tick.timestamp} is in the future: more than {tolerance_seconds:g} s after the "
            f"function's clock ({clock})"
        )
    return tick


def _symbol(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidTick(f"symbol must be a string, got {_json_type(value)}")
    if not value.isprintable():
        # Every whitespace but the ASCII space is non-printing too: "\u00a0AAPL" is not " AAPL".
        position, char = next((i, c) for i, c in enumerate(value) if not c.isprintable())
        raise InvalidTick(
            f"symbol {value[:32]!r} holds an invisible or non-printing character U+{ord(char):04X} "
            f"at position {position}"
        )
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
    if utc.year < 1000:
        # %Y gives fewer than four digits: "500-01-01..." would sort after every later time.
        raise InvalidTick(f"timestamp {value!r} is before the year 1000")
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
