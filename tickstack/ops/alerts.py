"""The alerts the pipeline sent, read back from the alert-audit queue subscribed to its topic.

An alert is printed (and given as JSON) in one shape whatever produced it: an SNS notification
read back here, or the backtest's run of the functions' own code (`alert_record`). SNS standard
topics deliver at least once, so the same alert can arrive twice: it is listed once, by its
`alert_id`, with the number of deliveries seen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from stock_pipeline.contract import AlertAttribute, PendingCross, alert_id
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


def merge_deliveries(records: list[dict]) -> list[dict]:
    """Each alert_id once (its first delivery), with how many deliveries carried it; oldest first."""
    merged: dict[str, dict] = {}
    for record in sorted(records, key=lambda r: (r["sent_at"] or "", r["timestamp"], r["alert_id"])):
        seen = merged.get(record["alert_id"])
        if seen is None:
            merged[record["alert_id"]] = dict(record)
        else:
            seen["deliveries"] += record["deliveries"]
    return list(merged.values())


def read_alerts(target: Target) -> list[dict]:
    """Every alert sent so far, oldest first, each once. Reading consumes nothing, so it can be repeated."""
    queue_url = target.outputs["alert_audit_queue_url"]
    records = [r for r in (parse_envelope(m.get("Body", "")) for m in target.audit_messages(queue_url)) if r]
    return merge_deliveries(records)
