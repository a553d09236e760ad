"""Batching and spooling in front of Kinesis (producer.spool, producer.batching), with a fake client: no network."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from producer.batching import TickBatcher
from producer.kinesis import KinesisSink
from producer.spool import Spool, SpoolingSink


class FakeKinesis:
    """put_records as Kinesis answers it. ``down`` raises as botocore does with no endpoint; ``throttle_from``
    refuses every record from that position on (one call); ``error`` raises a ClientError."""

    def __init__(self, script=()):
        self.script = list(script)  # one entry per call: "ok", "down", "error", or ("throttle_from", i)
        self.stream: list[dict] = []
        self.calls = 0

    def put_records(self, StreamName, Records):
        self.calls += 1
        step = self.script.pop(0) if self.script else "ok"
        if step == "down":
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")
        if step == "error":
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no stream"}}, "PutRecords")
        refuse_from = step[1] if isinstance(step, tuple) else len(Records)
        results = []
        for i, record in enumerate(Records):
            if i >= refuse_from:
                results.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"})
            else:
                self.stream.append(json.loads(record["Data"]))
                results.append({"ShardId": "shardId-000000000000", "SequenceNumber": str(len(self.stream))})
        return {"FailedRecordCount": len(Records) - min(refuse_from, len(Records)), "Records": results}


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def ticks(first, last):
    return [{"symbol": "AAPL", "timestamp": f"2026-11-25T14:{i // 60:02d}:{i % 60:02d}Z", "lastPrice": 100.0 + i}
            for i in range(first, last)]


def sink_for(kinesis, spool_path, clock=None, **options):
    options.setdefault("hold", 5.0)
    return SpoolingSink(KinesisSink(kinesis, "ticks", max_attempts=2, sleep=lambda s: None), spool_path,
                        clock=clock or FakeClock(), sleep=lambda s: None, rng=lambda: 0.5, **options)


def test_a_failing_stream_spools_then_the_next_start_sends_the_spool_first_in_order(tmp_path):
    spool_path = tmp_path / "spool.jsonl"

    # GIVEN a stream that is gone for every try of this run
    down = FakeKinesis(["down"] * 3)
    first_run = sink_for(down, spool_path, attempts=3)
    # WHEN ticks are sent
    delivery = first_run.send(ticks(0, 3))
    # THEN after three tries they are spooled, and the spool says how many it holds
    assert (delivery.sent, delivery.spooled, delivery.spool_size) == (0, 3, 3)
    assert down.calls == 3 and first_run.spooled == 3
    assert [json.loads(line)["lastPrice"] for line in spool_path.read_text().splitlines()] == [100.0, 101.0, 102.0]

    # GIVEN the stream is back on the next start
    up = FakeKinesis()
    with sink_for(up, spool_path) as second_run:
        # WHEN the run starts (the spool is resent on entering) and sends new ticks
        second_run.send(ticks(3, 5))
    # THEN the spooled ticks landed first, in order, then the new ones, and the spool is gone
    assert [t["lastPrice"] for t in up.stream] == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert second_run.totals.sent == 5 and second_run.spooled == 0 and not spool_path.exists()


def test_a_retry_that_succeeds_spools_nothing(tmp_path):
    kinesis = FakeKinesis(["down", "error"])
    sink = sink_for(kinesis, tmp_path / "spool.jsonl", attempts=3)
    delivery = sink.send(ticks(0, 2))
    assert (delivery.sent, delivery.spooled) == (2, 0)
    assert [t["lastPrice"] for t in kinesis.stream] == [100.0, 101.0]


def test_only_the_records_that_did_not_land_are_spooled(tmp_path):
    spool_path = tmp_path / "spool.jsonl"
    # the first two land, the rest are throttled on every try
    kinesis = FakeKinesis([("throttle_from", 2)] + [("throttle_from", 0)] * 10)
    sink = sink_for(kinesis, spool_path, attempts=2)

    delivery = sink.send(ticks(0, 5))

    assert (delivery.sent, delivery.spooled) == (2, 3)
    assert [t["lastPrice"] for t in kinesis.stream] == [100.0, 101.0]
    assert [t["lastPrice"] for t in map(json.loads, spool_path.read_text().splitlines())] == [102.0, 103.0, 104.0]


def test_while_the_spool_holds_ticks_new_ones_queue_behind_it_and_all_go_in_order_when_the_stream_is_back(
        tmp_path):
    clock = FakeClock()
    kinesis = FakeKinesis(["down"] * 2)
    sink = sink_for(kinesis, tmp_path / "spool.jsonl", clock=clock, attempts=2, hold=5.0)
    sink.send(ticks(0, 2))
    assert kinesis.calls == 2

    # WHEN more ticks come during the hold: THEN they are spooled without knocking on the stream
    delivery = sink.send(ticks(2, 4))
    assert (delivery.spooled, delivery.spool_size, kinesis.calls) == (2, 4, 2)

    # WHEN the hold is over and the stream is back
    clock.now += 60
    delivery = sink.send(ticks(4, 5))
    # THEN the spool goes first, then the new tick
    assert (delivery.sent, delivery.spool_size) == (5, 0)
    assert [t["lastPrice"] for t in kinesis.stream] == [100.0, 101.0, 102.0, 103.0, 104.0]


def test_poll_resends_the_spool_once_the_hold_is_over_even_with_no_new_ticks(tmp_path):
    clock = FakeClock()
    kinesis = FakeKinesis(["down"])
    sink = sink_for(kinesis, tmp_path / "spool.jsonl", clock=clock, attempts=1)
    sink.send(ticks(0, 2))

    assert sink.poll() is None and sink.spooled == 2  # still holding
    clock.now += 60
    delivery = sink.poll()

    assert (delivery.sent, delivery.spool_size) == (2, 0)


def test_ticks_leave_in_batches_after_200_ms_or_at_500_records(tmp_path):
    clock = FakeClock()
    kinesis = FakeKinesis()
    sink = sink_for(kinesis, tmp_path / "spool.jsonl", clock=clock)

    for t in ticks(0, 3):
        assert sink.add(t) is None
    clock.now = 1000.19
    assert sink.poll() is None and kinesis.calls == 0
    clock.now = 1000.21
    assert sink.poll().sent == 3 and kinesis.calls == 1

    deliveries = [sink.add(t) for t in ticks(0, 500)]
    assert [d.sent for d in deliveries if d] == [500] and kinesis.calls == 2

    sink.add(ticks(0, 1)[0])
    assert sink.close().sent == 1 and kinesis.calls == 3


def test_close_spools_what_is_batched_when_the_stream_is_gone(tmp_path, caplog):
    spool_path = tmp_path / "spool.jsonl"
    sink = sink_for(FakeKinesis(["down"] * 5), spool_path, attempts=2)
    sink.add(ticks(0, 1)[0])

    delivery = sink.close()

    assert (delivery.spooled, delivery.spool_size) == (1, 1)
    assert "1 ticks wait in" in caplog.text and "next start" in caplog.text


def test_a_spool_survives_a_torn_last_line_and_keeps_it_for_the_pipeline_to_quarantine(tmp_path):
    spool_path = tmp_path / "spool.jsonl"
    spool_path.write_text(json.dumps(ticks(0, 1)[0]) + "\n" + '{"symbol": "AAPL", "timest')

    spool = Spool(spool_path)

    assert len(spool) == 2
    assert [key for key, _ in spool.read()] == ["AAPL", "unknown"]


def test_the_batcher_alone():
    batcher = TickBatcher(max_records=2, max_delay=0.2)
    assert batcher.add({"n": 1}, now=0.0) == []
    assert batcher.due(0.1) == []
    assert batcher.add({"n": 2}, now=0.1) == [{"n": 1}, {"n": 2}]
    assert len(batcher) == 0 and batcher.due(10.0) == []
    with pytest.raises(ValueError):
        TickBatcher(max_records=0)
