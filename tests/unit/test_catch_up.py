from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stock_pipeline.catch_up import MAX_ATTEMPTS, StreamImages, TrendCatchUp
from stock_pipeline.lateness import Arrival, LateWatch
from stock_pipeline.ports import StaleState, StoredTrendState
from stock_pipeline.trend import DEATH_CROSS, GOLDEN_CROSS, PricePoint, TrendState, advance

from .fakes import (
    InfrastructureDown,
    InMemoryAlertLog,
    InMemoryTickStore,
    InMemoryTrendStateStore,
    RecordingPublisher,
)
from .reference import reference_crosses
from .support import minute

# Falls to 21, then jumps: a golden cross at minute 23.
GOLDEN_AT_23 = [40 - i for i in range(20)] + [21, 21, 60, 61]
# Rises to 20, then falls: a death cross at minute 22; then recovers: a golden cross at minute 27.
DEATH_AT_22_GOLDEN_AT_27 = list(range(1, 21)) + [1] * 6 + [50, 50, 50]


@dataclass
class World:
    ticks: InMemoryTickStore = field(default_factory=InMemoryTickStore)
    states: InMemoryTrendStateStore = field(default_factory=InMemoryTrendStateStore)
    publisher: RecordingPublisher = field(default_factory=RecordingPublisher)
    alert_log: InMemoryAlertLog = field(default_factory=InMemoryAlertLog)
    counts: Counter[str] = field(default_factory=Counter)
    # The functions' clock, epoch seconds: tests move it on.
    now: float = 1_709_306_000.0

    def add_ticks(self, prices: Sequence[int | str | Decimal], start: int = 0, symbol: str = "AAPL") -> None:
        for i, price in enumerate(prices):
            self.ticks.put({"symbol": symbol, "timestamp": minute(start + i), "price": Decimal(price)})

    def catch_up(self, chunk_size: int = 500) -> TrendCatchUp:
        def count(name: str, value: int) -> None:
            self.counts[name] += value

        return TrendCatchUp(
            ticks=self.ticks,
            states=self.states,
            publisher=self.publisher,
            alert_log=self.alert_log,
            short_window=5,
            long_window=20,
            logger=logging.getLogger("tickstack.test.catch_up"),
            count=count,
            chunk_size=chunk_size,
            clock=lambda: self.now,
            stalled_after=900,
        )

    def alerts(self) -> list[tuple[str, str]]:
        return [(a.attributes["timestamp"], a.attributes["signal"]) for a in self.publisher.published]

    def images(self, start: int, end: int, symbol: str = "AAPL", written_by: int | None = None) -> StreamImages:
        """What the stream records of minutes start..end-1 carry, as the table holds them."""
        points = [PricePoint(minute(i), self.ticks.items[(symbol, minute(i))]["price"]) for i in range(start, end)]
        return StreamImages(tuple(points), int(self.now) if written_by is None else written_by)


@pytest.fixture
def world() -> World:
    return World()


def test_a_cross_is_committed_then_published_and_cleared(world: World) -> None:
    # GIVEN a symbol whose ticks hold a golden cross and that was never analysed
    world.add_ticks(GOLDEN_AT_23)

    # WHEN it is caught up
    report = world.catch_up().run("AAPL")

    # THEN the cross is published once and nothing stays pending
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)]
    assert world.publisher.published[0].subject == "AAPL Golden Cross: uptrend"
    state = world.states.get("AAPL")
    assert state is not None
    assert state.pending == ()
    assert state.trend.last_timestamp == minute(23) and state.trend.last_sign == 1
    assert state.version == 2  # one write to commit the cross, one to clear it
    assert (report.started_after, report.last_timestamp, report.analysed) == (None, minute(23), 24)
    assert world.counts == {"CrossesDetected": 1, "AlertsPublished": 1}


