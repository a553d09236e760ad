import json

from tickstack.ops.alerts import merge_deliveries, parse_envelope


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


def attributes(**values):
    return {name: {"Type": "String", "Value": value} for name, value in values.items()}


def test_sns_envelope_of_an_earlier_release_becomes_an_alert():
    alert = parse_envelope(envelope())
    assert alert == {
        "alert_id": "AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS",
        "symbol": "AAPL", "signal": "GOLDEN_CROSS", "timestamp": "2012-11-26T21:00:00Z", "price": "589.53",
        "sma5": "569.8747", "sma20": "565.888", "subject": "AAPL Golden Cross: uptrend",
        "message": "AAPL is in an Uptrend. Consider a buy opportunity.\nPrice 589.53 ...",
        "sent_at": "2026-11-25T17:00:00.000Z", "deliveries": 1,
    }


def test_the_windows_averages_are_published_under_the_interface_keys():
    alert = parse_envelope(envelope(MessageAttributes=attributes(
        alert_id="MSFT-2010-05-03T20:00:00Z-DEATH_CROSS", symbol="MSFT", signal="DEATH_CROSS", price="30.86",
        sma_short="30.1", sma_long="30.2", short_window="10", long_window="50", timestamp="2010-05-03T20:00:00Z")))
    assert (alert["alert_id"], alert["sma5"], alert["sma20"]) == ("MSFT-2010-05-03T20:00:00Z-DEATH_CROSS", "30.1", "30.2")


def test_a_repeated_delivery_is_listed_once_and_counted():
    first = parse_envelope(envelope(MessageId="m-1", Timestamp="2026-11-25T17:00:00.000Z"))
    again = parse_envelope(envelope(MessageId="m-9", Timestamp="2026-11-25T17:00:03.000Z"))
    other = parse_envelope(envelope(MessageId="m-2", Timestamp="2026-11-25T17:00:01.000Z",
                                    MessageAttributes=attributes(symbol="AAPL", signal="DEATH_CROSS",
                                                                 timestamp="2012-12-07T21:00:00Z")))
    merged = merge_deliveries([again, other, first])
    assert [(a["alert_id"], a["deliveries"], a["sent_at"]) for a in merged] == [
        ("AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS", 2, "2026-11-25T17:00:00.000Z"),
        ("AAPL-2012-12-07T21:00:00Z-DEATH_CROSS", 1, "2026-11-25T17:00:01.000Z"),
    ]


def test_subscription_confirmations_and_garbage_are_not_alerts():
    assert parse_envelope(envelope(Type="SubscriptionConfirmation")) is None
    assert parse_envelope("not json") is None
    assert parse_envelope("[1, 2]") is None
