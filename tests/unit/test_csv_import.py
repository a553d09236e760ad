"""Daily bars from a CSV download or a yfinance history frame, as a recording the pipeline accepts."""

from __future__ import annotations

import json
from datetime import date, time
from pathlib import Path

import pandas as pd
import pytest

from stock_pipeline.ticks import parse_tick
from tests.conftest import FIXTURE
from tickstack.ops.backtest import backtest
from tickstack.ops.csv_import import (
    CsvImportError,
    DuplicateDate,
    close_timestamp,
    import_csv,
    ticks_from_history,
    write_recording,
)

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "csv"

# The four bars every layout sample holds: two January days (New York on EST, close 21:00Z)
# and two July days (EDT, close 20:00Z). The first bar only gives the second its previous close.
EXPECTED = [
    {"symbol": "AAPL", "timestamp": "2024-01-12T21:00:00Z", "open": 186.06, "dayHigh": 186.74, "dayLow": 185.19,
     "lastPrice": 185.92, "previousClose": 185.59, "lastVolume": 40444700},
    {"symbol": "AAPL", "timestamp": "2024-07-11T20:00:00Z", "open": 231.39, "dayHigh": 232.39, "dayLow": 225.77,
     "lastPrice": 227.57, "previousClose": 185.92, "lastVolume": 64710600},
    {"symbol": "AAPL", "timestamp": "2024-07-12T20:00:00Z", "open": 228.92, "dayHigh": 232.64, "dayLow": 228.68,
     "lastPrice": 230.54, "previousClose": 227.57, "lastVolume": 53046500},
]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- layouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample, date_header, volume_header",
    [
        ("yahoo.csv", "Date", "Volume"),
        ("stooq.csv", "Date", "Volume"),
        ("plain-lower-newest-first.csv", "date", "volume"),
        ("stooq-daily.txt", "<DATE>", "<VOL>"),
    ],
)
def test_each_common_layout_is_recognised_from_its_header(sample, date_header, volume_header):
    result = import_csv(SAMPLES / sample, "aapl")

    assert result.ticks == EXPECTED
    assert result.columns["date"] == date_header
    assert result.columns["volume"] == volume_header
    assert result.reference_day == date(2024, 1, 11)
    assert (result.bad_rows, result.duplicates) == ([], [])


def test_yahoo_close_is_the_traded_close_not_the_adjusted_one_unless_asked():
    assert import_csv(SAMPLES / "yahoo.csv", "AAPL").columns["close"] == "Close"

    adjusted = import_csv(SAMPLES / "yahoo.csv", "AAPL", close_column="adj close")

    assert adjusted.columns["close"] == "Adj Close"
    assert [t["lastPrice"] for t in adjusted.ticks] == [184.99, 226.98, 229.94]
    assert [t["previousClose"] for t in adjusted.ticks] == [184.66, 184.99, 226.98]


def test_columns_with_other_names_are_named_explicitly():
    with pytest.raises(CsvImportError) as refused:
        import_csv(SAMPLES / "custom-columns.csv", "AAPL")
    assert str(refused.value) == (
        f"{SAMPLES / 'custom-columns.csv'}, line 1: no date column (looked for date, any case); the columns are: "
        "Session, Px Open, Px High, Px Low, Px Last, Shares Traded; name it with date_column=")

    result = import_csv(SAMPLES / "custom-columns.csv", "AAPL", date_column="Session", open_column="Px Open",
                        high_column="px high", low_column="Px Low", close_column="Px Last",
                        volume_column="Shares Traded")

    assert result.ticks == EXPECTED
    assert result.columns == {"date": "Session", "open": "Px Open", "high": "Px High", "low": "Px Low",
                              "close": "Px Last", "volume": "Shares Traded"}


def test_a_named_column_that_is_not_there_is_one_clear_error():
    with pytest.raises(CsvImportError, match=r"stooq\.csv, line 1: no column 'Last' \(given for the close\)"):
        import_csv(SAMPLES / "stooq.csv", "AAPL", close_column="Last")


