from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from stock_pipeline.ticks import (
    InvalidTick,
    Tick,
    check_not_future,
    enrich,
    parse_tick,
    to_archive_json,
    validate_tick,
)

from .support import raw_tick


def tick_with(price: float, previous_close: float) -> Tick:
    return validate_tick(
        raw_tick(open=price, dayHigh=max(price, previous_close), dayLow=min(price, previous_close), lastPrice=price,
                 previousClose=previous_close)
    )


# --- enrichment -------------------------------------------------------------------------------


def test_enrich_computes_the_reference_schema_for_the_contract_example() -> None:
    # GIVEN the tick the contract shows
    tick = parse_tick(json.dumps(raw_tick()).encode())

    # WHEN it is enriched
    item = enrich(tick)

    # THEN every field is there, input prices keep their decimal digits, derived values have 4 places
    assert item == {
        "symbol": "AAPL",
        "timestamp": "2012-11-26T21:00:00Z",
        "open": Decimal("561.7"),
        "high": Decimal("590.0"),
        "low": Decimal("558.5"),
        "price": Decimal("589.53"),
        "previous_close": Decimal("571.5"),
        "change": Decimal("18.0300"),
        # 18.03 / 571.5 * 100 = 3.15485564...
        "change_percent": Decimal("3.1549"),
        "volume": Decimal(4625000),
        # (561.7 + 590.0 + 558.5 + 589.53) / 4 = 574.9325
        "moving_average": Decimal("574.9325"),
        "anomaly": "No",
    }


@pytest.mark.parametrize(
    ("price", "previous_close", "change_percent", "anomaly"),
    [
        (105.0, 100.0, Decimal("5.0000"), "No"),  # exactly 5 % is not an anomaly
        (95.0, 100.0, Decimal("-5.0000"), "No"),
        (105.01, 100.0, Decimal("5.0100"), "Yes"),
        (94.99, 100.0, Decimal("-5.0100"), "Yes"),
        (100.0, 100.0, Decimal("0.0000"), "No"),
    ],
)
def test_anomaly_is_a_change_of_more_than_five_percent_either_way(
    price: float, previous_close: float, change_percent: Decimal, anomaly: str
) -> None:
    item = enrich(tick_with(price, previous_close))

    assert item["change_percent"] == change_percent
    assert item["anomaly"] == anomaly


def test_anomaly_follows_the_stored_rounded_change_percent() -> None:
    # GIVEN a change of 5.00004 %, stored as 5.0000 %
    item = enrich(tick_with(105.00004, 100.0))

    # THEN the flag agrees with what a reader of the item sees
    assert item["change_percent"] == Decimal("5.0000")
    assert item["anomaly"] == "No"


def test_derived_values_round_half_to_even() -> None:
    # (1 + 1 + 1 + 1.00002) / 4 = 1.000005: half way, the even neighbour is 1.0000
    tick = validate_tick(raw_tick(open=1, dayHigh=1.00002, dayLow=1, lastPrice=1, previousClose=1))
    assert enrich(tick)["moving_average"] == Decimal("1.0000")
    # (1 + 1 + 1 + 1.0006) / 4 = 1.00015: half way, the even neighbour is 1.0002
    tick = validate_tick(raw_tick(open=1, dayHigh=1.0006, dayLow=1, lastPrice=1, previousClose=1))
    assert enrich(tick)["moving_average"] == Decimal("1.0002")


def test_archive_json_has_numbers_and_sorted_keys() -> None:
    item = enrich(validate_tick(raw_tick()))

    text = to_archive_json(item)

    decoded = json.loads(text)
    assert list(decoded) == sorted(decoded)
    assert decoded["price"] == 589.53 and '"price":589.53' in text
    assert decoded["volume"] == 4625000 and isinstance(decoded["volume"], int)
    assert decoded["change_percent"] == 3.1549
    assert decoded["anomaly"] == "No"


