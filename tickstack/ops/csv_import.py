"""Daily OHLCV bars (a CSV download, or a yfinance history frame) as a recording of ticks.

Each daily bar becomes one tick in the producer's format, stamped at that day's exchange close
in UTC (16:00 America/New_York by default, so 21:00Z in winter and 20:00Z in summer), with
`previousClose` the close of the bar before it. The first bar has no bar before it: it gives
no tick of its own and serves only as the previous close of the second, exactly as
`tickstack.ops.sample_data` builds the shipped fixture (a previous close made up from the
bar's own open would put a false change into the table and the archive).

CSV layouts are recognised from the header, case-insensitively, `<...>` brackets ignored:

- Yahoo Finance download: `Date,Open,High,Low,Close,Adj Close,Volume` (Close is used, not Adj Close);
- Stooq download and any plain file: `Date,Open,High,Low,Close,Volume`, any letter case;
- Stooq data files: `<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>`,
  dates as YYYYMMDD.

Other headers name their columns with the `*_column` arguments. Dates are ISO 8601 (YYYY-MM-DD,
YYYYMMDD, or a date-time whose own date is taken). Bars must be daily. Prices are written as the
floats they parse to, volumes as whole numbers (a fractional volume is truncated, as
`tickstack.ops.sample_data` does).

A bad row (a missing field, a date or number that does not parse, a price that is not positive,
a high below the low, or anything else `validate_tick` rejects) stops the import with one
`CsvImportError` naming the file, line and problem; with `skip_bad=True` it is left out and
listed. Rows are sorted by date; a date given twice keeps its last row (as a later write of the
same key does in the ticks table) and is listed. Every tick produced is checked with the
pipeline's own `validate_tick`, so a recording from here is accepted as a whole.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from os import PathLike
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from producer.recording import write_tick
from stock_pipeline.contract import TIMESTAMP_FORMAT
from stock_pipeline.ticks import InvalidTick, validate_tick

__all__ = [
    "DEFAULT_CLOSE_TIME",
    "DEFAULT_EXCHANGE_TZ",
    "BadRow",
    "CsvImportError",
    "DuplicateDate",
    "ImportResult",
    "close_timestamp",
    "import_csv",
    "ticks_from_history",
    "write_recording",
]

DEFAULT_EXCHANGE_TZ = "America/New_York"
DEFAULT_CLOSE_TIME = time(16, 0)

# The roles a bar needs, and the header names (normalised: lower case, no <>) that fill each.
_ROLES = ("date", "open", "high", "low", "close", "volume")
_PRICE_ROLES = ("open", "high", "low", "close")
_HEADER_NAMES = {
    "date": ("date",),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "volume": ("volume", "vol"),
}


class CsvImportError(ValueError):
    """Bars that cannot become a recording; the message names the source, the line and the problem."""

    def __init__(self, source: str, problem: str, line: int | None = None, unit: str = "line") -> None:
        where = f"{source}, {unit} {line}" if line is not None else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class BadRow:
    # The line in the file (the header is line 1); for a frame, the row's position from 1.
    line: int
    problem: str


@dataclass(frozen=True)
class DuplicateDate:
    day: date
    # Every line with this date, in file order; the last one is kept.
    lines: tuple[int, ...]


@dataclass
class ImportResult:
    source: str
    symbol: str
    # In the recorded format, oldest first.
    ticks: list[dict]
    # role (date, open, high, low, close, volume) -> the column used.
    columns: dict[str, str]
    # The first bar's date: it only gives the second bar its previous close.
    reference_day: date
    bad_rows: list[BadRow] = field(default_factory=list)
    duplicates: list[DuplicateDate] = field(default_factory=list)
    # Where the recording was written, when it was.
    out: Path | None = None


@dataclass(frozen=True)
class _Bar:
    line: int
    day: date
    open: float
    high: float
    low: float
    close: float
    volume: int


def close_timestamp(day: date, exchange_tz: ZoneInfo | str = DEFAULT_EXCHANGE_TZ,
                    close_time: time = DEFAULT_CLOSE_TIME) -> str:
    """The close of `day` on an exchange in `exchange_tz`, in UTC, in the ticks' timestamp format."""
    zone = exchange_tz if isinstance(exchange_tz, ZoneInfo) else _zone(exchange_tz)
    return datetime.combine(day, close_time, tzinfo=zone).astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT)


