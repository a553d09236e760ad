"""The SNS messages the pipeline sent, read back from the alert-audit queue subscribed to its topic."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from tickstack.stack import Stack


class AlertsUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Alert:
    symbol: str
    signal: str
    timestamp: str
    price: str
    sma5: str
    sma20: str
    subject: str
    message: str
    sent_at: str
    message_id: str

    def to_json(self) -> dict:
        return asdict(self)


def parse_envelope(body: str) -> Alert | None:
    """An SNS notification as delivered to SQS (raw delivery off); None for anything else."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    if not isinstance(envelope, dict) or envelope.get("Type") != "Notification":
        return None
    attributes = {name: attr.get("Value", "") for name, attr in (envelope.get("MessageAttributes") or {}).items()}
    return Alert(
        symbol=attributes.get("symbol", ""),
        signal=attributes.get("signal", ""),
        timestamp=attributes.get("timestamp", ""),
        price=attributes.get("price", ""),
        sma5=attributes.get("sma5", ""),
        sma20=attributes.get("sma20", ""),
        subject=envelope.get("Subject") or "",
        message=envelope.get("Message") or "",
        sent_at=envelope.get("Timestamp") or "",
        message_id=envelope.get("MessageId") or "",
    )


def read_alerts(stack: Stack) -> list[Alert]:
    """Every alert sent so far, oldest first. Reading consumes nothing, so it can be repeated."""
    if stack.emulator is None:
        raise AlertsUnavailable(
            "on aws the alerts reach the topic's email/SMS subscribers; `tickstack alerts` reads an emulated topic"
        )
    queue_url = stack.outputs["alert_audit_queue_url"]
    alerts = [a for a in (parse_envelope(m.get("Body", "")) for m in stack.emulator.peek_queue(queue_url)) if a]
    return sorted(alerts, key=lambda a: (a.sent_at, a.timestamp, a.message_id))
