"""Requests are counted where they are made: in a Lambda worker through the generated sitecustomize,
in the bench through a hook on its client; never in the emulator's own process. No network: every
call is answered by a `before-send` handler, after botocore has built and signed the request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tickstack.bench import counting, request_hook
from tickstack.bench.counting import Call, Tally, calls_since, item_sizes, read_units, snapshot
from tickstack.errors import EmulatorError
from tickstack.settings import Settings
from tickstack.targets import ministack

# Runs in a fresh interpreter, as a Lambda worker's handler would: plain boto3 clients, no knowledge of
# the counting. Every request is answered in-process with what the operation would return.
WORKER_CODE = r'''
import json
import boto3
from botocore.awsrequest import AWSResponse

ANSWERS = {
    "PutItem": {},
    "Query": {"Items": [{"timestamp": {"S": "2013-01-02T21:00:00Z"}, "price": {"N": "12.5"}},
                        {"timestamp": {"S": "2013-01-03T21:00:00Z"}, "price": {"N": "12.75"}}],
              "Count": 2, "ScannedCount": 2},
    "GetItem": {},
    "BatchWriteItem": {"UnprocessedItems": {}},
}

class Raw:
    def __init__(self, body):
        self.body = body
    def stream(self, **_):
        yield self.body

def answer(request, **_):
    operation = request.headers.get("X-Amz-Target", b"")
    operation = operation.decode() if isinstance(operation, bytes) else operation
    body = json.dumps(ANSWERS.get(operation.rpartition(".")[2], {})).encode()
    return AWSResponse(request.url, 200, {}, Raw(body if operation else b""))

dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                        aws_access_key_id="test", aws_secret_access_key="test")
s3 = boto3.client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                  aws_access_key_id="test", aws_secret_access_key="test")
for client in (dynamodb, s3):
    client.meta.events.register("before-send", answer)

dynamodb.put_item(TableName="ticks", Item={"symbol": {"S": "AAPL"}, "timestamp": {"S": "2013-01-02T21:00:00Z"}})
dynamodb.query(TableName="ticks", KeyConditionExpression="symbol = :s",
               ExpressionAttributeValues={":s": {"S": "AAPL"}}, ConsistentRead=True)
dynamodb.get_item(TableName="state", Key={"symbol": {"S": "AAPL"}})
dynamodb.batch_write_item(RequestItems={"ticks": [{"PutRequest": {"Item": {"symbol": {"S": "A"}}}},
                                                  {"PutRequest": {"Item": {"symbol": {"S": "B"}}}}]})
s3.put_object(Bucket="archive", Key="raw-data/a.jsonl", Body=b"x" * 300)
'''


def run_as(env_extra: dict[str, str], hook_env: dict[str, str]) -> None:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "SYSTEMROOT") if name in os.environ}
    env.update(hook_env)
    env.update(env_extra)
    result = subprocess.run([sys.executable, "-c", WORKER_CODE], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def hook_env(tmp_path: Path) -> dict[str, str]:
    return counting.prepare_hook(tmp_path / "counting")


def calls_dir(hook_env: dict[str, str]) -> Path:
    return Path(hook_env[request_hook.DIR_VARIABLE])


def test_a_lambda_worker_counts_every_call_by_service_and_operation(hook_env) -> None:
    # GIVEN the generated sitecustomize on PYTHONPATH and the variables a MiniStack worker has
    # WHEN a handler-like process makes its calls with plain clients
    run_as({request_hook.FUNCTION_VARIABLE: "bench-ProcessStockData"}, hook_env)

    # THEN each call is one line in a file named after the function, with what it read and wrote
    calls = calls_since(calls_dir(hook_env), {})
    assert [c.name for c in calls] == ["dynamodb PutItem", "dynamodb Query", "dynamodb GetItem",
                                      "dynamodb BatchWriteItem", "s3 PutObject"]
    assert {c.source for c in calls} == {"bench-ProcessStockData"}
    tally = Tally.of(calls)
    assert tally.by_service() == {"dynamodb": 4, "s3": 1}
    assert (tally.s3_puts, tally.s3_put_bytes) == (1, 300)
    assert tally.ddb_items_read == 2  # the Query's two items; the GetItem found nothing
    assert tally.ddb_items_written == 3  # one PutItem, a BatchWriteItem of two
    query = calls[1]
    assert query.consistent and query.tables == ("ticks",) and query.items_scanned == 2
    assert list(counting.counting_processes(calls_dir(hook_env))) == ["bench-ProcessStockData"]


def test_the_emulators_own_process_counts_nothing(hook_env) -> None:
    # GIVEN the same PYTHONPATH and counting directory, but not a Lambda worker (MiniStack itself)
    run_as({}, hook_env)

    # THEN no count file was even created
    assert snapshot(calls_dir(hook_env)) == {}


def test_a_counted_client_in_this_process_counts_the_producers_records(tmp_path: Path) -> None:
    import boto3
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **_):
            yield json.dumps({"FailedRecordCount": 0, "Records": [
                {"ShardId": "shardId-000000000000", "SequenceNumber": "1"},
                {"ShardId": "shardId-000000000000", "SequenceNumber": "2"}]}).encode()

    kinesis = boto3.client("kinesis", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                           aws_access_key_id="test", aws_secret_access_key="test")
    kinesis.meta.events.register("before-send", lambda request, **_: AWSResponse(request.url, 200, {}, Raw()))
    request_hook.count_client(kinesis, str(tmp_path), "producer")

    kinesis.put_records(StreamName="ticks", Records=[{"PartitionKey": "AAPL", "Data": b"x" * 200},
                                                     {"PartitionKey": "MSFT", "Data": b"y" * 1100}])

    (call,) = calls_since(tmp_path, {})
    assert (call.source, call.name, call.records) == ("producer", "kinesis PutRecords", 2)
    assert call.bytes_sent == 204 + 1104
    assert call.kilobytes == 1 + 2  # each record rounded up to 1 KB
    assert Tally.of([call]).kinesis_records == 2


def test_a_call_that_never_got_an_answer_is_counted_as_failed(tmp_path: Path) -> None:
    import boto3
    from botocore.exceptions import EndpointConnectionError

    def refuse(request, **_):
        raise EndpointConnectionError(endpoint_url=request.url)

    sns = boto3.client("sns", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=__import__("botocore.config").config.Config(retries={"max_attempts": 1}))
    sns.meta.events.register("before-send", refuse)
    request_hook.count_client(sns, str(tmp_path), "trend")

    with pytest.raises(EndpointConnectionError):
        sns.publish(TopicArn="arn:aws:sns:us-east-1:000000000000:alerts", Message="cross")

    calls = calls_since(tmp_path, {})
    assert [(c.name, c.failed) for c in calls] == [("sns Publish", True)]


def test_a_phase_is_what_the_files_gained_and_a_line_cut_short_is_skipped(tmp_path: Path) -> None:
    log = request_hook.CallLog(str(tmp_path), "fn")
    log.write({"fn": "fn", "s": "s3", "o": "PutObject"})
    mark = snapshot(tmp_path)
    log.write({"fn": "fn", "s": "dynamodb", "o": "Query", "r": 3, "sc": 3})
    with open(next(tmp_path.iterdir()), "ab") as fh:
        fh.write(b'{"fn": "fn", "s": "dyn')  # a worker killed mid-line

    assert [c.name for c in calls_since(tmp_path, mark)] == ["dynamodb Query"]


def test_item_sizes_follow_dynamodbs_rules() -> None:
    # names and strings in UTF-8 bytes; a number one byte per two significant digits plus one
    assert request_hook.item_size({"symbol": {"S": "AAPL"}}) == 6 + 4
    assert request_hook.item_size({"p": {"N": "123.45"}}) == 1 + 4
    assert request_hook.item_size({"m": {"M": {"a": {"S": "xy"}}}}) == 1 + 3 + 1 + 1 + 2
    assert request_hook.write_units(1024) == 1 and request_hook.write_units(1025) == 2
    assert request_hook.write_units(0) == 1


def test_reads_are_priced_on_full_item_sizes_four_kilobytes_a_unit() -> None:
    sizes = {"ticks": 300.0}
    query = Call("trend", "dynamodb", "Query", ("ticks",), items_read=20, items_scanned=20, read_bytes=20 * 40,
                 consistent=True)
    # 20 items of 300 bytes (not the 40 projected): 6,000 bytes, two units, strongly consistent
    assert read_units(query, sizes) == 2.0
    assert read_units(Call("t", "dynamodb", "Query", ("ticks",), items_scanned=20), sizes) == 1.0
    missing = Call("t", "dynamodb", "GetItem", ("state",), items_scanned=1)
    assert read_units(missing, sizes) == 0.5
    writes = [Call("p", "dynamodb", "BatchWriteItem", ("ticks",), items_written=4, written_bytes=1200),
              Call("p", "dynamodb", "PutItem", ("state",), items_written=1, written_bytes=900)]
    assert item_sizes(writes) == {"ticks": 300.0, "state": 900.0}


def test_a_batch_read_counts_every_key_it_read_found_or_not_and_not_those_left_unprocessed() -> None:
    keys = [{"symbol": {"S": s}} for s in ("AAPL", "MSFT", "IBM")]
    params = {"body": {"RequestItems": {"state": {"Keys": keys, "ConsistentRead": True}}}}
    facts = request_hook.request_facts("dynamodb", "BatchGetItem", params)
    parsed = {"Responses": {"state": [{"symbol": {"S": "AAPL"}, "version": {"N": "3"}}]},
              "UnprocessedKeys": {"state": {"Keys": keys[2:]}}}

    facts = request_hook.response_facts("dynamodb", "BatchGetItem", parsed, facts)

    # AAPL found, MSFT read and not found, IBM not read: two keys billed, consistently, one item returned
    assert (facts["r"], facts["sc"], facts["c"], facts["t"]) == (1, 2, 1, ["state"])
    call = Call("trend", "dynamodb", "BatchGetItem", ("state",), consistent=True, items_read=1, items_scanned=2,
                read_bytes=facts["rs"])
    assert read_units(call, {"state": 300.0}) == 2.0


def test_the_benchs_emulator_is_started_with_the_hook_first_on_its_path(tmp_path: Path, monkeypatch,
                                                                         hook_env) -> None:
    started_with: dict[str, str] = {}

    class Exited:  # a child that is gone at once: start() gives up after one look
        pid = 2**30  # above any pid_max, so no process has it
        returncode = 1

        def poll(self) -> int:
            return 1

    def popen(command, **kwargs):
        started_with.update(kwargs["env"])
        return Exited()

    monkeypatch.setattr(ministack.subprocess, "Popen", popen)
    settings = Settings(home=tmp_path / "home", port=free_port(), region="us-east-1", name_prefix="bench")
    target = ministack.MiniStack(settings, persist=False, extra_env=hook_env)

    with pytest.raises(EmulatorError):
        target.start(lambda line: None, timeout=5)

    assert started_with["PYTHONPATH"].split(os.pathsep)[0] == str(calls_dir(hook_env).parent / "site")
    assert started_with[request_hook.DIR_VARIABLE] == str(calls_dir(hook_env))
    assert (calls_dir(hook_env).parent / "site" / "sitecustomize.py").read_text() == Path(
        request_hook.__file__).read_text()