def test_running_again_without_new_ticks_reads_from_the_last_tick_and_writes_nothing(world: World) -> None:
    world.add_ticks(GOLDEN_AT_23)
    world.catch_up().run("AAPL")
    saves = world.states.saves

    report = world.catch_up().run("AAPL")

    assert world.ticks.queries[-1] == ("AAPL", minute(23), 500)
    assert world.states.saves == saves
    assert report.analysed == 0 and report.started_after == minute(23)
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)]


def test_ticks_arriving_in_several_batches_alert_each_cross_once(world: World) -> None:
    # GIVEN the ticks arrive in three batches, and every batch wakes the analysis twice (redelivery)
    for start, end in ((0, 10), (10, 23), (23, len(DEATH_AT_22_GOLDEN_AT_27))):
        world.add_ticks(DEATH_AT_22_GOLDEN_AT_27[start:end], start=start)
        world.catch_up().run("AAPL")
        world.catch_up().run("AAPL")

    # THEN each cross is alerted exactly once, in order
    assert world.alerts() == [(minute(22), DEATH_CROSS), (minute(27), GOLDEN_CROSS)]


def test_ticks_whose_records_carry_their_images_are_analysed_without_reading_the_table(world: World) -> None:
    # GIVEN the first batch was read from the table (no state yet)
    world.add_ticks(DEATH_AT_22_GOLDEN_AT_27[:10])
    world.catch_up().run("AAPL", images=world.images(0, 10))
    assert world.ticks.queries == [("AAPL", None, 500)]

    # WHEN the next batches' records carry their ticks, one batch delivered twice
    for start, end in ((10, 23), (23, len(DEATH_AT_22_GOLDEN_AT_27)), (23, len(DEATH_AT_22_GOLDEN_AT_27))):
        world.add_ticks(DEATH_AT_22_GOLDEN_AT_27[start:end], start=start)
        report = world.catch_up().run("AAPL", images=world.images(start, end))
        assert not report.read_table

    # THEN the table was not read again, and each cross was alerted once
    assert world.ticks.queries == [("AAPL", None, 500)]
    assert world.alerts() == [(minute(22), DEATH_CROSS), (minute(27), GOLDEN_CROSS)]
    assert world.states.get("AAPL").trend.last_timestamp == minute(len(DEATH_AT_22_GOLDEN_AT_27) - 1)


def test_images_out_of_order_or_repeated_are_analysed_once_in_timestamp_order(world: World) -> None:
    world.add_ticks(GOLDEN_AT_23[:5])
    world.catch_up().run("AAPL")
    world.add_ticks(GOLDEN_AT_23[5:], start=5)
    points = list(world.images(5, len(GOLDEN_AT_23)).points)

    report = world.catch_up().run("AAPL", images=StreamImages(tuple(reversed(points + points[:3]))))

    assert report.analysed == len(GOLDEN_AT_23) - 5
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)]


def test_a_symbol_without_state_is_read_from_the_table_whatever_its_records_carry(world: World) -> None:
    # GIVEN ticks stored before the trend state held anything of the symbol
    world.add_ticks(GOLDEN_AT_23)

    # WHEN a batch naming only the last two wakes it
    report = world.catch_up().run("AAPL", images=world.images(22, 24))

    # THEN the table is read, and the cross its whole history makes is found
    assert report.read_table and world.ticks.queries == [("AAPL", None, 500)]
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)]


def test_long_batches_of_images_are_analysed_in_chunks_each_saved(world: World) -> None:
    world.add_ticks(GOLDEN_AT_23[:1])
    world.catch_up(chunk_size=5).run("AAPL")
    world.add_ticks(GOLDEN_AT_23[1:], start=1)
    saves = world.states.saves

    world.catch_up(chunk_size=5).run("AAPL", images=world.images(1, len(GOLDEN_AT_23)))

    # 23 new ticks in chunks of 5: 5 saves, one more to clear the alert; no table read past the first
    assert world.states.saves - saves == 6 and len(world.ticks.queries) == 1
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)]