# --- normalisation that is accepted -------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("2012-11-26T21:00:00Z", "2012-11-26T21:00:00Z"),
        ("2012-11-26T21:00:00+00:00", "2012-11-26T21:00:00Z"),
        ("2012-11-26T16:00:00-05:00", "2012-11-26T21:00:00Z"),
        ("2012-11-27T02:30:00+05:30", "2012-11-26T21:00:00Z"),
        ("2012-11-26T21:00:00.987654Z", "2012-11-26T21:00:00Z"),
    ],
)
def test_timestamps_with_any_offset_are_normalised_to_utc(given: str, normalised: str) -> None:
    assert validate_tick(raw_tick(timestamp=given)).timestamp == normalised


def test_symbol_is_trimmed_and_upper_cased() -> None:
    assert validate_tick(raw_tick(symbol=" brk-b ")).symbol == "BRK-B"
    assert validate_tick(raw_tick(symbol="^GSPC")).symbol == "^GSPC"
    assert validate_tick(raw_tick(symbol="EURUSD=X")).symbol == "EURUSD=X"


def test_integral_float_volume_and_integer_prices_are_accepted() -> None:
    tick = validate_tick(raw_tick(lastVolume=1234.0, open=561, dayHigh=590, dayLow=558, lastPrice=589))
    assert tick.volume == 1234 and isinstance(tick.volume, int)
    assert tick.open == Decimal(561)


def test_unknown_fields_are_refused_by_name() -> None:
    # A field the producer never sends is a producer out of contract: quarantine it and say which.
    with pytest.raises(InvalidTick, match=r"unexpected field\(s\): 'currency', 'Symbol' \(a tick has symbol,"):
        validate_tick(raw_tick(currency="USD", Symbol="MSFT"))


def test_only_the_ascii_space_is_trimmed_from_a_symbol() -> None:
    assert validate_tick(raw_tick(symbol="  AAPL ")).symbol == "AAPL"


# --- time sanity: the caller's clock is passed in ----------------------------------------------

NOW = 1_764_100_000.0  # 2025-11-25T19:46:40Z


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        ("2012-11-26T21:00:00Z", True),  # a recording of the past
        ("2025-11-25T19:46:40Z", True),  # now
        ("2025-11-25T19:51:40Z", True),  # exactly the tolerance ahead
        ("2025-11-25T19:51:41Z", False),
        ("2025-11-26T14:51:41-05:00", False),
        ("9999-12-31T23:59:59Z", False),
    ],
)
def test_a_tick_stamped_further_ahead_than_the_tolerance_is_refused(timestamp: str, accepted: bool) -> None:
    tick = validate_tick(raw_tick(timestamp=timestamp))

    if accepted:
        assert check_not_future(tick, now=NOW, tolerance_seconds=300) is tick
    else:
        with pytest.raises(InvalidTick, match=r"is in the future: more than 300 s after the function's clock "
                                              r"\(2025-11-25T19:46:40Z\)"):
            check_not_future(tick, now=NOW, tolerance_seconds=300)


# --- rejection reasons --------------------------------------------------------------------------


def reason_for(payload: bytes | str) -> str:
    with pytest.raises(InvalidTick) as caught:
        parse_tick(payload)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