def test_two_columns_that_could_be_the_same_field_are_refused(tmp_path):
    path = write_csv(tmp_path / "two-volumes.csv", "Date,Open,High,Low,Close,Volume,Vol\n2024-01-02,1,1,1,1,1,1\n")

    with pytest.raises(CsvImportError, match="2 columns could be the volume: Volume, Vol"):
        import_csv(path, "AAPL")


# --- timestamps ---------------------------------------------------------------------------------


def test_each_bar_is_stamped_at_the_new_york_close_in_utc_whatever_the_season():
    assert close_timestamp(date(2024, 1, 12)) == "2024-01-12T21:00:00Z"  # EST, UTC-5
    assert close_timestamp(date(2024, 7, 11)) == "2024-07-11T20:00:00Z"  # EDT, UTC-4
    # The day after the spring change, and the day of the autumn one.
    assert close_timestamp(date(2024, 3, 11)) == "2024-03-11T20:00:00Z"
    assert close_timestamp(date(2024, 11, 4)) == "2024-11-04T21:00:00Z"


def test_exchange_time_zone_and_close_time_are_settings():
    result = import_csv(SAMPLES / "stooq.csv", "VOD.L", exchange_tz="Europe/London", close_time=time(16, 30))

    assert [t["timestamp"] for t in result.ticks] == [
        "2024-01-12T16:30:00Z", "2024-07-11T15:30:00Z", "2024-07-12T15:30:00Z"]
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        import_csv(SAMPLES / "stooq.csv", "AAPL", exchange_tz="Mars/Olympus")


# --- previous close, order, duplicates ----------------------------------------------------------


def test_previous_close_is_the_close_of_the_bar_before_and_the_first_bar_gives_no_tick():
    result = import_csv(SAMPLES / "plain-lower-newest-first.csv", "AAPL")

    assert [t["timestamp"][:10] for t in result.ticks] == ["2024-01-12", "2024-07-11", "2024-07-12"]
    assert [t["previousClose"] for t in result.ticks] == [185.59, 185.92, 227.57]
    assert all(a["lastPrice"] == b["previousClose"] for a, b in zip(result.ticks, result.ticks[1:]))


def test_a_date_given_twice_is_reported_and_its_last_row_kept(tmp_path):
    path = write_csv(tmp_path / "dup.csv", "Date,Open,High,Low,Close,Volume\n"
                     "2024-01-02,10,11,9,10,100\n"
                     "2024-01-03,10,11,9,10.5,100\n"
                     "2024-01-02,10,11,9,9.5,100\n"
                     "2024-01-04,10,11,9,10.25,100\n")

    result = import_csv(path, "XYZ")

    assert result.duplicates == [DuplicateDate(date(2024, 1, 2), (2, 4))]
    assert [(t["timestamp"][:10], t["previousClose"]) for t in result.ticks] == [
        ("2024-01-03", 9.5), ("2024-01-04", 10.5)]


def test_fewer_than_two_usable_bars_make_no_recording(tmp_path):
    path = write_csv(tmp_path / "one.csv", "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10,100\n")

    with pytest.raises(CsvImportError, match="1 usable bar"):
        import_csv(path, "XYZ")
    with pytest.raises(CsvImportError, match="the file is empty"):
        import_csv(write_csv(tmp_path / "empty.csv", "\n"), "XYZ")


# --- bad rows -----------------------------------------------------------------------------------


BAD_ROWS = [
    (4, "date '2024-13-01' is not a date (YYYY-MM-DD or YYYYMMDD)"),
    (5, "High 'abc' is not a number"),
    (6, "High 183.62 is below Low 187.05"),
    (7, "Close 0 is not a positive price"),
    (8, "missing Close"),
    (10, "missing Volume"),
]