def test_a_tick_written_after_the_batch_that_passed_it_is_counted_late(world: World) -> None:
    # GIVEN minutes 0..25 analysed, the last batch from its images, its newest record written at W
    world.add_ticks(DEATH_AT_22_GOLDEN_AT_27[:20])
    world.catch_up().run("AAPL")
    world.add_ticks(DEATH_AT_22_GOLDEN_AT_27[20:26], start=20)
    written_by = int(world.now) - 3
    world.catch_up().run("AAPL", images=world.images(20, 26, written_by=written_by))
    assert world.states.get("AAPL").watch.read_at == written_by

    # WHEN a tick for minute 10.5 is written a second after W, in the next batch
    world.ticks.put({"symbol": "AAPL", "timestamp": "2024-03-01T15:10:30Z", "price": Decimal(1000)})
    late = Arrival("2024-03-01T15:10:30Z", written_at=written_by + 1, sequence=41)
    images = StreamImages((PricePoint("2024-03-01T15:10:30Z", Decimal(1000)),), written_by + 1)
    report = world.catch_up().run("AAPL", [late], images)

    # THEN it is late: counted, and left out
    assert [t.timestamp for t in report.late] == ["2024-03-01T15:10:30Z"] and report.analysed == 0
    assert world.counts["LateTicks"] == 1


def test_states_read_ahead_for_a_batch_spare_each_symbol_its_own_read(world: World) -> None:
    world.add_ticks(GOLDEN_AT_23[:10])
    world.add_ticks(GOLDEN_AT_23[:10], symbol="MSFT")
    for symbol in ("AAPL", "MSFT"):
        world.catch_up().run(symbol)
    world.add_ticks(GOLDEN_AT_23[10:], start=10)
    world.states.gets.clear()

    catch_up = world.catch_up()
    catch_up.prefetch(["AAPL", "MSFT"])
    catch_up.run("AAPL", images=world.images(10, len(GOLDEN_AT_23)))
    catch_up.run("MSFT", images=StreamImages(()))

    assert world.states.many_gets == [("AAPL", "MSFT")] and world.states.gets == []
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)]


def test_a_state_read_ahead_that_another_writer_moved_on_is_read_again(world: World) -> None:
    # GIVEN AAPL's state read ahead at minute 9, then moved to minute 23 (and its cross alerted) by another run
    world.add_ticks(GOLDEN_AT_23[:10])
    world.catch_up().run("AAPL")
    catch_up = world.catch_up()
    catch_up.prefetch(["AAPL"])
    world.add_ticks(GOLDEN_AT_23[10:], start=10)
    world.catch_up().run("AAPL", images=world.images(10, len(GOLDEN_AT_23)))

    # WHEN the batch that read it ahead runs with the same ticks
    report = catch_up.run("AAPL", images=world.images(10, len(GOLDEN_AT_23)))

    # THEN its write loses, it reads the state again, and nothing is analysed or alerted twice
    assert report.lost_races == 1 and report.analysed == 0
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)]


def test_a_symbol_the_read_ahead_missed_reads_its_own_state(world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.add_ticks(GOLDEN_AT_23)
    world.states.unanswered = {"AAPL"}
    catch_up = world.catch_up()
    catch_up.prefetch(["AAPL"])
    catch_up.run("AAPL")
    assert world.states.many_gets == [("AAPL",)] and world.states.gets == ["AAPL"]

    # ... and so does every symbol when the read ahead fails
    def down(symbols: Sequence[str]) -> dict:
        raise InfrastructureDown("BatchGetItem failed")

    world.states.get_many = down  # type: ignore[method-assign]
    catch_up = world.catch_up()
    with caplog.at_level(logging.WARNING, logger="tickstack.test.catch_up"):
        catch_up.prefetch(["AAPL"])
    catch_up.run("AAPL")
    assert world.states.gets == ["AAPL", "AAPL"]
    assert "trend states not read ahead" in caplog.text
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)]


