"""The backtest: a recording through the functions' own code, giving the alerts the pipeline would send."""

from __future__ import annotations

import json
import random
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from stock_pipeline.trend import PricePoint, TrendState, advance, build_alert
from tests.conftest import FIXTURE
from tickstack.ops import alerts as sns_alerts
from tickstack.ops.backtest import alert_record, analyse, backtest, load_recording, stored_number

from .reference import reference_crosses

GOLDEN = {
    "alert_id": "AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS",
    "symbol": "AAPL",
    "signal": "GOLDEN_CROSS",
    "timestamp": "2012-11-26T21:00:00Z",
    "price": "589.53",
    "sma5": "569.8747",
    "sma20": "565.8880",
    "subject": "AAPL Golden Cross: uptrend",
    "sent_at": None,
    "deliveries": 1,
}


def fixture_lines() -> list[str]:
    return FIXTURE.read_text().splitlines()


def write(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))
    return path


def crosses_of(result) -> list[tuple[str, str, str]]:
    return [(a["symbol"], a["timestamp"], a["signal"]) for a in result.alerts]


# --- the shipped recording ----------------------------------------------------------------------


def test_the_aapl_recording_gives_one_golden_and_one_death_cross():
    result = backtest(FIXTURE)

    assert len(result.alerts) == 2
    golden, death = result.alerts
    assert list(golden) == list(sns_alerts.ALERT_FIELDS)  # exactly the keys of `tickstack alerts --json`
    assert {key: golden[key] for key in GOLDEN} == GOLDEN
    assert golden["message"].startswith("AAPL is in an Uptrend.")
    assert (death["symbol"], death["signal"], death["timestamp"], death["price"]) == (
        "AAPL", "DEATH_CROSS", "2012-12-07T21:00:00Z", "533.25")
    assert death["subject"] == "AAPL Death Cross: downtrend"
    assert death["alert_id"] == "AAPL-2012-12-07T21:00:00Z-DEATH_CROSS"
    assert (result.lines, result.stored, result.overwritten, result.rejected) == (80, 80, 0, [])
    assert result.symbols == {"AAPL": 80}


def test_a_backtest_alert_is_the_record_the_sns_notification_of_the_same_cross_reads_back_as():
    # GIVEN the cross the trend function finds, published through SNS and delivered to the audit queue
    points = [PricePoint(json.loads(line)["timestamp"], Decimal(str(json.loads(line)["lastPrice"])))
              for line in fixture_lines()]
    cross = advance("AAPL", TrendState(), points).crosses[0]
    alert = build_alert(cross)
    envelope = {
        "Type": "Notification",
        "MessageId": "5f8e0a1c-0000-4000-8000-000000000001",
        "Subject": alert.subject,
        "Message": alert.message,
        "Timestamp": "2026-01-02T03:04:05.678Z",
        "MessageAttributes": {name: {"Type": "String", "Value": value} for name, value in alert.attributes.items()},
    }

    # WHEN it is read back as `tickstack alerts` reads it
    read_back = sns_alerts.parse_envelope(json.dumps(envelope))

    # THEN it is the backtest's alert but for when it was sent
    assert read_back == {**backtest(FIXTURE).alerts[0], "sent_at": "2026-01-02T03:04:05.678Z"}


def test_alert_record_is_the_one_the_sns_reader_uses_and_reads_old_attribute_names_alike():
    assert alert_record is sns_alerts.alert_record
    new = {"alert_id": "AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS", "symbol": "AAPL", "signal": "GOLDEN_CROSS",
           "timestamp": "2012-11-26T21:00:00Z", "price": "589.53", "sma_short": "569.8747",
           "sma_long": "565.8880", "short_window": "5", "long_window": "20"}
    old = {"symbol": "AAPL", "signal": "GOLDEN_CROSS", "timestamp": "2012-11-26T21:00:00Z", "price": "589.53",
           "sma5": "569.8747", "sma20": "565.8880"}

    assert alert_record("s", "m", old, None, 1) == alert_record("s", "m", new, None, 1)
    assert alert_record("s", "m", old, None, 1)["alert_id"] == "AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS"


# --- what the ingest function rejects -----------------------------------------------------------