def test_a_bad_row_stops_the_import_with_one_error_naming_file_line_and_problem():
    path = SAMPLES / "bad-rows.csv"

    with pytest.raises(CsvImportError) as refused:
        import_csv(path, "AAPL")

    assert str(refused.value) == (f"{path}, line 4: date '2024-13-01' is not a date (YYYY-MM-DD or YYYYMMDD) "
                                  "(5 more bad lines; skip_bad=True leaves them out)")
    assert (refused.value.line, refused.value.source) == (4, str(path))
    assert isinstance(refused.value, ValueError)


def test_skip_bad_leaves_bad_rows_out_and_lists_them(tmp_path):
    result = import_csv(SAMPLES / "bad-rows.csv", "AAPL", skip_bad=True, out=tmp_path / "out.jsonl")

    assert [(row.line, row.problem) for row in result.bad_rows] == BAD_ROWS
    # The good bars: Jan 8 (reference), 9, 17, 19; a skipped day's neighbour takes the close before it.
    assert [(t["timestamp"][:10], t["previousClose"]) for t in result.ticks] == [
        ("2024-01-09", 185.56), ("2024-01-17", 185.14), ("2024-01-19", 182.68)]
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 3


def test_values_the_pipeline_would_reject_are_bad_rows_too(tmp_path):
    path = write_csv(tmp_path / "range.csv", "Date,Open,High,Low,Close,Volume\n"
                     "2024-01-02,10,11,9,10,100\n"
                     "2024-01-03,10,2000000000,9,10,100\n"
                     "2024-01-04,10,11,9,10,-5\n"
                     "2024-01-05,nan,11,9,10,100\n"
                     "2024-01-08,10,11,9,10,100\n")

    result = import_csv(path, "XYZ", skip_bad=True)

    assert [(row.line, row.problem) for row in result.bad_rows] == [
        (3, "not a valid tick: dayHigh 2000000000.0 is outside the accepted range 0.000001..1000000000"),
        (4, "Volume -5 is negative"),
        (5, "Open is nan, not a finite number"),
    ]
    assert len(result.ticks) == 1


def test_a_symbol_the_pipeline_would_reject_is_refused_once():
    with pytest.raises(CsvImportError, match=r"stooq\.csv: symbol 'NOT A TICKER' is not a ticker"):
        import_csv(SAMPLES / "stooq.csv", "not a ticker")


# --- the recording ------------------------------------------------------------------------------


def test_the_recording_written_is_accepted_line_by_line_by_the_ingest_function(tmp_path):
    out = tmp_path / "aapl.jsonl"

    result = import_csv(SAMPLES / "stooq-daily.txt", "AAPL", out=out)

    assert result.out == out
    lines = out.read_text().splitlines()
    assert [json.loads(line) for line in lines] == EXPECTED
    assert [parse_tick(line).timestamp for line in lines] == [t["timestamp"] for t in EXPECTED]


def test_bars_exported_from_the_shipped_recording_import_back_to_it_and_backtest_alike(tmp_path):
    # GIVEN the fixture's daily bars as a Yahoo CSV, with the bar before the first tick
    # (known only by its close, the first tick's previous close)
    ticks = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    rows = ["Date,Open,High,Low,Close,Adj Close,Volume",
            "2012-08-31,{0},{0},{0},{0},{0},0".format(ticks[0]["previousClose"])]
    for t in ticks:
        day = pd.Timestamp(t["timestamp"]).tz_convert("America/New_York").date()
        rows.append(f"{day},{t['open']},{t['dayHigh']},{t['dayLow']},{t['lastPrice']},1.0,{t['lastVolume']}")
    csv_path = write_csv(tmp_path / "AAPL.csv", "\n".join(rows) + "\n")

    # WHEN it is imported
    result = import_csv(csv_path, "AAPL", out=tmp_path / "aapl.jsonl")

    # THEN the recording is the shipped one, byte for byte, and backtests to the same two alerts
    assert (tmp_path / "aapl.jsonl").read_bytes() == FIXTURE.read_bytes()
    assert result.reference_day == date(2012, 8, 31)
    alerts = backtest(tmp_path / "aapl.jsonl").alerts
    assert alerts == backtest(FIXTURE).alerts
    assert [(a["timestamp"], a["signal"], a["price"]) for a in alerts] == [
        ("2012-11-26T21:00:00Z", "GOLDEN_CROSS", "589.53"), ("2012-12-07T21:00:00Z", "DEATH_CROSS", "533.25")]


