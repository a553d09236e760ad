from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stock_pipeline.contract import ALERT_ATTRIBUTES
from stock_pipeline.trend import (
    DEATH_CROSS,
    GOLDEN_CROSS,
    Cross,
    PricePoint,
    TrendState,
    advance,
    build_alert,
    check_windows,
    sma,
)

from .reference import reference_crosses
from .support import minute


def points(prices: list[str | int | Decimal], start: int = 0) -> list[PricePoint]:
    return [PricePoint(minute(start + i), Decimal(p)) for i, p in enumerate(prices)]


def signals(result_crosses: tuple[Cross, ...]) -> list[tuple[str, str]]:
    return [(cross.timestamp, cross.signal) for cross in result_crosses]


# --- sma ----------------------------------------------------------------------------------------


def test_sma_is_the_mean_of_the_last_prices_or_none_before_enough() -> None:
    prices = [Decimal(p) for p in ("1", "2", "3", "4", "5", "6")]
    assert sma(prices, 5) == Decimal(4)
    assert sma(prices, 6) == Decimal("3.5")
    assert sma(prices, 7) is None
    with pytest.raises(ValueError):
        sma(prices, 0)


def test_windows_must_be_ordered() -> None:
    check_windows(5, 20)
    for short, long in ((20, 5), (5, 5), (0, 20)):
        with pytest.raises(ValueError):
            check_windows(short, long)


# --- the cross rule (small windows make the cases readable: SMA-2 vs SMA-3) ---------------------


def test_zero_difference_never_fires_and_keeps_the_remembered_sign() -> None:
    # GIVEN [3,2,1]: SMA2 1.5 < SMA3 2 (first sign, negative); then 3: [2,1,3] ties at 2;
    # then 1: [1,3,1] SMA2 2 > SMA3 5/3
    result = advance("AAPL", TrendState(), points([3, 2, 1, 3, 1]), short_window=2, long_window=3)

    # THEN the tie says nothing, and the next positive difference crosses against the remembered negative
    assert [e.sign for e in result.evaluations] == [None, None, -1, 0, 1]
    assert signals(result.crosses) == [(minute(4), GOLDEN_CROSS)]
    assert result.state.last_sign == 1


def test_a_tie_between_two_equal_signs_is_not_a_cross() -> None:
    # [1,2,3] positive; [2,3,1] ties; [3,1,6] positive again
    result = advance("AAPL", TrendState(), points([1, 2, 3, 1, 6]), short_window=2, long_window=3)

    assert [e.sign for e in result.evaluations] == [None, None, 1, 0, 1]
    assert result.crosses == ()


def test_a_series_that_starts_with_ties_learns_its_first_sign_later_without_firing() -> None:
    result = advance("AAPL", TrendState(), points([5, 5, 5, 5, 1, 10]), short_window=2, long_window=3)

    assert [e.sign for e in result.evaluations] == [None, None, 0, 0, -1, 1]
    assert signals(result.crosses) == [(minute(5), GOLDEN_CROSS)]


def test_nothing_is_known_during_the_warm_up_of_twenty_prices() -> None:
    # GIVEN 19 prices that zig-zag wildly
    result = advance("AAPL", TrendState(), points([100 if i % 2 else 1 for i in range(19)]))

    # THEN no average, no sign and no cross yet; the 19 prices are kept for the next call
    assert all(e.sma_short is None and e.sign is None for e in result.evaluations)
    assert result.crosses == ()
    assert result.state.last_sign == 0
    assert len(result.state.window) == 19


def test_the_first_sign_comes_at_the_twentieth_price_and_does_not_fire() -> None:
    # GIVEN prices 1..20 (SMA5 18 > SMA20 10.5 at the 20th), then a fall to 1
    prices = list(range(1, 21)) + [1] * 6

    result = advance("AAPL", TrendState(), points(prices))

    # THEN the 20th price fixes the sign without a cross; the fall is a death cross
    assert result.evaluations[19].sign == 1
    twentieth = result.evaluations[19]
    assert (twentieth.sma_short, twentieth.sma_long) == (Decimal("18.0000"), Decimal("10.5000"))
    assert signals(result.crosses) == [(minute(22), DEATH_CROSS)]
    assert reference_crosses([Decimal(p) for p in prices]) == [(22, DEATH_CROSS)]