def test_malformed_lines_are_counted_with_their_reasons_and_change_no_alert(tmp_path):
    lines: list[str | bytes] = fixture_lines()
    lines[10:10] = ["not json at all", "", '{"symbol": "AAPL"}']
    lines[40:40] = [b"\xff\xfe not utf-8", '{"symbol": "AAPL", "timestamp": "2012-10-01T20:00:00Z", "open": 1, '
                    '"dayHigh": 1, "dayLow": 2, "lastPrice": 1, "previousClose": 1, "lastVolume": 1}']
    recording = write(tmp_path / "with-bad-lines.jsonl", lines)

    result = backtest(recording)

    assert result.alerts == backtest(FIXTURE).alerts
    assert result.lines == 84  # the blank line is not sent
    assert result.stored == 80
    assert [(r.source, r.line_number) for r in result.rejected] == [
        (str(recording), 11), (str(recording), 13), (str(recording), 41), (str(recording), 42)]
    reasons = [r.reason for r in result.rejected]
    assert reasons[0].startswith("payload is not valid JSON")
    assert reasons[1].startswith("missing or null field(s): timestamp, open")
    assert reasons[2].startswith("payload is not UTF-8 text")
    assert reasons[3] == "dayHigh 1 is below dayLow 2"
    assert sum(result.rejected_reasons.values()) == 4


def test_a_recording_of_nothing_valid_gives_no_alerts(tmp_path):
    result = backtest(write(tmp_path / "junk.jsonl", ["[]", "null", ""]))

    assert (result.alerts, result.lines, result.stored, result.symbols) == ([], 2, 0, {})
    assert result.rejected_reasons == {"payload must be a JSON object, got array": 1,
                                       "payload must be a JSON object, got null": 1}


# --- the table: order does not matter, the last write of a key wins ---------------------------


def test_shuffled_and_repeated_lines_give_the_same_alerts(tmp_path):
    lines = fixture_lines()
    shuffled = lines + lines[5:30]
    random.Random(20121126).shuffle(shuffled)

    result = backtest(write(tmp_path / "shuffled.jsonl", shuffled))

    assert result.alerts == backtest(FIXTURE).alerts
    assert (result.lines, result.stored, result.overwritten) == (105, 80, 25)


def test_a_later_line_for_the_same_symbol_and_timestamp_overwrites_the_earlier(tmp_path):
    lines = fixture_lines()
    golden_day = next(i for i, line in enumerate(lines) if '"2012-11-26T21:00:00Z"' in line)
    changed = json.loads(lines[golden_day])
    changed["lastPrice"] = 500.0
    changed = json.dumps(changed)

    before = backtest(write(tmp_path / "before.jsonl", [changed, *lines]))
    after = backtest(write(tmp_path / "after.jsonl", [*lines, changed]))

    # Written first, the changed line is overwritten by the recorded one: nothing changes.
    assert before.alerts == backtest(FIXTURE).alerts
    # Written last, it is what the table holds: the golden cross no longer happens that day.
    assert "2012-11-26T21:00:00Z" not in [a["timestamp"] for a in after.alerts]
    assert before.overwritten == after.overwritten == 1


def test_the_stored_price_is_the_number_dynamodb_gives_back():
    assert str(stored_number(Decimal("100.0"))) == "100"
    assert str(stored_number(Decimal("1E+2"))) == "100"
    assert str(stored_number(Decimal("589.50"))) == "589.5"
    assert str(stored_number(Decimal("589.53"))) == "589.53"
    assert str(stored_number(Decimal("0.000001"))) == "0.000001"
    assert str(stored_number(Decimal("1000000000"))) == "1000000000"


def test_an_alert_at_a_whole_price_recorded_as_a_float_names_the_price_as_the_table_holds_it(tmp_path):
    # SMA-2 vs SMA-3 over 3, 2, 1, 3, 1: the last price makes a golden cross (see test_trend).
    ticks = [{"symbol": "XYZ", "timestamp": f"2024-03-0{day}T21:00:00Z", "open": price, "dayHigh": price,
              "dayLow": price, "lastPrice": price, "previousClose": price, "lastVolume": 1}
             for day, price in enumerate((3.0, 2.0, 1.0, 3.0, 1.0), start=1)]

    result = backtest(write(tmp_path / "whole.jsonl", [json.dumps(t) for t in ticks]), 2, 3)

    assert [(a["signal"], a["price"]) for a in result.alerts] == [("GOLDEN_CROSS", "1")]