def test_a_late_tick_older_than_the_analysed_ones_is_left_out(world: World) -> None:
    # GIVEN minutes 0..25 were analysed
    world.add_ticks(DEATH_AT_22_GOLDEN_AT_27[:26])
    world.catch_up().run("AAPL")
    before = world.states.get("AAPL")

    # WHEN a tick for minute 10.5 turns up in the table afterwards
    world.ticks.put({"symbol": "AAPL", "timestamp": "2024-03-01T15:10:30Z", "price": Decimal(1000)})
    report = world.catch_up().run("AAPL")

    # THEN it does not rewrite the analysis
    assert report.analysed == 0 and report.started_after == minute(25)
    assert world.states.get("AAPL") == before


def test_a_row_without_a_price_is_logged_and_passed_over(world: World, caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN someone wrote a row by hand without a price, in the middle of the series
    world.add_ticks(GOLDEN_AT_23)
    world.ticks.put({"symbol": "AAPL", "timestamp": "2024-03-01T15:10:30Z", "price": "n/a"})

    with caplog.at_level(logging.INFO, logger="tickstack.test.catch_up"):
        report = world.catch_up().run("AAPL")

    # THEN the analysis neither stops nor counts it, and says why
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)]
    assert report.analysed == len(GOLDEN_AT_23)
    (skipped,) = [r for r in caplog.records if r.getMessage() == "point skipped"]
    assert (skipped.tick_timestamp, skipped.reason) == ("2024-03-01T15:10:30Z", "no numeric price")


def test_a_failed_publish_leaves_the_alert_pending_and_the_next_run_sends_it_once(world: World) -> None:
    # GIVEN SNS fails the first publish
    world.add_ticks(GOLDEN_AT_23)
    world.publisher.fail_calls = {1}

    # WHEN the catch-up runs, fails, and is retried (twice, as a redelivery would)
    with pytest.raises(InfrastructureDown):
        world.catch_up().run("AAPL")
    pending = world.states.get("AAPL")
    world.catch_up().run("AAPL")
    world.catch_up().run("AAPL")

    # THEN the analysis had been committed with the alert pending, and it went out exactly once
    assert pending is not None
    assert [(c.timestamp, c.signal) for c in pending.pending] == [(minute(23), GOLDEN_CROSS)]
    assert pending.trend.last_timestamp == minute(23)
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)]
    assert world.states.get("AAPL").pending == ()
    assert world.counts == {"CrossesDetected": 1, "AlertsPublished": 1}


def test_alerts_are_cleared_one_by_one_so_a_failure_resends_only_the_unsent(world: World) -> None:
    # GIVEN one catch-up finds two crosses and the second publish fails
    world.add_ticks(DEATH_AT_22_GOLDEN_AT_27)
    world.publisher.fail_calls = {2}

    with pytest.raises(InfrastructureDown):
        world.catch_up().run("AAPL")
    left = world.states.get("AAPL").pending
    world.catch_up().run("AAPL")

    # THEN the first was cleared after it went out, and the retry sent only the second
    assert [(c.timestamp, c.signal) for c in left] == [(minute(27), GOLDEN_CROSS)]
    assert world.alerts() == [(minute(22), DEATH_CROSS), (minute(27), GOLDEN_CROSS)]


GOLDEN_23_ID = f"AAPL-{minute(23)}-GOLDEN_CROSS"


def test_an_alert_is_recorded_after_sns_accepted_it_and_before_it_leaves_the_outbox(world: World) -> None:
    # GIVEN a symbol whose ticks hold a golden cross
    world.add_ticks(GOLDEN_AT_23)
    seen: dict[str, object] = {}

    def at_record() -> None:
        # SNS has the alert, the outbox still holds it; the next save is the clearing write
        seen["published"] = world.alerts()
        seen["pending"] = [c.alert_id for c in world.states.get("AAPL").pending]
        world.states.before_next_save = lambda: seen.update(logged_at_clear=world.alert_log.counts())

    world.alert_log.before_next_record = at_record

    # WHEN it is caught up
    world.catch_up().run("AAPL")

    # THEN the order was publish, record, clear
    assert seen == {
        "published": [(minute(23), GOLDEN_CROSS)],
        "pending": [GOLDEN_23_ID],
        "logged_at_clear": {GOLDEN_23_ID: 1},
    }
    assert world.states.get("AAPL").pending == ()
    # ... and the record holds the alert as published, with the time of the clock and one publish
    alert = world.publisher.published[0]
    assert world.alert_log.items[GOLDEN_23_ID] == {
        **alert.attributes,
        "subject": alert.subject,
        "message": alert.message,
        "published_at": "2024-03-01T15:13:20.000Z",
        "publish_count": 1,
    }