def test_a_cross_carries_the_price_and_both_averages() -> None:
    prices = [40 - i for i in range(20)] + [21, 21, 60, 61]

    (cross,) = advance("AAPL", TrendState(), points(prices)).crosses

    assert cross == Cross(
        symbol="AAPL",
        signal=GOLDEN_CROSS,
        timestamp=minute(23),
        price=Decimal(61),
        # (21 + 21 + 21 + 60 + 61) / 5 and (36 + 35 + ... + 21 + 21 + 21 + 60 + 61) / 20
        sma_short=Decimal("36.8000"),
        sma_long=Decimal("30.9500"),
    )


def test_points_at_or_before_the_last_analysed_timestamp_are_skipped_with_a_reason() -> None:
    # GIVEN a state that analysed up to minute 5
    first = advance("AAPL", TrendState(), points([1, 2, 3, 4, 5, 6]))

    # WHEN minute 5 comes again (redelivery), minute 3 comes late, and minute 6 is new
    again = advance("AAPL", first.state, [PricePoint(minute(5), Decimal(6)), PricePoint(minute(3), Decimal(9)),
                                          PricePoint(minute(6), Decimal(7))])

    # THEN only minute 6 is analysed
    assert [e.timestamp for e in again.evaluations] == [minute(6)]
    assert [(s.timestamp, s.reason) for s in again.skipped] == [
        (minute(3), f"older than the last analysed tick ({minute(5)})"),
        (minute(5), f"already analysed ({minute(5)})"),
    ]
    assert again.state.last_timestamp == minute(6)


def test_a_point_without_a_price_is_passed_over_and_not_revisited() -> None:
    given = points(range(1, 21))
    given.insert(10, PricePoint("2024-03-01T15:09:30Z", None))

    result = advance("AAPL", TrendState(), given)

    assert [(s.timestamp, s.reason) for s in result.skipped] == [("2024-03-01T15:09:30Z", "no numeric price")]
    assert result.state.window == tuple(Decimal(p) for p in range(2, 21))
    assert result.state.last_timestamp == minute(19)
    last = advance("AAPL", TrendState(), [PricePoint(minute(0), None)])
    assert last.state.last_timestamp == minute(0) and last.state.window == ()


def test_points_given_out_of_order_are_analysed_in_timestamp_order() -> None:
    prices = list(range(1, 21)) + [1] * 6
    in_order = points(prices)

    result = advance("AAPL", TrendState(), list(reversed(in_order)))

    assert result == advance("AAPL", TrendState(), in_order)


def test_redelivering_the_same_points_alerts_nothing_new() -> None:
    series = points(list(range(1, 21)) + [1] * 6)
    first = advance("AAPL", TrendState(), series)

    again = advance("AAPL", first.state, series)

    assert len(first.crosses) == 1
    assert again.crosses == () and again.evaluations == ()
    assert again.state == first.state


def test_state_keeps_only_the_prices_the_next_long_average_needs() -> None:
    result = advance("AAPL", TrendState(), points(range(1, 51)))

    assert result.state.window == tuple(Decimal(p) for p in range(32, 51))


def test_the_sign_is_decided_on_exact_averages_not_the_rounded_ones_shown() -> None:
    # SMA-3 = 1.00000033.. and SMA-7 = 1.00000014.. both show as 1.0000
    prices = ["1"] * 6 + ["1.000001"]
    result = advance("AAPL", TrendState(), points(prices), short_window=3, long_window=7)

    assert result.evaluations[-1].sign == 1
    assert result.evaluations[-1].sma_short == result.evaluations[-1].sma_long == Decimal("1.0000")


# --- property: any batching gives the crosses of one pass over the whole series -----------------

prices_strategy = st.lists(st.integers(min_value=1, max_value=6).map(Decimal), min_size=0, max_size=120)