# --- windows and the reference computation -------------------------------------------------------


def test_other_windows_give_other_alerts():
    default = backtest(FIXTURE)
    faster = backtest(FIXTURE, short_window=3, long_window=10)

    assert crosses_of(faster) != crosses_of(default)
    assert {(a["symbol"], a["signal"]) for a in faster.alerts} <= {("AAPL", "GOLDEN_CROSS"), ("AAPL", "DEATH_CROSS")}
    assert faster.alerts
    assert all("SMA-3 " in a["message"] and "SMA-10 " in a["message"] for a in faster.alerts)


@pytest.mark.parametrize("short, long", [(20, 5), (5, 5), (0, 20)])
def test_windows_out_of_order_are_refused_before_reading_anything(short, long, tmp_path):
    with pytest.raises(ValueError, match="short window < long window"):
        backtest(tmp_path / "does-not-exist.jsonl", short, long)


def _rounded(value: Fraction) -> str:
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.0001"), ROUND_HALF_EVEN))


@pytest.mark.parametrize("short, long", [(5, 20), (3, 10), (2, 7), (10, 30)])
def test_backtest_agrees_with_the_reference_statement_of_the_rule(short, long):
    prices = [Decimal(str(json.loads(line)["lastPrice"])) for line in fixture_lines()]
    timestamps = [json.loads(line)["timestamp"] for line in fixture_lines()]

    alerts = backtest(FIXTURE, short, long).alerts

    expected = reference_crosses(prices, short, long)
    assert [(a["timestamp"], a["signal"]) for a in alerts] == [(timestamps[i], signal) for i, signal in expected]
    for alert, (i, _) in zip(alerts, expected):
        assert alert["price"] == str(prices[i])
        assert alert["sma5"] == _rounded(Fraction(sum(prices[i + 1 - short: i + 1])) / short)
        assert alert["sma20"] == _rounded(Fraction(sum(prices[i + 1 - long: i + 1])) / long)


def test_a_random_walk_of_several_symbols_agrees_with_the_reference(tmp_path):
    rng = random.Random(7)
    lines, expected = [], []
    for symbol in ("BBB", "AAA", "CCC"):
        prices, price = [], 100.0
        for day in range(300):
            price = round(max(1.0, price + rng.uniform(-2, 2)), 2)
            prices.append(price)
            lines.append(json.dumps({"symbol": symbol, "timestamp": f"2020-01-01T00:{day // 60:02d}:{day % 60:02d}Z",
                                     "open": price, "dayHigh": price, "dayLow": price, "lastPrice": price,
                                     "previousClose": price, "lastVolume": 1}))
        timestamps = [json.loads(line)["timestamp"] for line in lines[-300:]]
        expected += [(symbol, timestamps[i], signal)
                     for i, signal in reference_crosses([Decimal(str(p)) for p in prices], 4, 15)]
    rng.shuffle(lines)
    half = len(lines) // 2

    result = backtest([write(tmp_path / "a.jsonl", lines[:half]), write(tmp_path / "b.jsonl", lines[half:])], 4, 15)

    assert len(expected) > 10
    assert crosses_of(result) == sorted(expected, key=lambda c: (c[1], c[0], c[2]))
    assert result.symbols == {"AAA": 300, "BBB": 300, "CCC": 300}


def test_alerts_are_ordered_by_timestamp_then_symbol(tmp_path):
    lines = fixture_lines()
    other = [line.replace('"AAPL"', '"AAPL.L"') for line in lines]

    result = backtest(write(tmp_path / "two.jsonl", other + lines))

    assert crosses_of(result) == [
        ("AAPL", "2012-11-26T21:00:00Z", "GOLDEN_CROSS"), ("AAPL.L", "2012-11-26T21:00:00Z", "GOLDEN_CROSS"),
        ("AAPL", "2012-12-07T21:00:00Z", "DEATH_CROSS"), ("AAPL.L", "2012-12-07T21:00:00Z", "DEATH_CROSS")]


def test_a_loaded_recording_is_analysed_with_several_windows_without_reading_it_again():
    table = load_recording([FIXTURE])

    assert analyse(table).alerts == backtest(FIXTURE).alerts
    assert analyse(table, 3, 10).alerts == backtest(FIXTURE, 3, 10).alerts