def test_a_crash_between_publish_and_clear_republishes_and_counts_two(world: World) -> None:
    # GIVEN the run dies after SNS accepted the alert and the table recorded it, before the clearing write
    world.add_ticks(GOLDEN_AT_23)

    def die_at_the_clear() -> None:
        def die() -> None:
            raise InfrastructureDown("the function died before clearing the alert")

        world.states.before_next_save = die

    world.alert_log.before_next_record = die_at_the_clear
    with pytest.raises(InfrastructureDown):
        world.catch_up().run("AAPL")
    assert [c.alert_id for c in world.states.get("AAPL").pending] == [GOLDEN_23_ID]
    first_published_at = world.alert_log.items[GOLDEN_23_ID]["published_at"]

    # WHEN the next run comes, later
    world.now += 60
    world.catch_up().run("AAPL")
    world.catch_up().run("AAPL")

    # THEN SNS got the alert once more, the table counts two publishes of one alert_id, and the outbox is empty
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)] * 2
    assert world.alert_log.counts() == {GOLDEN_23_ID: 2}
    assert world.alert_log.items[GOLDEN_23_ID]["published_at"] == first_published_at
    assert world.states.get("AAPL").pending == ()


def test_an_alert_the_table_could_not_record_stays_pending_and_goes_out_again(world: World) -> None:
    # GIVEN the alerts table fails the first write
    world.add_ticks(GOLDEN_AT_23)
    world.alert_log.fail_calls = {1}

    # WHEN the run fails and is retried
    with pytest.raises(InfrastructureDown):
        world.catch_up().run("AAPL")
    left = world.states.get("AAPL").pending
    world.catch_up().run("AAPL")

    # THEN the alert was not cleared unrecorded: it went out again, and the table holds it (one recorded publish)
    assert [c.alert_id for c in left] == [GOLDEN_23_ID]
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)] * 2
    assert world.alert_log.counts() == {GOLDEN_23_ID: 1}
    assert world.states.get("AAPL").pending == ()


def test_every_published_alert_is_in_the_table_once_with_its_count(world: World) -> None:
    # GIVEN two crosses, the second publish failing once
    world.add_ticks(DEATH_AT_22_GOLDEN_AT_27)
    world.publisher.fail_calls = {2}

    with pytest.raises(InfrastructureDown):
        world.catch_up().run("AAPL")
    world.catch_up().run("AAPL")

    # THEN each alert SNS accepted is recorded once; a publish SNS refused is not counted
    assert world.alert_log.counts() == {f"AAPL-{minute(22)}-DEATH_CROSS": 1, f"AAPL-{minute(27)}-GOLDEN_CROSS": 1}


def test_losing_the_commit_race_rereads_and_does_not_alert_twice(world: World) -> None:
    # GIVEN another invocation catches the same symbol up between our read and our write
    world.add_ticks(GOLDEN_AT_23)
    ours, theirs = world.catch_up(), world.catch_up()
    world.states.before_next_save = lambda: theirs.run("AAPL")

    # WHEN we run
    report = ours.run("AAPL")

    # THEN our write loses, we re-read their state, and the cross was alerted once (by them)
    assert report.lost_races == 1
    assert report.published == [] and report.analysed == 0
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)]
    assert world.states.get("AAPL").trend.last_timestamp == minute(23)


