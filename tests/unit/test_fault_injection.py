"""The fault switch: its spec, and dice that are the same for one invocation and new for the next."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stock_pipeline.contract import FAULT_KINDS
from stock_pipeline.faults import CrashAfterPublish, Faults, FaultSpec, InjectedCrash, InjectedFault
from stock_pipeline.trend import Cross, build_alert

from .fakes import RecordingPublisher


def test_a_spec_names_a_share_per_kind() -> None:
    spec = FaultSpec.parse(" process=0.2, trend=.5 ,trend_crash_after_publish=1 ")

    assert spec.shares == {"process": 0.2, "trend": 0.5, "trend_crash_after_publish": 1.0}
    assert spec.share("process") == 0.2 and bool(spec)
    assert set(spec.shares) == set(FAULT_KINDS)


@pytest.mark.parametrize("text", ["", None, " , ", "process=0", "process=0,trend=0.0"])
def test_no_share_means_no_fault(text: str | None) -> None:
    assert not FaultSpec.parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("network=0.1", "'network=0.1' is not kind=share"),
        ("process", "'process' is not kind=share"),
        ("process=1.5", "must lie from 0 to 1"),
        ("process=-0.1", "must lie from 0 to 1"),
        ("process=nan", "must lie from 0 to 1"),
        ("process=often", "is not a number"),
        ("trend=0.1,trend=0.2", "trend is given twice"),
    ],
)
def test_a_malformed_spec_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultSpec.parse(text)


def failures(spec: FaultSpec, seed: str, draws: int = 1) -> int:
    faults = Faults(spec, seed)
    failed = 0
    for _ in range(draws):
        try:
            faults.fail_invocation("process")
        except InjectedFault:
            failed += 1
    return failed


def test_one_invocation_always_makes_the_same_choices_and_others_new_ones() -> None:
    spec = FaultSpec.parse("process=0.3")

    # The same seed (request id) gives the same outcome every time ...
    outcomes = [failures(spec, f"request-{i}") for i in range(400)]
    assert outcomes == [failures(spec, f"request-{i}") for i in range(400)]
    # ... and over many invocations about the share fails
    assert 80 <= sum(outcomes) <= 160


def test_shares_of_zero_and_one_are_never_and_always() -> None:
    assert failures(FaultSpec.parse("process=0"), "r", draws=50) == 0
    assert failures(FaultSpec.parse("process=1"), "r", draws=50) == 50
    # A share for the other function changes nothing here.
    assert failures(FaultSpec.parse("trend=1"), "r", draws=50) == 0


def test_an_injected_fault_is_announced_before_it_is_raised() -> None:
    said: list[str] = []
    faults = Faults(FaultSpec.parse("trend=1"), "r", on_inject=said.append)

    with pytest.raises(InjectedFault, match="trend invocation failed before doing anything"):
        faults.fail_invocation("trend")
    assert said == ["trend"]


def test_the_crash_comes_after_sns_accepted_the_alert_and_escapes_except_exception() -> None:
    # GIVEN a publisher that dies after every publish
    inner = RecordingPublisher()
    publisher = CrashAfterPublish(inner, Faults(FaultSpec.parse("trend_crash_after_publish=1"), "r"))
    alert = build_alert(Cross("AAPL", "GOLDEN_CROSS", "2024-03-01T15:23:00Z", Decimal(61), Decimal(37), Decimal(31)))

    # WHEN it publishes
    with pytest.raises(InjectedCrash) as crash:
        try:
            publisher.publish(alert)
        except Exception:  # noqa: BLE001 - what a per-record handler does; the crash must pass through it
            pytest.fail("an injected crash must not be an Exception")

    # THEN the alert went out before the crash, as when a function dies after SNS answered
    assert inner.published == [alert]
    assert "before clearing it" in str(crash.value)