@settings(max_examples=300, deadline=None)
@given(prices=prices_strategy, data=st.data())
def test_incremental_analysis_over_any_batches_equals_one_pass(prices: list[Decimal], data: st.DataObject) -> None:
    # GIVEN a random series (few distinct values: many ties and crosses) cut into random batches
    cuts = sorted(data.draw(st.sets(st.integers(min_value=0, max_value=len(prices)), max_size=12)))
    batches = [prices[a:b] for a, b in zip([0, *cuts], [*cuts, len(prices)])]

    # WHEN each batch is analysed from the state the previous one left, some of them twice
    state, found, offset = TrendState(), [], 0
    for batch in batches:
        batch_points = points(batch, start=offset)
        for _ in range(data.draw(st.integers(min_value=1, max_value=2))):
            result = advance("AAPL", state, batch_points)
            state = result.state
            found.extend(result.crosses)
        offset += len(batch)

    # THEN the crosses are those of a single pass over the whole series
    expected = reference_crosses(prices)
    assert [(cross.timestamp, cross.signal) for cross in found] == [(minute(i), signal) for i, signal in expected]


# --- alert texts ---------------------------------------------------------------------------------


def cross(signal: str) -> Cross:
    return Cross("AAPL", signal, "2012-11-26T21:00:00Z", Decimal("589.53"), Decimal("580.1200"), Decimal("575.0000"))


def test_golden_cross_alert_uses_the_reference_wording() -> None:
    alert = build_alert(cross(GOLDEN_CROSS))

    assert alert.subject == "AAPL Golden Cross: uptrend"
    headline, detail, alert_id_line = alert.message.split("\n")
    assert headline == "AAPL is in an Uptrend. Consider a buy opportunity."
    assert detail == "Price 589.53, SMA-5 580.1200, SMA-20 575.0000 at 2012-11-26T21:00:00Z."
    assert alert_id_line == "Alert ID: AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS"
    assert alert.attributes == {
        "alert_id": "AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS",
        "symbol": "AAPL",
        "signal": "GOLDEN_CROSS",
        "price": "589.53",
        "timestamp": "2012-11-26T21:00:00Z",
        "sma_short": "580.1200",
        "sma_long": "575.0000",
        "short_window": "5",
        "long_window": "20",
    }


def test_death_cross_alert_uses_the_reference_wording() -> None:
    alert = build_alert(cross(DEATH_CROSS))

    assert alert.subject == "AAPL Death Cross: downtrend"
    assert alert.message.split("\n")[0] == "AAPL is in a Downtrend. Consider selling."
    assert alert.attributes["signal"] == "DEATH_CROSS"
    assert alert.attributes["alert_id"] == "AAPL-2012-11-26T21:00:00Z-DEATH_CROSS"
    assert alert.message.split("\n")[-1] == "Alert ID: AAPL-2012-11-26T21:00:00Z-DEATH_CROSS"


def test_the_alert_names_the_configured_windows() -> None:
    # GIVEN a cross found with SMA-3 against SMA-10
    cross_3_10 = replace(cross(GOLDEN_CROSS), short_window=3, long_window=10)

    alert = build_alert(cross_3_10)

    # THEN the text and the attributes say which averages crossed; the id does not depend on them
    assert alert.message.split("\n")[1] == "Price 589.53, SMA-3 580.1200, SMA-10 575.0000 at 2012-11-26T21:00:00Z."
    assert (alert.attributes["short_window"], alert.attributes["long_window"]) == ("3", "10")
    assert alert.attributes["alert_id"] == cross_3_10.alert_id == cross(GOLDEN_CROSS).alert_id


def test_every_alert_attribute_is_a_contract_name() -> None:
    alert = build_alert(cross(GOLDEN_CROSS))

    assert sorted(alert.attributes) == sorted(ALERT_ATTRIBUTES)
    assert all(isinstance(value, str) for value in alert.attributes.values())


def test_an_unknown_signal_has_no_alert() -> None:
    with pytest.raises(ValueError):
        build_alert(cross("SIDEWAYS"))