def test_losing_the_clear_race_does_not_publish_our_alert_again(world: World) -> None:
    # GIVEN our alert is published and, before we clear it, another writer moves the version on
    world.add_ticks(GOLDEN_AT_23)
    catch_up = world.catch_up()

    def publish_then_lose_the_clear() -> None:
        # The first save (the commit) passes; arm the interference for the second (the clear).
        def bump() -> None:
            current = world.states.states["AAPL"]
            world.states.states["AAPL"] = replace(current, version=current.version + 1)

        world.states.before_next_save = bump

    world.states.before_next_save = publish_then_lose_the_clear
    report = catch_up.run("AAPL")

    # THEN on the re-read the alert is still pending, but it is cleared without a second publish
    assert report.lost_races == 1
    assert world.alerts() == [(minute(23), GOLDEN_CROSS)]
    assert world.states.get("AAPL").pending == ()
    assert world.alert_log.counts() == {GOLDEN_23_ID: 1}


def test_retries_after_lost_races_are_bounded(world: World) -> None:
    # GIVEN every write we attempt loses to someone else
    world.add_ticks(GOLDEN_AT_23)

    def always_lose() -> None:
        current = world.states.states.get("AAPL") or StoredTrendState()
        world.states.states["AAPL"] = replace(current, version=current.version + 1)
        world.states.before_next_save = always_lose

    world.states.before_next_save = always_lose

    # THEN the catch-up gives up after a fixed number of attempts, leaving the stream to retry
    with pytest.raises(StaleState, match=f"after {MAX_ATTEMPTS}"):
        world.catch_up().run("AAPL")
    assert world.alerts() == []


def test_an_unreadable_table_fails_without_touching_the_state(world: World) -> None:
    world.add_ticks(GOLDEN_AT_23)
    world.ticks.fail_for_symbols = {"AAPL"}

    with pytest.raises(InfrastructureDown):
        world.catch_up().run("AAPL")

    assert world.states.get("AAPL") is None and world.alerts() == []


def test_long_backlogs_are_analysed_in_chunks_each_saved(world: World) -> None:
    world.add_ticks(DEATH_AT_22_GOLDEN_AT_27)

    report = world.catch_up(chunk_size=7).run("AAPL")

    assert [after for _, after, _ in world.ticks.queries] == [None, minute(6), minute(13), minute(20), minute(27)]
    assert report.analysed == len(DEATH_AT_22_GOLDEN_AT_27)
    assert world.alerts() == [(minute(22), DEATH_CROSS), (minute(27), GOLDEN_CROSS)]


def test_sma_values_of_each_new_point_are_logged_at_debug(world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.add_ticks(GOLDEN_AT_23)

    with caplog.at_level(logging.DEBUG, logger="tickstack.test.catch_up"):
        world.catch_up().run("AAPL")

    analysed = [r for r in caplog.records if r.getMessage() == "point analysed"]
    assert len(analysed) == 24
    last = analysed[-1]
    assert (last.tick_timestamp, last.sma_short, last.sma_long) == (minute(23), "36.8000", "30.9500")
    assert analysed[0].sma_short is None
    decisions = [r for r in caplog.records if r.levelno == logging.INFO]
    assert [r.getMessage() for r in decisions] == ["cross detected", "alert published"]


# --- late ticks and stalled symbols ------------------------------------------------------------


def late_tick_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int]]:
    return [(r.tick_timestamp, r.lag_seconds) for r in caplog.records if r.getMessage() == "late tick"]


def test_the_read_that_moves_the_watermark_is_recorded_rounded_up(world: World) -> None:
    world.add_ticks(GOLDEN_AT_23)
    world.now = 1_709_306_000.4

    world.catch_up().run("AAPL")

    assert world.states.get("AAPL").watch == LateWatch(read_at=1_709_306_001)
    # A run that reads nothing new leaves it: no read since looked below the watermark
    world.now += 600
    world.catch_up().run("AAPL")
    assert world.states.get("AAPL").watch.read_at == 1_709_306_001


