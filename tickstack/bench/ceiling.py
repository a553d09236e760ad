"""The emulator's own ceiling: a chain of the pipeline's shape with handlers that do next to nothing.

Kinesis stream -> function `write` (each record becomes one item, 25 to a BatchWriteItem) -> DynamoDB
table -> its stream -> function `seen` (nothing per record; one counter update per invocation says how
many records it was handed). Deployed with boto3 beside the pipeline, on an emulator of its own
(`make bench` stops it before measuring the pipeline), with the pipeline's runtime, memory and
mapping batch sizes, fed the same recording through the same sink, and timed until the second
function has been handed every record; then the table is counted.
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from producer.kinesis import KinesisSink
from tickstack.bench.feed import StreamFeed
from tickstack.ops.replay import replay
from tickstack.targets import Target
from tickstack.waiting import wait_until

MODULE = "ceiling"
HANDLER_SOURCE = '''\
"""The ceiling chain's handlers: as little work as the chain's shape allows."""
import base64
import os

import boto3

_dynamodb = boto3.client("dynamodb")
_ITEMS, _SEEN = os.environ["CEILING_ITEMS_TABLE"], os.environ["CEILING_SEEN_TABLE"]
_BATCH_WRITE_LIMIT = 25
_ATTEMPTS = 8


def write(event, context):
    """Each Kinesis record as one item."""
    requests = [{"PutRequest": {"Item": {
        "pk": {"S": record["kinesis"]["partitionKey"]},
        "sk": {"S": record["kinesis"]["sequenceNumber"]},
        "data": {"S": base64.b64decode(record["kinesis"]["data"]).decode("utf-8", "replace")},
    }}} for record in event["Records"]]
    for start in range(0, len(requests), _BATCH_WRITE_LIMIT):
        pending = {_ITEMS: requests[start:start + _BATCH_WRITE_LIMIT]}
        for _ in range(_ATTEMPTS):
            pending = _dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
        else:
            raise RuntimeError("BatchWriteItem kept items unprocessed")
    return {}


def seen(event, context):
    """Nothing per record: count the records handed over."""
    _dynamodb.update_item(TableName=_SEEN, Key={"id": {"S": "seen"}}, UpdateExpression="ADD records :n",
                          ExpressionAttributeValues={":n": {"N": str(len(event["Records"]))}})
    return {}
'''


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(f"{MODULE}.py", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        zf.writestr(info, HANDLER_SOURCE)
    return buffer.getvalue()


@dataclass(frozen=True)
class CeilingResult:
    ticks: int
    seconds: float

    @property
    def ticks_per_s(self) -> float:
        return self.ticks / self.seconds


class CeilingChain:
    def __init__(self, target: Target, prefix: str) -> None:
        self.target = target
        self.stream = f"{prefix}-ceiling"
        self.items_table = f"{prefix}-ceiling-items"
        self.seen_table = f"{prefix}-ceiling-seen"
        self.functions = {"write": f"{prefix}-CeilingWrite", "seen": f"{prefix}-CeilingSeen"}
        self.mappings: list[str] = []

    # --- deploy ---------------------------------------------------------------------------------------
    def deploy(self, runtime: str, memory_mb: int, kinesis_batch_size: int, stream_batch_size: int) -> None:
        kinesis, dynamodb, lam = (self.target.client(s) for s in ("kinesis", "dynamodb", "lambda"))
        kinesis.create_stream(StreamName=self.stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        dynamodb.create_table(
            TableName=self.items_table, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        dynamodb.create_table(
            TableName=self.seen_table, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        kinesis.get_waiter("stream_exists").wait(StreamName=self.stream, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        for table in (self.items_table, self.seen_table):
            dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        code = package()
        environment = {"CEILING_ITEMS_TABLE": self.items_table, "CEILING_SEEN_TABLE": self.seen_table}
        for handler, name in self.functions.items():
            lam.create_function(
                FunctionName=name, Runtime=runtime, Handler=f"{MODULE}.{handler}", Code={"ZipFile": code},
                Role=f"arn:aws:iam::000000000000:role/{name}", MemorySize=memory_mb, Timeout=60,
                Environment={"Variables": environment})
        waiter = lam.get_waiter("function_active_v2")
        for name in self.functions.values():
            waiter.wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        stream_arn = kinesis.describe_stream_summary(StreamName=self.stream)["StreamDescriptionSummary"]["StreamARN"]
        table_stream_arn = dynamodb.describe_table(TableName=self.items_table)["Table"]["LatestStreamArn"]
        for source, name, batch in ((stream_arn, self.functions["write"], kinesis_batch_size),
                                    (table_stream_arn, self.functions["seen"], stream_batch_size)):
            mapping = lam.create_event_source_mapping(EventSourceArn=source, FunctionName=name,
                                                      StartingPosition="TRIM_HORIZON", BatchSize=batch)
            self.mappings.append(mapping["UUID"])
        for uuid in self.mappings:
            wait_until(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled", timeout=60,
                       what="the ceiling chain's mappings to be enabled")

    # --- measure --------------------------------------------------------------------------------------
    def seen(self) -> int:
        item = self.target.client("dynamodb").get_item(TableName=self.seen_table, Key={"id": {"S": "seen"}},
                                                       ConsistentRead=True).get("Item")
        return int(item["records"]["N"]) if item else 0

    def items(self) -> int:
        dynamodb = self.target.client("dynamodb")
        total, request = 0, {"TableName": self.items_table, "Select": "COUNT"}
        for _ in range(100_000):
            page = dynamodb.scan(**request)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                return total
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        raise RuntimeError("the ceiling table's scan did not end")

    def _wait_seen(self, count: int, timeout: float) -> None:
        wait_until(lambda: self.seen() >= count, timeout=timeout, interval=0.05, max_interval=0.2,
                   what=f"the ceiling chain's second function to be handed {count} records")

    def measure(self, recording: Path, kinesis, timeout: float = 1800) -> CeilingResult:
        """Warm both functions with one record, then time the recording from first put to last record seen."""
        KinesisSink(kinesis, self.stream).send([("WARMUP", b'{"warm": "up"}')])
        self._wait_seen(1, timeout=120)
        began = time.perf_counter()
        report = replay(StreamFeed(self.target, self.stream, kinesis), [recording])
        self._wait_seen(1 + len(report.sent), timeout=timeout)
        seconds = time.perf_counter() - began
        stored = self.items()
        if stored != 1 + len(report.sent):
            raise RuntimeError(f"the ceiling table holds {stored} items, not {1 + len(report.sent)}")
        return CeilingResult(len(report.sent), seconds)
