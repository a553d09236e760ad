import json

import pytest

from producer.kinesis import KinesisSink, StreamRejected, tick_record


class ThrottlingKinesis:
    """Accepts records in order, refusing the first ``throttle`` records it sees at the given positions."""

    def __init__(self, fail_positions_per_call):
        self.fail_positions_per_call = list(fail_positions_per_call)
        self.stream: list[bytes] = []
        self.calls = 0

    def put_records(self, StreamName, Records):
        failing = self.fail_positions_per_call.pop(0) if self.fail_positions_per_call else set()
        self.calls += 1
        results = []
        for i, record in enumerate(Records):
            if i in failing:
                results.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"})
            else:
                self.stream.append(record["Data"])
                results.append({"ShardId": "shardId-000000000000", "SequenceNumber": str(len(self.stream))})
        return {"FailedRecordCount": len(failing), "Records": results}


def records(n):
    return [("AAPL", f"tick-{i}".encode()) for i in range(n)]


def test_all_records_land_in_order():
    kinesis = ThrottlingKinesis([])
    sent = KinesisSink(kinesis, "s").send(records(3))
    assert [s.data for s in sent] == [b"tick-0", b"tick-1", b"tick-2"]
    assert [s.sequence_number for s in sent] == ["1", "2", "3"]


def test_partial_throttle_resends_from_the_first_failure_so_order_holds():
    kinesis = ThrottlingKinesis([{1}])
    sent = KinesisSink(kinesis, "s", sleep=lambda s: None).send(records(4))
    assert [s.data for s in sent] == [b"tick-0", b"tick-1", b"tick-2", b"tick-3"]
    # tick-2 and tick-3 landed in the first call and again after tick-1: a duplicate, never a reorder.
    assert kinesis.stream == [b"tick-0", b"tick-2", b"tick-3", b"tick-1", b"tick-2", b"tick-3"]


def test_more_than_one_call_worth_is_split():
    kinesis = ThrottlingKinesis([])
    KinesisSink(kinesis, "s").send(records(1200))
    assert kinesis.calls == 3 and len(kinesis.stream) == 1200


def test_a_stream_that_keeps_refusing_gives_a_clear_error():
    kinesis = ThrottlingKinesis([{0}] * 10)
    with pytest.raises(StreamRejected, match="kept refusing records after 3 attempts"):
        KinesisSink(kinesis, "s", max_attempts=3, sleep=lambda s: None).send(records(2))


def test_a_refusal_says_which_records_landed_before_it_so_only_the_rest_is_kept():
    kinesis = ThrottlingKinesis([{2, 3}] + [{0, 1}] * 10)
    with pytest.raises(StreamRejected) as raised:
        KinesisSink(kinesis, "s", max_attempts=2, sleep=lambda s: None).send(records(4))
    assert [s.data for s in raised.value.sent] == [b"tick-0", b"tick-1"]


@pytest.mark.parametrize("rng, expected", [(0.0, [0.1, 0.2, 0.4]), (1.0, [0.2, 0.4, 0.8])])
def test_retry_delays_double_and_are_jittered_between_half_and_all_of_the_delay(rng, expected):
    delays = []
    kinesis = ThrottlingKinesis([{0}] * 10)
    with pytest.raises(StreamRejected):
        KinesisSink(kinesis, "s", max_attempts=4, backoff=0.2, sleep=delays.append, rng=lambda: rng).send(records(1))
    assert delays == pytest.approx(expected)


def test_a_tick_becomes_a_record_keyed_by_its_symbol():
    tick = {"symbol": "AAPL", "timestamp": "2026-11-25T14:30:05Z", "lastPrice": 589.53}
    key, data = tick_record(tick)
    assert key == "AAPL" and json.loads(data) == tick