def test_a_tick_written_after_the_read_that_passed_it_is_counted_late_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN minutes 0..25 analysed by a read that returned at T
    world.add_ticks(DEATH_AT_22_GOLDEN_AT_27[:26])
    world.catch_up().run("AAPL")
    read_at = world.states.get("AAPL").watch.read_at
    before = world.states.get("AAPL")

    # WHEN a tick for minute 10.5 is written 30 s later and its stream record wakes the analysis
    world.now += 30
    world.ticks.put({"symbol": "AAPL", "timestamp": "2024-03-01T15:10:30Z", "price": Decimal(1000)})
    arrival = Arrival("2024-03-01T15:10:30Z", written_at=int(world.now), sequence=41)
    with caplog.at_level(logging.INFO, logger="tickstack.test.catch_up"):
        report = world.catch_up().run("AAPL", [arrival])

    # THEN it is left out of the analysis, counted once in the state and the metric, and logged with its lag
    state = world.states.get("AAPL")
    assert state.trend == before.trend and report.analysed == 0
    assert state.watch == LateWatch(read_at=read_at, late_ticks=1, last_late_at=int(world.now), late_sequence=41)
    assert [t.timestamp for t in report.late] == ["2024-03-01T15:10:30Z"]
    assert late_tick_lines(caplog) == [("2024-03-01T15:10:30Z", 870)]  # 15:25:00 - 15:10:30
    assert world.counts["LateTicks"] == 1

    # WHEN the same record is delivered again
    caplog.clear()
    world.now += 5
    report = world.catch_up().run("AAPL", [arrival])

    # THEN it is not counted or logged again
    assert world.states.get("AAPL").watch.late_ticks == 1 and world.counts["LateTicks"] == 1
    assert late_tick_lines(caplog) == [] and report.late == [] and report.late_counted_before != []


def test_a_tick_an_earlier_catch_up_read_before_its_record_came_is_not_late(world: World) -> None:
    # GIVEN ticks written before the read that analysed them (their records come after it)
    world.add_ticks(GOLDEN_AT_23)
    written = int(world.now) - 1
    world.catch_up().run("AAPL")

    # WHEN their records arrive
    world.now += 2
    arrivals = [Arrival(minute(i), written_at=written, sequence=i) for i in range(len(GOLDEN_AT_23))]
    report = world.catch_up().run("AAPL", arrivals)

    # THEN none is late
    assert report.late == [] and world.states.get("AAPL").watch.late_ticks == 0
    assert "LateTicks" not in world.counts


def test_a_record_without_a_creation_time_is_not_late(world: World) -> None:
    world.add_ticks(GOLDEN_AT_23)
    world.catch_up().run("AAPL")
    world.now += 60

    report = world.catch_up().run("AAPL", [Arrival(minute(3), written_at=None, sequence=99)])

    assert report.late == [] and world.counts["LateTicks"] == 0


