"""Late ticks and stalled symbols: the pure rules (see stock_pipeline/lateness.py)."""

from __future__ import annotations

import pytest

from stock_pipeline.lateness import (
    Arrival,
    LateWatch,
    advanced,
    counted,
    epoch_seconds,
    is_stalled,
    lag_seconds,
    late_candidates,
    not_counted,
)

WATERMARK = "2024-03-01T15:30:00Z"
READ_AT = 1_709_307_000


def test_a_tick_below_the_watermark_written_after_the_read_that_passed_it_is_late() -> None:
    arrivals = [
        Arrival("2024-03-01T15:10:00Z", written_at=READ_AT + 5, sequence=7),  # late
        Arrival("2024-03-01T15:20:00Z", written_at=READ_AT, sequence=5),  # written before the read returned: analysed
        Arrival("2024-03-01T15:25:00Z", written_at=READ_AT - 60, sequence=3),  # analysed
        Arrival(WATERMARK, written_at=READ_AT + 5, sequence=8),  # the watermark itself rewritten: not older
        Arrival("2024-03-01T15:31:00Z", written_at=READ_AT + 5, sequence=9),  # newer: the catch-up reads it
        Arrival("2024-03-01T15:11:00Z", written_at=None, sequence=10),  # no creation time: not late
    ]

    late = late_candidates(arrivals, WATERMARK, READ_AT)

    assert [(t.timestamp, t.lag_seconds, t.written_at, t.sequence) for t in late] == [
        ("2024-03-01T15:10:00Z", 1200, READ_AT + 5, 7)
    ]
    assert late[0].watermark == WATERMARK


@pytest.mark.parametrize(("watermark", "read_at"), [(None, READ_AT), (WATERMARK, None)])
def test_nothing_is_late_before_anything_was_analysed_or_without_a_read_time(
    watermark: str | None, read_at: int | None
) -> None:
    assert late_candidates([Arrival("2024-03-01T15:10:00Z", READ_AT + 5, 7)], watermark, read_at) == []


def test_each_stream_record_is_counted_once_even_when_redelivered() -> None:
    first = late_candidates([Arrival("2024-03-01T15:10:00Z", READ_AT + 5, 7)], WATERMARK, READ_AT)
    watch = counted(LateWatch(read_at=READ_AT), not_counted(first, LateWatch(read_at=READ_AT)), now=READ_AT + 6.5)
    assert watch == LateWatch(read_at=READ_AT, late_ticks=1, last_late_at=READ_AT + 6, late_sequence=7)

    # The same record again: not counted again
    assert not_counted(first, watch) == []
    # A later record, by its sequence number (even if written in the second of the last count) ...
    same_second = late_candidates([Arrival("2024-03-01T15:11:00Z", READ_AT + 6, 8)], WATERMARK, READ_AT)
    assert not_counted(same_second, watch) == same_second
    # ... or, where sequence numbers restarted (an emulator restored from disk), by its write time
    restarted = late_candidates([Arrival("2024-03-01T15:12:00Z", READ_AT + 60, 1)], WATERMARK, READ_AT)
    assert not_counted(restarted, watch) == restarted
    # A redelivery whose write time the stream's clock put a little after the count is still a redelivery
    skewed = late_candidates([Arrival("2024-03-01T15:10:00Z", READ_AT + 8, 7)], WATERMARK, READ_AT)
    assert not_counted(skewed, watch) == []
    # Without sequence numbers, the write time alone tells
    unnumbered = late_candidates([Arrival("2024-03-01T15:13:00Z", READ_AT + 6, None),
                                  Arrival("2024-03-01T15:14:00Z", READ_AT + 7, None)], WATERMARK, READ_AT)
    assert [t.timestamp for t in not_counted(unnumbered, watch)] == ["2024-03-01T15:14:00Z"]
    # Two copies of one record in the candidates are one
    assert len(not_counted(first + first, LateWatch(read_at=READ_AT))) == 1


def test_counting_keeps_the_highest_sequence_and_adds_up() -> None:
    ticks = late_candidates(
        [Arrival("2024-03-01T15:10:00Z", READ_AT + 5, 9), Arrival("2024-03-01T15:11:00Z", READ_AT + 5, None)],
        WATERMARK,
        READ_AT,
    )
    before = LateWatch(read_at=READ_AT, late_ticks=3, last_late_at=READ_AT + 1, late_sequence=12)
    watch = counted(before, ticks, now=1e9 + 0.9)

    assert (watch.late_ticks, watch.last_late_at, watch.late_sequence) == (5, 1_000_000_000, 12)
    assert counted(watch, [], now=2e9) is watch


def test_the_read_time_is_rounded_up_so_a_tick_written_in_that_second_is_not_called_late() -> None:
    watch = advanced(LateWatch(late_ticks=2), read_returned_at=READ_AT + 0.2)

    assert watch == LateWatch(read_at=READ_AT + 1, late_ticks=2)
    # Written at READ_AT + 0.1 (reported as READ_AT): maybe before the read returned, so not late
    assert late_candidates([Arrival("2024-03-01T15:10:00Z", READ_AT, 1)], WATERMARK, watch.read_at) == []


@pytest.mark.parametrize(
    ("watch", "now", "stalled"),
    [
        # late ticks keep arriving, nothing analysed for 1000 s > 900: stalled
        (LateWatch(read_at=1000, late_ticks=40, last_late_at=1990), 2000, True),
        # analysed 500 s ago: not yet
        (LateWatch(read_at=1500, late_ticks=40, last_late_at=1990), 2000, False),
        # the last late tick came 1000 s ago: no longer arriving
        (LateWatch(read_at=0, late_ticks=40, last_late_at=1000), 2000, False),
        # no late tick since the last advance: quiet, not stalled
        (LateWatch(read_at=1990, late_ticks=40, last_late_at=1000), 3000, False),
        (LateWatch(read_at=1000), 5000, False),
        (LateWatch(), 5000, False),
    ],
)
def test_a_symbol_is_stalled_when_nothing_advanced_for_the_threshold_while_late_ticks_arrive(
    watch: LateWatch, now: float, stalled: bool
) -> None:
    assert is_stalled(watch, now, threshold_seconds=900) is stalled


def test_times_in_the_stored_format() -> None:
    assert lag_seconds("2024-03-02T00:00:00Z", "2024-03-01T23:58:30Z") == 90
    assert epoch_seconds("1970-01-01T00:01:00Z") == 60
