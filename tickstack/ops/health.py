"""Which symbols are stalled, read from the trend-state table by the trend function's own rule.

A symbol is stalled when its analysis has not advanced for longer than the deployed
`stalled_after_seconds` while late ticks of it keep arriving (stock_pipeline.lateness): its
ticks still come, but none can be analysed, so no alert can come for it.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from boto3.dynamodb.types import TypeDeserializer

from stock_pipeline.adapters import state_from_item
from stock_pipeline.contract import DEFAULT_STALLED_AFTER_SECONDS, TIMESTAMP_FORMAT, TrendStateItem
from stock_pipeline.lateness import is_stalled
from tickstack.targets import Target

# What the rule needs of each item, and what state_from_item requires.
_FIELDS = (
    TrendStateItem.SYMBOL,
    TrendStateItem.VERSION,
    TrendStateItem.LAST_TIMESTAMP,
    TrendStateItem.UPDATED_AT,
    TrendStateItem.READ_AT,
    TrendStateItem.LATE_TICKS,
    TrendStateItem.LAST_LATE_AT,
)
_deserializer = TypeDeserializer()


def stalled_after_seconds(outputs: dict) -> int:
    """The deployed threshold; the contract's default for a stack deployed before it was an output."""
    value = outputs.get("stalled_after_seconds")
    return DEFAULT_STALLED_AFTER_SECONDS if value is None else int(value)


def stalled_symbols(target: Target, now: float | None = None) -> list[dict]:
    """The stalled symbols, by name: each with its watermark, since when nothing was analysed, its late ticks."""
    outputs = target.outputs
    threshold = stalled_after_seconds(outputs)
    now = time.time() if now is None else now
    names = {f"#f{i}": name for i, name in enumerate(_FIELDS)}
    pages = target.client("dynamodb").get_paginator("scan").paginate(
        TableName=outputs["trend_state_table_name"],
        ProjectionExpression=", ".join(names),
        ExpressionAttributeNames=names,
    )
    stalled = []
    for page in pages:
        for raw in page.get("Items", []):
            item = {name: _deserializer.deserialize(value) for name, value in raw.items()}
            watch = state_from_item(item).watch
            if not is_stalled(watch, now, threshold):
                continue
            stalled.append(
                {
                    "symbol": item[TrendStateItem.SYMBOL],
                    "watermark": item.get(TrendStateItem.LAST_TIMESTAMP),
                    "analysed_last_at": _utc(watch.read_at),
                    "stalled_for_seconds": int(now - watch.read_at),
                    "late_ticks": watch.late_ticks,
                    "last_late_at": _utc(watch.last_late_at),
                }
            )
    return sorted(stalled, key=lambda entry: entry["symbol"])


def _utc(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).strftime(TIMESTAMP_FORMAT)