def test_late_ticks_of_a_symbol_whose_watermark_stands_still_make_it_stalled(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a symbol analysed up to minute 23 at T (a tick of the future within the tolerance, say)
    world.add_ticks(GOLDEN_AT_23)
    world.catch_up().run("AAPL")
    start = world.now

    # WHEN older ticks keep arriving for 20 minutes, one a minute
    stalled = []
    with caplog.at_level(logging.INFO, logger="tickstack.test.catch_up"):
        for i in range(20):
            world.now = start + 60 * (i + 1)
            timestamp = f"2024-03-01T15:22:{i:02d}Z"
            world.ticks.put({"symbol": "AAPL", "timestamp": timestamp, "price": Decimal(5)})
            report = world.catch_up().run("AAPL", [Arrival(timestamp, int(world.now), 100 + i)])
            stalled.append(report.stalled)

    # THEN each is counted, and once nothing has been analysed for more than 900 s the symbol is stalled
    assert world.states.get("AAPL").watch.late_ticks == 20 and world.counts["LateTicks"] == 20
    assert stalled == [False] * 15 + [True] * 5
    assert world.counts["StalledSymbols"] == 5
    (first, *_) = [r for r in caplog.records if r.getMessage() == "symbol stalled"]
    assert (first.symbol, first.watermark, first.late_ticks) == ("AAPL", minute(23), 16)

    # WHEN a new tick moves the watermark again
    world.now += 60
    world.add_ticks([50], start=24)
    report = world.catch_up().run("AAPL", [Arrival(minute(24), int(world.now), 200)])

    # THEN it is no longer stalled
    assert not report.stalled and world.counts["StalledSymbols"] == 5


def test_late_ticks_counted_before_a_lost_race_are_not_counted_twice(world: World) -> None:
    world.add_ticks(GOLDEN_AT_23)
    world.catch_up().run("AAPL")
    world.now += 30
    world.ticks.put({"symbol": "AAPL", "timestamp": "2024-03-01T15:10:30Z", "price": Decimal(7)})
    world.add_ticks([50], start=24)
    arrivals = [Arrival("2024-03-01T15:10:30Z", int(world.now), 41), Arrival(minute(24), int(world.now), 42)]
    catch_up = world.catch_up()

    # GIVEN another writer slips in after our late count was saved, before our analysis is committed
    def after_the_count() -> None:
        def bump() -> None:
            current = world.states.states["AAPL"]
            world.states.states["AAPL"] = replace(current, version=current.version + 1)

        world.states.before_next_save = bump

    world.states.before_next_save = after_the_count
    report = catch_up.run("AAPL", arrivals)

    # THEN the re-read state already holds our count: one late tick, once
    assert report.lost_races == 1
    assert world.states.get("AAPL").watch.late_ticks == 1 and world.counts["LateTicks"] == 1
    assert [t.timestamp for t in report.late] == ["2024-03-01T15:10:30Z"] and report.late_counted_before == []
    assert world.states.get("AAPL").trend.last_timestamp == minute(24)


# --- property: whatever the batching, redelivery, failures and chunking, one alert per cross ----


@settings(max_examples=150, deadline=None)
@given(
    prices=st.lists(st.integers(min_value=1, max_value=6).map(Decimal), min_size=1, max_size=90),
    data=st.data(),
)
def test_catch_up_alerts_exactly_the_crosses_of_one_pass(prices: list[Decimal], data: st.DataObject) -> None:
    # GIVEN a random series written to the table in random batches, whose records carry their ticks
    # or not, a random chunk size, and publishes that fail at random
    world = World()
    from_images = data.draw(st.booleans())
    cuts = sorted(data.draw(st.sets(st.integers(min_value=0, max_value=len(prices)), max_size=10)))
    world.publisher.fail_calls = data.draw(st.sets(st.integers(min_value=1, max_value=12), max_size=4))
    catch_up = world.catch_up(chunk_size=data.draw(st.integers(min_value=1, max_value=30)))

    # WHEN each batch wakes the analysis, once or twice, and a failed run is retried as the stream would
    for start, end in zip([0, *cuts], [*cuts, len(prices)]):
        world.add_ticks(prices[start:end], start=start)
        for _ in range(data.draw(st.integers(min_value=1, max_value=2))):
            for _attempt in range(20):
                try:
                    catch_up.run("AAPL", images=world.images(start, end) if from_images else None)
                    break
                except InfrastructureDown:
                    continue

    # THEN the published alerts are exactly the crosses of one pass over the whole series, in order
    assert world.alerts() == [(minute(i), signal) for i, signal in reference_crosses(prices)]
    # ... and the alerts table holds each of them, each published once
    assert world.alert_log.counts() == {f"AAPL-{minute(i)}-{signal}": 1 for i, signal in reference_crosses(prices)}
    # ... and the analysis stands where one pass over every tick leaves it
    one_pass = advance("AAPL", TrendState(), [PricePoint(minute(i), p) for i, p in enumerate(prices)], 5, 20).state
    assert (world.states.get("AAPL") or StoredTrendState()).trend == one_pass