def import_csv(
    path: str | PathLike[str],
    symbol: str,
    *,
    out: str | PathLike[str] | None = None,
    date_column: str | None = None,
    open_column: str | None = None,
    high_column: str | None = None,
    low_column: str | None = None,
    close_column: str | None = None,
    volume_column: str | None = None,
    exchange_tz: str = DEFAULT_EXCHANGE_TZ,
    close_time: time = DEFAULT_CLOSE_TIME,
    skip_bad: bool = False,
) -> ImportResult:
    """The ticks of the daily bars in the CSV at `path`, written as a recording to `out` if given."""
    source = str(path)
    zone = _zone(exchange_tz)
    symbol = _checked_symbol(symbol, source)
    explicit = {
        "date": date_column,
        "open": open_column,
        "high": high_column,
        "low": low_column,
        "close": close_column,
        "volume": volume_column,
    }
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next((row for row in reader if any(cell.strip() for cell in row)), None)
            if header is None:
                raise CsvImportError(
                    source, "the file is empty: expected a header such as Date,Open,High,Low,Close,Volume"
                )
            columns = _resolve_columns(header, explicit, _ROLES, source, header_line=reader.line_num)
            rows = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                values = {role: row[index] if index < len(row) else None for role, index in columns.items()}
                rows.append((reader.line_num, values))
    except UnicodeDecodeError as exc:
        raise CsvImportError(source, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:  # a NUL byte, an unterminated quote, an oversized field
        raise CsvImportError(source, f"not readable as CSV: {exc}", reader.line_num) from None
    labels = {role: header[index].strip() for role, index in columns.items()}
    result = _ticks_from_rows(rows, labels, symbol, source, zone, close_time, skip_bad)
    if out is not None:
        write_recording(result.ticks, out)
        result.out = Path(out)
    return result


def ticks_from_history(
    frame: Any,
    symbol: str,
    *,
    exchange_tz: str | None = None,
    close_time: time = DEFAULT_CLOSE_TIME,
    skip_bad: bool = False,
) -> ImportResult:
    """The ticks of a yfinance `Ticker(symbol).history(interval="1d")` DataFrame, as `import_csv` makes them.

    The index holds the bar dates, in the exchange's time zone; `exchange_tz` defaults to that
    zone (New York when the index has none). Columns Open, High, Low, Close and Volume are found
    by name, any letter case; the others (Dividends, Stock Splits, ...) are ignored. yfinance
    leaves a missing value as NaN: such a row is a bad row.
    """
    source = f"history of {symbol}"
    zone = _zone(exchange_tz or _index_zone_name(frame.index) or DEFAULT_EXCHANGE_TZ)
    symbol = _checked_symbol(symbol, source)
    header = [str(name) for name in frame.columns]
    roles = tuple(role for role in _ROLES if role != "date")
    columns = _resolve_columns(header, dict.fromkeys(roles), roles, source, header_line=None)
    series = {role: frame.iloc[:, index].tolist() for role, index in columns.items()}
    rows = [
        (position, {"date": day, **{role: values[position - 1] for role, values in series.items()}})
        for position, day in enumerate(frame.index, start=1)
    ]
    labels = {"date": str(frame.index.name or "index"), **{role: header[index] for role, index in columns.items()}}
    return _ticks_from_rows(rows, labels, symbol, source, zone, close_time, skip_bad, unit="row")


def write_recording(ticks: Iterable[dict], out: str | PathLike[str]) -> None:
    """Write ticks as a recording: one JSON object per line, as `tickstack record` does."""
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        for tick in ticks:
            write_tick(fh, tick)


# --- shared by CSV rows and frame rows ----------------------------------------------------------


def _ticks_from_rows(
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    labels: Mapping[str, str],
    symbol: str,
    source: str,
    zone: ZoneInfo,
    close_time: time,
    skip_bad: bool,
    unit: str = "line",
) -> ImportResult:
    bars: list[_Bar] = []
    bad: list[BadRow] = []
    for line, values in rows:
        try:
            bars.append(_bar(line, values, labels, symbol, zone, close_time))
        except _BadValue as exc:
            bad.append(BadRow(line, str(exc)))
    if bad and not skip_bad:
        first = bad[0]
        more = f" ({len(bad) - 1} more bad {unit}s; skip_bad=True leaves them out)" if len(bad) > 1 else ""
        raise CsvImportError(source, first.problem + more, first.line, unit)

    by_day: dict[date, list[_Bar]] = {}
    for bar in bars:
        by_day.setdefault(bar.day, []).append(bar)
    duplicates = [
        DuplicateDate(day, tuple(bar.line for bar in same)) for day, same in sorted(by_day.items()) if len(same) > 1
    ]
    ordered = [by_day[day][-1] for day in sorted(by_day)]
    if len(ordered) < 2:
        raise CsvImportError(
            source,
            f"{len(ordered)} usable bar(s): the first bar only gives the next its previous close, "
            "so at least two are needed",
        )

    ticks = []
    for previous, bar in zip(ordered, ordered[1:]):
        tick = _tick(symbol, bar, zone, close_time, previous_close=previous.close)
        try:
            validate_tick(tick)
        except InvalidTick as exc:  # every value was checked with its own row; kept as the last word
            raise CsvImportError(source, f"not a valid tick: {exc.reason}", bar.line, unit) from None
        ticks.append(tick)
    return ImportResult(
        source=source,
        symbol=symbol,
        ticks=ticks,
        columns=dict(labels),
        reference_day=ordered[0].day,
        bad_rows=bad,
        duplicates=duplicates,
    )


class _BadValue(ValueError):
    pass


def _bar(line: int, values: Mapping[str, Any], labels: Mapping[str, str], symbol: str, zone: ZoneInfo,
         close_time: time) -> _Bar:
    missing = [labels[role] for role in _ROLES if _is_missing(values.get(role))]
    if missing:
        raise _BadValue("missing " + ", ".join(missing))
    day = _day(values["date"])
    prices = {role: _number(labels[role], values[role]) for role in _PRICE_ROLES}
    volume = _number(labels["volume"], values["volume"])
    for role, price in prices.items():
        if price <= 0:
            raise _BadValue(f"{labels[role]} {_shown(values[role])} is not a positive price")
    if prices["high"] < prices["low"]:
        raise _BadValue(f"{labels['high']} {_shown(values['high'])} is below {labels['low']} {_shown(values['low'])}")
    if volume < 0:
        raise _BadValue(f"{labels['volume']} {_shown(values['volume'])} is negative")
    bar = _Bar(line, day, prices["open"], prices["high"], prices["low"], prices["close"], int(volume))
    # The bar's own values as a tick (its close standing in for the previous close, which is
    # another bar's close and checked with that bar): ranges, symbol and timestamp as the pipeline sees them.
    try:
        validate_tick(_tick(symbol, bar, zone, close_time, previous_close=bar.close))
    except InvalidTick as exc:
        raise _BadValue(f"not a valid tick: {exc.reason}") from None
    return bar


def _tick(symbol: str, bar: _Bar, zone: ZoneInfo, close_time: time, previous_close: float) -> dict:
    # The producer's fields and order (producer.live.fetch_tick, tickstack.ops.sample_data).
    return {
        "symbol": symbol,
        "timestamp": close_timestamp(bar.day, zone, close_time),
        "open": bar.open,
        "dayHigh": bar.high,
        "dayLow": bar.low,
        "lastPrice": bar.close,
        "previousClose": previous_close,
        "lastVolume": bar.volume,
    }


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value)


