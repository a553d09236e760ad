"""Recordings of real daily prices in the producer's tick format, from the sample data on PyPI.

Source: the ``stocks.csv.gz`` file of the PyPI package ``bokeh_sampledata`` (Quandl WIKI
end-of-day prices, public domain per the package's ``licenses/datasets.json``). Each
daily bar becomes one tick stamped at that day's 16:00 New York close in UTC, with the
fields yfinance's ``fast_info`` gives the live producer; ``previousClose`` is the prior
bar's close, so the first day of the window needs the bar before it.

Usage: python scripts/make_fixture.py (or `make fixture`) [--symbol AAPL] [--start 2012-09-04] [--end 2012-12-28] [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
from datetime import date, datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from tickstack.settings import PROJECT_ROOT

DEFAULT_OUT = PROJECT_ROOT / "tests" / "fixtures" / "aapl-2012-09-04_2012-12-28.jsonl"
# sha256 of stocks.csv.gz as published in bokeh_sampledata 2026.1's datasets.json.
SOURCE_SHA256 = "5abadf99b2d394f920120a27de6f0df129859d71d4cfb0bf661bcc99446ab1fd"
MARKET_CLOSE = time(16, 0)
NEW_YORK = ZoneInfo("America/New_York")


def source_path() -> Path:
    import bokeh_sampledata

    return Path(bokeh_sampledata.__file__).parent / "_data" / "stocks.csv.gz"


def close_timestamp(day: date) -> str:
    """The exchange close of ``day`` in UTC (20:00Z in summer time, 21:00Z in winter)."""
    local = datetime.combine(day, MARKET_CLOSE, tzinfo=NEW_YORK)
    return local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def bars(path: Path, symbol: str) -> list[dict[str, str]]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        raise SystemExit(f"{path}: sha256 {digest} is not the published {SOURCE_SHA256}")
    with gzip.open(path, "rt", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Ticker"] == symbol]
    return sorted(rows, key=lambda r: r["Date"])


def ticks(rows: list[dict[str, str]], symbol: str, start: date, end: date) -> list[dict]:
    out = []
    for prev, row in zip(rows, rows[1:]):
        day = date.fromisoformat(row["Date"])
        if not start <= day <= end:
            continue
        out.append(
            {
                "symbol": symbol,
                "timestamp": close_timestamp(day),
                "open": float(row["Open"]),
                "dayHigh": float(row["High"]),
                "dayLow": float(row["Low"]),
                "lastPrice": float(row["Close"]),
                "previousClose": float(prev["Close"]),
                "lastVolume": int(float(row["Volume"])),
            }
        )
    return out


def recording(symbol: str, start: date | None = None, end: date | None = None) -> list[dict]:
    """Every tick of ``symbol`` between ``start`` and ``end`` (default: all the source has)."""
    rows = bars(source_path(), symbol)
    if not rows:
        raise SystemExit(f"no {symbol} bars in {source_path()}")
    start = start or date.fromisoformat(rows[1]["Date"] if len(rows) > 1 else rows[0]["Date"])
    end = end or date.fromisoformat(rows[-1]["Date"])
    return ticks(rows, symbol, start, end)


def write_recording(path: Path, ticks_: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(t) + "\n" for t in ticks_))


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate a recorded-ticks fixture from real daily bars.")
    parser.add_argument("--symbol", default="AAPL")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2012, 9, 4))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2012, 12, 28))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    recorded = recording(args.symbol, args.start, args.end)
    if not recorded:
        raise SystemExit(f"no {args.symbol} bars between {args.start} and {args.end}")
    write_recording(args.out, recorded)
    print(f"{args.out}: {len(recorded)} ticks, {recorded[0]['timestamp']} .. {recorded[-1]['timestamp']}")


if __name__ == "__main__":
    main()
