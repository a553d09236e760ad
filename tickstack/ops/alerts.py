"""The alerts the pipeline sent, read back from its alerts table, and from its audit queue where it can be peeked.

An alert is printed (and given as JSON) in one shape whatever produced it: the alerts table or
an SNS notification read back here, or the backtest's run of the functions' own code
(`alert_record`). Each `alert_id` is listed once. Its `deliveries`:

- where the target can read the alert-audit queue without consuming it (the emulators), the
  SNS deliveries of that alert_id the queue holds: proof of delivery. An alert recorded in the
  table whose delivery has not reached the queue yet is listed with 0; one delivered but not
  recorded yet (the function died between the two) is listed from its delivery;
- elsewhere (aws), the alert's publish count in the table: the publishes SNS accepted.

`sent_at` is when SNS took the first publish: the first delivery's SNS Timestamp where there is
one, else the table's published_at (the function's clock, in SNS's format).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from stock_pipeline.contract import ALERT_ATTRIBUTES, AlertAttribute, AlertItem, PendingCross, alert_id
from tickstack.errors import TargetError
from tickstack.targets import Target

# The published JSON keys; `sma5`/`sma20` hold the short and long averages whatever the windows are.
ALERT_FIELDS = ("alert_id", "symbol", "signal", "timestamp", "price", "sma5", "sma20", "subject", "message",
                "sent_at", "deliveries")


def alert_record(subject: str, message: str, attributes: Mapping[str, str], sent_at: str | None,
                 deliveries: int = 1) -> dict:
    """One alert in the shape of `tickstack alerts --json`, from what the trend function publishes."""

    def first(*names: str) -> str:
        return next((attributes[n] for n in names if attributes.get(n) is not None), "")

    symbol, timestamp = first(AlertAttribute.SYMBOL), first(AlertAttribute.TIMESTAMP)
    signal = first(AlertAttribute.SIGNAL)
    return {
        # Alerts published before alert_id existed get the id they would have had.
        "alert_id": first(AlertAttribute.ALERT_ID) or alert_id(symbol, timestamp, signal),
        "symbol": symbol,
        "signal": signal,
        "timestamp": timestamp,
        "price": first(AlertAttribute.PRICE),
        "sma5": first(AlertAttribute.SMA_SHORT, PendingCross.LEGACY_SMA_SHORT),
        "sma20": first(AlertAttribute.SMA_LONG, PendingCross.LEGACY_SMA_LONG),
        "subject": subject,
        "message": message,
        "sent_at": sent_at,
        "deliveries": deliveries,
    }


def parse_envelope(body: str) -> dict | None:
    """An SNS notification as delivered to SQS (raw delivery off), as an alert record; None for anything else."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    if not isinstance(envelope, dict) or envelope.get("Type") != "Notification":
        return None
    attributes = {name: attr.get("Value", "") for name, attr in (envelope.get("MessageAttributes") or {}).items()}
    return alert_record(envelope.get("Subject") or "", envelope.get("Message") or "", attributes,
                        envelope.get("Timestamp") or "")


def _oldest_first(record: Mapping[str, Any]) -> tuple[str, str, str]:
    return record["sent_at"] or "", record["timestamp"], record["alert_id"]


def merge_deliveries(records: list[dict]) -> list[dict]:
    """Each alert_id once (its first delivery), with how many deliveries carried it; oldest first."""
    merged: dict[str, dict] = {}
    for record in sorted(records, key=_oldest_first):
        seen = merged.get(record["alert_id"])
        if seen is None:
            merged[record["alert_id"]] = dict(record)
        else:
            seen["deliveries"] += record["deliveries"]
    return list(merged.values())


def logged_record(item: Mapping[str, Any], sent_at: str | None = None, deliveries: int | None = None) -> dict:
    """An alerts-table item (contract.AlertItem, deserialized) as an alert record.

    `sent_at` defaults to the item's published_at, `deliveries` to its publish count.
    """
    attributes = {name: str(item[name]) for name in ALERT_ATTRIBUTES if item.get(name) is not None}
    return alert_record(
        str(item.get(AlertItem.SUBJECT) or ""), str(item.get(AlertItem.MESSAGE) or ""), attributes,
        sent_at or item.get(AlertItem.PUBLISHED_AT),
        int(item.get(AlertItem.PUBLISH_COUNT) or 0) if deliveries is None else deliveries,
    )


def combine(logged: Iterable[Mapping[str, Any]], delivered: list[dict] | None) -> list[dict]:
    """The alerts, each alert_id once, oldest first (sent_at, then tick timestamp, then alert_id).

    `logged`: the alerts table's items; `delivered`: the audit queue's deliveries as records
    (`parse_envelope`), or None when the target cannot read them (then the publish counts stand).
    """
    if delivered is None:
        return sorted((logged_record(item) for item in logged), key=_oldest_first)
    firsts = {record["alert_id"]: record for record in merge_deliveries(delivered)}
    records: dict[str, dict] = {}
    for item in logged:
        key = str(item[AlertItem.ALERT_ID])
        first = firsts.get(key)
        records[key] = logged_record(
            item, sent_at=first["sent_at"] if first else None, deliveries=first["deliveries"] if first else 0)
    for key, first in firsts.items():  # delivered, not recorded yet: the function died between the two
        records.setdefault(key, first)
    return sorted(records.values(), key=_oldest_first)


_deserializer = TypeDeserializer()


def scan_alerts_table(client, table_name: str) -> list[dict]:
    """Every item of the alerts table (Scan, every page, strongly consistent), deserialized."""
    items = []
    for page in client.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True):
        items.extend({k: _deserializer.deserialize(v) for k, v in raw.items()} for raw in page.get("Items", []))
    return items


def read_alerts(target: Target) -> list[dict]:
    """Every alert sent so far, oldest first, each once. Reading consumes nothing, so it can be repeated.

    The alerts table is read on every target; the audit queue where the target can peek it.
    """
    outputs = target.outputs
    table = outputs.get("alerts_table_name")
    # The table first: an alert recorded there was published before, so its delivery is in the
    # queue by the time the queue is read.
    logged = scan_alerts_table(target.client("dynamodb"), table) if table else []
    messages = target.audit_messages(outputs["alert_audit_queue_url"])
    if messages is None and not table:
        raise TargetError(f"this stack on {target.name} was deployed before its alerts table existed, and its "
                          "audit queue cannot be read without consuming it: deploy again to create the table")
    delivered = None if messages is None else [
        r for r in (parse_envelope(m.get("Body", "")) for m in messages) if r]
    return combine(logged, delivered)