def _day(value: Any) -> date:
    if isinstance(value, datetime):  # pandas' Timestamp too: its own (exchange) date
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise _BadValue(f"date {text!r} is not a date (YYYY-MM-DD or YYYYMMDD)") from None


def _number(label: str, value: Any) -> float:
    if isinstance(value, bool):
        raise _BadValue(f"{label} {value!r} is not a number")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise _BadValue(f"{label} {_shown(value)!r} is not a number") from None
    if not math.isfinite(number):
        raise _BadValue(f"{label} is {_shown(value)}, not a finite number")
    return number


# --- columns, symbol, time zone -----------------------------------------------------------------


def _normal(name: str) -> str:
    return name.strip().strip("<>").strip().lower()


def _resolve_columns(
    header: Sequence[str],
    explicit: Mapping[str, str | None],
    roles: Sequence[str],
    source: str,
    header_line: int | None,
) -> dict[str, int]:
    """role -> column index, from the names given or else from the header's names."""
    normals = [_normal(name) for name in header]
    shown = ", ".join(name.strip() for name in header)
    columns: dict[str, int] = {}
    for role in roles:
        wanted = explicit.get(role)
        if wanted is not None:
            exact = [i for i, name in enumerate(header) if name.strip() == wanted.strip()]
            found = exact or [i for i, name in enumerate(normals) if name == _normal(wanted)]
            if not found:
                raise CsvImportError(source, f"no column {wanted!r} (given for the {role}); the columns are: {shown}",
                                     header_line)
        else:
            found = [i for i, name in enumerate(normals) if name in _HEADER_NAMES[role]]
            if not found:
                raise CsvImportError(
                    source,
                    f"no {role} column (looked for {' or '.join(_HEADER_NAMES[role])}, any case); the columns are: "
                    f"{shown}; name it with {role}_column=",
                    header_line,
                )
        if len(found) > 1:
            raise CsvImportError(source, f"{len(found)} columns could be the {role}: "
                                 f"{', '.join(header[i].strip() for i in found)}", header_line)
        columns[role] = found[0]
    return columns


def _checked_symbol(symbol: str, source: str) -> str:
    """The symbol as the pipeline stores it (trimmed, upper case), or one error for the whole import."""
    probe = {"symbol": symbol, "timestamp": "2000-01-03T21:00:00Z", "open": 1, "dayHigh": 1, "dayLow": 1,
             "lastPrice": 1, "previousClose": 1, "lastVolume": 0}
    try:
        return validate_tick(probe).symbol
    except InvalidTick as exc:
        raise CsvImportError(source, exc.reason) from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as America/New_York") from None


def _index_zone_name(index: Any) -> str | None:
    tz = getattr(index, "tz", None)
    if tz is None:
        return None
    # zoneinfo, pytz and dateutil zones name themselves differently.
    return getattr(tz, "key", None) or getattr(tz, "zone", None) or str(tz)
