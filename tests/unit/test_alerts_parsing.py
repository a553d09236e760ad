import json

from tickstack.alerts import parse_envelope


def envelope(**overrides):
    body = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-east-1:000000000000:tickstack-trend-alerts",
        "Subject": "AAPL Golden Cross: uptrend",
        "Message": "AAPL is in an Uptrend. Consider a buy opportunity.\nPrice 589.53 ...",
        "Timestamp": "2026-11-25T17:00:00.000Z",
        "MessageAttributes": {
            name: {"Type": "String", "Value": value}
            for name, value in {"symbol": "AAPL", "signal": "GOLDEN_CROSS", "price": "589.53", "sma5": "569.8747",
                                "sma20": "565.888", "timestamp": "2012-11-26T21:00:00Z"}.items()
        },
    }
    body.update(overrides)
    return json.dumps(body)


def test_sns_envelope_becomes_an_alert():
    alert = parse_envelope(envelope())
    assert alert.to_json() == {
        "symbol": "AAPL", "signal": "GOLDEN_CROSS", "timestamp": "2012-11-26T21:00:00Z", "price": "589.53",
        "sma5": "569.8747", "sma20": "565.888", "subject": "AAPL Golden Cross: uptrend",
        "message": "AAPL is in an Uptrend. Consider a buy opportunity.\nPrice 589.53 ...",
        "sent_at": "2026-11-25T17:00:00.000Z", "message_id": "m-1",
    }


def test_subscription_confirmations_and_garbage_are_not_alerts():
    assert parse_envelope(envelope(Type="SubscriptionConfirmation")) is None
    assert parse_envelope("not json") is None
    assert parse_envelope("[1, 2]") is None
