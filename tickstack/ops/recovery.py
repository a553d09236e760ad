"""Wake the trend analysis of every stored symbol, for a stack whose stream records were lost.

The trend function analyses a symbol when a stream record names it; a record that carries no
image, as these do not, makes it read everything newer than the symbol's watermark from the
table. An emulator restored from saved state keeps its tables but not the stream records that
were still in flight, and a tick written again with identical values emits no record. So after
such a restart every symbol with stored ticks is named once, in one invocation of the trend
function with the shape of a stream batch; symbols already up to date analyse nothing.
"""

from __future__ import annotations

import json

from stock_pipeline.contract import TickItem
from tickstack.errors import TickstackError
from tickstack.targets.base import Target


class RecoveryFailed(TickstackError):
    pass


def newest_tick_per_symbol(target: Target) -> dict[str, str]:
    dynamodb = target.client("dynamodb")
    newest: dict[str, str] = {}
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=target.outputs["table_name"],
        ProjectionExpression="#symbol, #ts",
        ExpressionAttributeNames={"#symbol": TickItem.SYMBOL, "#ts": TickItem.TIMESTAMP},
        ConsistentRead=True,
    )
    for page in pages:
        for item in page.get("Items", []):
            symbol, timestamp = item[TickItem.SYMBOL]["S"], item[TickItem.TIMESTAMP]["S"]
            newest[symbol] = max(newest.get(symbol, ""), timestamp)
    return newest


def wake_event(newest: dict[str, str], stream_arn: str, region: str) -> dict:
    """A DynamoDB stream batch naming each symbol once, by its newest tick's keys."""
    return {
        "Records": [
            {
                "eventID": f"tickstack-recovery-{number}",
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "eventSourceARN": stream_arn,
                "dynamodb": {
                    "Keys": {TickItem.SYMBOL: {"S": symbol}, TickItem.TIMESTAMP: {"S": timestamp}},
                    "SequenceNumber": str(number),
                    "SizeBytes": 1,
                    "StreamViewType": "NEW_IMAGE",
                },
            }
            for number, (symbol, timestamp) in enumerate(sorted(newest.items()), start=1)
        ]
    }


def wake_trend_analysis(target: Target) -> int:
    """Have the trend function catch every stored symbol up; return how many symbols were named."""
    outputs = target.outputs
    newest = newest_tick_per_symbol(target)
    if not newest:
        return 0
    stream_arn = target.client("dynamodb").describe_table(TableName=outputs["table_name"])["Table"].get(
        "LatestStreamArn", "")
    response = target.client("lambda").invoke(
        FunctionName=outputs["function_names"]["trend"],
        Payload=json.dumps(wake_event(newest, stream_arn, target.region)).encode(),
    )
    answer = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError") or answer.get("batchItemFailures"):
        raise RecoveryFailed(f"the trend function could not catch up after the restart: {answer}")
    return len(newest)