def encoded(**overrides: Any) -> str:
    return json.dumps(raw_tick(**overrides))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe not text", "payload is not UTF-8 text"),
        ("{not json", "payload is not valid JSON"),
        ("[" * 3000, "payload is not valid JSON: nested too deeply"),
        ("[" * 100_000, "payload is 100000 bytes, more than the 4096 a tick may take"),
        (encoded(symbol="AAPL" + " " * 5000), "more than the 4096 a tick may take"),
        ("é" * 2100, "payload is 4200 bytes"),
        ("[1, 2]", "payload must be a JSON object, got array"),
        ('"AAPL"', "payload must be a JSON object, got string"),
        (json.dumps({"symbol": "AAPL"}), "missing or null field(s): timestamp, open, dayHigh"),
        (encoded(lastPrice=None), "missing or null field(s): lastPrice"),
        (encoded(symbol=7), "symbol must be a string, got number"),
        (encoded(symbol="   "), "symbol is empty"),
        (encoded(symbol="A" * 17), "is longer than 16 characters"),
        (encoded(symbol="AA PL"), "is not a ticker"),
        (encoded(symbol="AAPL;DROP"), "is not a ticker"),
        (encoded(symbol="^.-"), "is not a ticker"),
        (encoded(symbol="AAPL\u200b"), "holds an invisible or non-printing character U+200B at position 4"),
        (encoded(symbol="\u00a0AAPL"), "holds an invisible or non-printing character U+00A0 at position 0"),
        (encoded(symbol="AA\tPL"), "holds an invisible or non-printing character U+0009 at position 2"),
        (encoded(symbol="\nAAPL"), "U+000A at position 0"),
        (encoded(symbol="AAPL\u2060"), "U+2060"),
        (encoded(symbol="AAPL\u00ad"), "U+00AD"),
        (encoded(symbol="ААPL"), "is not a ticker"),  # Cyrillic capital A twice
        (encoded(extra=1), "unexpected field(s): 'extra'"),
        (encoded(timestamp=1353963600), "timestamp must be a string, got number"),
        (encoded(timestamp="yesterday"), "is not ISO 8601"),
        (encoded(timestamp="2012-11-26T21:00:00"), "has no UTC offset"),
        (encoded(timestamp="2012-11-26"), "has no UTC offset"),
        (encoded(timestamp="0001-01-01T00:00:00+01:00"), "is out of range in UTC"),
        (encoded(timestamp="0500-01-01T00:00:00Z"), "is before the year 1000"),
        (encoded(timestamp="0999-12-31T23:59:59+00:00"), "is before the year 1000"),
        (encoded(lastPrice="589.53"), "lastPrice must be a number, got string"),
        (encoded(open=True), "open must be a number, got boolean"),
        (encoded(previousClose=[571.5]), "previousClose must be a number, got array"),
        (encoded(lastPrice=float("nan")), "lastPrice must be finite"),
        (encoded(dayHigh=float("inf")), "dayHigh must be finite"),
        ('{"symbol": "AAPL", "timestamp": "2012-11-26T21:00:00Z", "open": 1e400, "dayHigh": 2, "dayLow": 1,'
         ' "lastPrice": 1, "previousClose": 1, "lastVolume": 1}', "open must be finite"),
        (encoded(lastPrice=0), "lastPrice must be greater than 0"),
        (encoded(previousClose=-571.5), "previousClose must be greater than 0"),
        (encoded(lastPrice=1e12), "outside the accepted range"),
        (encoded(dayLow=1e-300), "outside the accepted range"),
        (encoded(dayHigh=550.0), "dayHigh 550.0 is below dayLow 558.5"),
        (encoded(lastVolume=-1), "lastVolume must be a non-negative integer, got -1"),
        (encoded(lastVolume=12.5), "lastVolume must be a non-negative integer, got 12.5"),
        (encoded(lastVolume=False), "lastVolume must be a non-negative integer, got boolean"),
        (encoded(lastVolume="4625000"), "lastVolume must be a non-negative integer, got string"),
        (encoded(lastVolume=10**16), "is larger than"),
        ('{"symbol": "AAPL", "lastVolume": ' + "9" * 5000 + "}", "more than the 4096 a tick may take"),
    ],
)
def test_each_invalid_payload_is_rejected_with_its_reason(payload: bytes | str, reason: str) -> None:
    assert reason in reason_for(payload)


def test_validate_tick_rejects_a_non_object() -> None:
    with pytest.raises(InvalidTick, match="got null"):
        validate_tick(None)


def test_invalid_tick_is_a_value_error() -> None:
    assert issubclass(InvalidTick, ValueError)