# --- a yfinance history frame -------------------------------------------------------------------


def history_frame(tz: str = "America/New_York") -> pd.DataFrame:
    """What yfinance's Ticker.history(interval="1d") returns: the session dates at midnight, exchange time."""
    index = pd.DatetimeIndex(["2024-01-11", "2024-01-12", "2024-07-11", "2024-07-12"], name="Date").tz_localize(tz)
    return pd.DataFrame(
        {
            "Open": [186.54, 186.06, 231.39, 228.92],
            "High": [187.05, 186.74, 232.39, 232.64],
            "Low": [183.62, 185.19, 225.77, 228.68],
            "Close": [185.59, 185.92, 227.57, 230.54],
            "Volume": [49128400, 40444700, 64710600, 53046500],
            "Dividends": [0.0, 0.0, 0.0, 0.0],
            "Stock Splits": [0.0, 0.0, 0.0, 0.0],
        },
        index=index,
    )


def test_a_history_frame_becomes_the_same_ticks_as_the_same_bars_in_a_csv(tmp_path):
    result = ticks_from_history(history_frame(), "AAPL")

    assert result.ticks == EXPECTED == import_csv(SAMPLES / "yahoo.csv", "AAPL").ticks
    assert result.reference_day == date(2024, 1, 11)
    assert result.columns == {"date": "Date", "open": "Open", "high": "High", "low": "Low", "close": "Close",
                              "volume": "Volume"}
    write_recording(result.ticks, tmp_path / "history.jsonl")
    assert [parse_tick(line).symbol for line in (tmp_path / "history.jsonl").read_text().splitlines()] == ["AAPL"] * 3


def test_a_history_frame_saved_with_pandas_to_csv_imports_to_the_same_ticks(tmp_path):
    # Dates written as "2024-01-11 00:00:00-05:00": the date is taken in its own offset.
    history_frame().to_csv(tmp_path / "history.csv")

    result = import_csv(tmp_path / "history.csv", "AAPL")

    assert result.ticks == EXPECTED
    assert result.columns["date"] == "Date"


def test_a_history_frame_is_stamped_in_its_own_exchange_zone_unless_told_otherwise():
    london = history_frame("Europe/London")

    assert [t["timestamp"] for t in ticks_from_history(london, "VOD.L").ticks] == [
        "2024-01-12T16:00:00Z", "2024-07-11T15:00:00Z", "2024-07-12T15:00:00Z"]
    assert ticks_from_history(london, "VOD.L", exchange_tz="America/New_York").ticks[0]["timestamp"] == (
        "2024-01-12T21:00:00Z")


def test_a_missing_value_in_a_history_frame_is_a_bad_row():
    frame = history_frame()
    frame.iloc[2, frame.columns.get_loc("Close")] = float("nan")

    with pytest.raises(CsvImportError, match=r"^history of AAPL, row 3: Close is nan, not a finite number$"):
        ticks_from_history(frame, "AAPL")
    result = ticks_from_history(frame, "AAPL", skip_bad=True)
    assert [(row.line, row.problem) for row in result.bad_rows] == [(3, "Close is nan, not a finite number")]
    assert [(t["timestamp"][:10], t["previousClose"]) for t in result.ticks] == [
        ("2024-01-12", 185.59), ("2024-07-12", 185.92)]
