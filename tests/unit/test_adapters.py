"""The boto3 adapters against botocore's Stubber: the exact requests, no network."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from stock_pipeline.adapters import (
    Backoff,
    DynamoDBAlertLog,
    DynamoDBTickStore,
    DynamoDBTrendStateStore,
    S3Archive,
    SNSAlertPublisher,
    state_from_item,
    state_to_item,
)
from stock_pipeline.lateness import LateWatch
from stock_pipeline.ports import StaleState, StoredTrendState, UnwrittenItems
from stock_pipeline.trend import Alert, Cross, PricePoint, TrendState, build_alert


def client(service: str) -> Any:
    return boto3.client(
        service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture
def dynamodb() -> Iterator[tuple[Any, Stubber]]:
    ddb = client("dynamodb")
    with Stubber(ddb) as stubber:
        yield ddb, stubber
        stubber.assert_no_pending_responses()


def query_request(after: str | None, limit: int, start_key: dict[str, Any] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": "ticks",
        "KeyConditionExpression": "#symbol = :symbol" + (" AND #ts > :after" if after else ""),
        "ExpressionAttributeNames": {"#symbol": "symbol", "#ts": "timestamp", "#price": "price"},
        "ExpressionAttributeValues": {":symbol": {"S": "AAPL"}, **({":after": {"S": after}} if after else {})},
        "ProjectionExpression": "#ts, #price",
        "ConsistentRead": True,
        "ScanIndexForward": True,
        "Limit": limit,
    }
    if start_key:
        request["ExclusiveStartKey"] = start_key
    return request


def row(ts: str, price: str) -> dict[str, Any]:
    return {"timestamp": {"S": ts}, "price": {"N": price}}


def test_prices_after_follows_pages_until_the_limit(dynamodb: tuple[Any, Stubber]) -> None:
    # GIVEN DynamoDB answers in pages of two
    ddb, stubber = dynamodb
    page_end = {"symbol": {"S": "AAPL"}, "timestamp": {"S": "T2"}}
    stubber.add_response(
        "query", {"Items": [row("T1", "1.5"), row("T2", "2")], "LastEvaluatedKey": page_end}, query_request("T0", 3)
    )
    more = {"symbol": {"S": "AAPL"}, "timestamp": {"S": "T3"}}
    stubber.add_response(
        "query", {"Items": [row("T3", "3")], "LastEvaluatedKey": more}, query_request("T0", 1, page_end)
    )

    # WHEN three prices after T0 are asked for
    points = DynamoDBTickStore("ticks", client=ddb).prices_after("AAPL", "T0", 3)

    # THEN both pages are read and the limit stops the paging
    assert points == [PricePoint("T1", Decimal("1.5")), PricePoint("T2", Decimal(2)), PricePoint("T3", Decimal(3))]


def test_prices_after_stops_on_the_last_page(dynamodb: tuple[Any, Stubber]) -> None:
    ddb, stubber = dynamodb
    stubber.add_response("query", {"Items": [row("T1", "1")]}, query_request(None, 500))

    assert DynamoDBTickStore("ticks", client=ddb).prices_after("AAPL", None, 500) == [PricePoint("T1", Decimal(1))]


def test_a_row_without_a_numeric_price_comes_back_priceless(dynamodb: tuple[Any, Stubber]) -> None:
    ddb, stubber = dynamodb
    rows = [{"timestamp": {"S": "T1"}}, {"timestamp": {"S": "T2"}, "price": {"S": "n/a"}}]
    stubber.add_response("query", {"Items": rows}, query_request(None, 500))

    points = DynamoDBTickStore("ticks", client=ddb).prices_after("AAPL", None, 500)

    assert points == [PricePoint("T1", None), PricePoint("T2", None)]


def tick(n: int, symbol: str = "AAPL") -> dict[str, Any]:
    return {"symbol": symbol, "timestamp": f"T{n:03d}", "price": Decimal("589.53"), "volume": Decimal(4625000)}


def put(item: dict[str, Any]) -> dict[str, Any]:
    return {"PutRequest": {"Item": {"symbol": {"S": item["symbol"]}, "timestamp": {"S": item["timestamp"]},
                                    "price": {"N": "589.53"}, "volume": {"N": "4625000"}}}}


class Waits(list):
    """A Backoff's sleeps, recorded instead of slept; the jitter drawn at its largest."""

    def backoff(self, retries: int = 5) -> Backoff:
        return Backoff(retries=retries, sleep=self.append, random=lambda: 1.0)


def test_put_batch_writes_chunks_of_25_with_decimals_as_numbers(dynamodb: tuple[Any, Stubber]) -> None:
    # GIVEN 30 items
    ddb, stubber = dynamodb
    items = [tick(n) for n in range(30)]
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {"ticks": [put(i) for i in items[:25]]}})
    stubber.add_response("batch_write_item", {}, {"RequestItems": {"ticks": [put(i) for i in items[25:]]}})

    # WHEN they are written: THEN two requests carry them, 25 and 5
    DynamoDBTickStore("ticks", client=ddb).put_batch(items)


def test_put_batch_retries_what_dynamodb_left_unprocessed(dynamodb: tuple[Any, Stubber]) -> None:
    ddb, stubber = dynamodb
    items = [tick(n) for n in range(3)]
    stubber.add_response("batch_write_item", {"UnprocessedItems": {"ticks": [put(items[1]), put(items[2])]}},
                         {"RequestItems": {"ticks": [put(i) for i in items]}})
    stubber.add_response("batch_write_item", {"UnprocessedItems": {"ticks": [put(items[2])]}},
                         {"RequestItems": {"ticks": [put(items[1]), put(items[2])]}})
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {"ticks": [put(items[2])]}})
    waits = Waits()

    DynamoDBTickStore("ticks", client=ddb, backoff=waits.backoff()).put_batch(items)

    # Exponential, at most the full draw of the jitter.
    assert waits == [0.05, 0.1]


def test_put_batch_names_what_stays_unprocessed_after_its_retries(dynamodb: tuple[Any, Stubber]) -> None:
    # GIVEN DynamoDB keeps leaving one item of the second chunk unprocessed
    ddb, stubber = dynamodb
    items = [tick(n) for n in range(27)]
    stubber.add_response("batch_write_item", {}, {"RequestItems": {"ticks": [put(i) for i in items[:25]]}})
    stubber.add_response("batch_write_item", {"UnprocessedItems": {"ticks": [put(items[26])]}},
                         {"RequestItems": {"ticks": [put(i) for i in items[25:]]}})
    for _ in range(8):
        stubber.add_response("batch_write_item", {"UnprocessedItems": {"ticks": [put(items[26])]}},
                             {"RequestItems": {"ticks": [put(items[26])]}})
    waits = Waits()

    # WHEN the batch is written: THEN it gives up after eight retries, on that item alone
    with pytest.raises(UnwrittenItems) as raised:
        DynamoDBTickStore("ticks", client=ddb, backoff=waits.backoff(retries=8)).put_batch(items)

    assert raised.value.reasons == {("AAPL", "T026"): "still unprocessed after 8 retries"}
    # Bounded: the waits double up to the one-second cap.
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


def test_a_refused_chunk_fails_alone(dynamodb: tuple[Any, Stubber]) -> None:
    ddb, stubber = dynamodb
    items = [tick(n) for n in range(30)]
    stubber.add_client_error("batch_write_item", "ProvisionedThroughputExceededException", "slow down")
    stubber.add_response("batch_write_item", {}, {"RequestItems": {"ticks": [put(i) for i in items[25:]]}})

    with pytest.raises(UnwrittenItems) as raised:
        DynamoDBTickStore("ticks", client=ddb).put_batch(items)

    assert sorted(raised.value.reasons) == [("AAPL", f"T{n:03d}") for n in range(25)]
    assert "ProvisionedThroughputExceededException" in raised.value.reasons[("AAPL", "T000")]


def test_put_batch_refuses_one_key_twice(dynamodb: tuple[Any, Stubber]) -> None:
    ddb, _ = dynamodb
    with pytest.raises(ValueError, match="same key"):
        DynamoDBTickStore("ticks", client=ddb).put_batch([tick(1), tick(2), tick(1)])


def test_the_default_backoff_is_bounded() -> None:
    waits = Waits()
    backoff = Backoff(sleep=waits.append, random=lambda: 1.0)
    for retry in range(1, backoff.retries + 1):
        backoff.wait(retry)
    assert sum(waits) <= 2.0


STATE = StoredTrendState(
    trend=TrendState(last_timestamp="2024-03-01T15:23:00Z", last_sign=1, window=(Decimal("21"), Decimal("60.5"))),
    pending=(
        Cross("AAPL", "GOLDEN_CROSS", "2024-03-01T15:23:00Z", Decimal("61"), Decimal("36.8000"), Decimal("30.9500")),
    ),
    version=3,
    watch=LateWatch(read_at=1709306581, late_ticks=2, last_late_at=1709306700, late_sequence=4100000000000000000009),
)


def test_state_item_round_trips() -> None:
    item = state_to_item("AAPL", STATE, updated_at="2024-03-01T15:23:01Z")

    assert item["pending"] == [
        {
            "signal": "GOLDEN_CROSS",
            "timestamp": "2024-03-01T15:23:00Z",
            "price": Decimal("61"),
            "sma_short": Decimal("36.8000"),
            "sma_long": Decimal("30.9500"),
            "short_window": 5,
            "long_window": 20,
        }
    ]
    assert state_from_item(item) == STATE
    fresh = state_to_item("AAPL", StoredTrendState(version=1), updated_at="x")
    assert "last_timestamp" not in fresh and state_from_item(fresh) == StoredTrendState(version=1)


def serialized_state(sma_short_name: str = "sma_short", sma_long_name: str = "sma_long") -> dict[str, Any]:
    """STATE as DynamoDB returns it, with the pending averages under the names given."""
    return {
        "symbol": {"S": "AAPL"},
        "version": {"N": "3"},
        "last_timestamp": {"S": "2024-03-01T15:23:00Z"},
        "last_sign": {"N": "1"},
        "window": {"L": [{"N": "21"}, {"N": "60.5"}]},
        "pending": {
            "L": [
                {
                    "M": {
                        "signal": {"S": "GOLDEN_CROSS"},
                        "timestamp": {"S": "2024-03-01T15:23:00Z"},
                        "price": {"N": "61"},
                        sma_short_name: {"N": "36.8000"},
                        sma_long_name: {"N": "30.9500"},
                        "short_window": {"N": "5"},
                        "long_window": {"N": "20"},
                    }
                }
            ]
        },
        "updated_at": {"S": "2024-03-01T15:23:01Z"},
        "read_at": {"N": "1709306581"},
        "late_ticks": {"N": "2"},
        "last_late_at": {"N": "1709306700"},
        "late_sequence": {"N": "4100000000000000000009"},
    }


def test_state_is_read_consistently(dynamodb: tuple[Any, Stubber]) -> None:
    ddb, stubber = dynamodb
    get = {"TableName": "state", "Key": {"symbol": {"S": "AAPL"}}, "ConsistentRead": True}
    stubber.add_response("get_item", {"Item": serialized_state()}, get)
    stubber.add_response("get_item", {}, get)
    store = DynamoDBTrendStateStore("state", client=ddb)

    assert store.get("AAPL") == STATE
    assert store.get("AAPL") is None


def batch_get(symbols: list[str]) -> dict[str, Any]:
    return {"RequestItems": {"state": {"Keys": [{"symbol": {"S": s}} for s in symbols], "ConsistentRead": True}}}


def test_states_are_read_many_at_once_consistently_and_an_absent_one_is_none(dynamodb: tuple[Any, Stubber]) -> None:
    ddb, stubber = dynamodb
    symbols = [f"S{n:03}" for n in range(150)]
    aapl = serialized_state()
    stubber.add_response("batch_get_item", {"Responses": {"state": [aapl]}}, batch_get(["AAPL", *symbols[:99]]))
    stubber.add_response("batch_get_item", {"Responses": {"state": []}}, batch_get(symbols[99:]))

    states = DynamoDBTrendStateStore("state", client=ddb).get_many(["AAPL", *symbols, "AAPL"])

    # 100 keys a request, each symbol once; a state read as `get` reads it, None for no item
    assert states == {"AAPL": STATE} | {s: None for s in symbols}


def test_keys_left_unprocessed_are_retried_and_those_that_stay_so_are_left_out(dynamodb: tuple[Any, Stubber]) -> None:
    # GIVEN DynamoDB answers for AAPL at once, for MSFT on the retry, and never for IBM
    ddb, stubber = dynamodb
    left = {"state": {"Keys": [{"symbol": {"S": "MSFT"}}, {"symbol": {"S": "IBM"}}], "ConsistentRead": True}}
    stubber.add_response("batch_get_item", {"Responses": {"state": [serialized_state()]}, "UnprocessedKeys": left},
                         batch_get(["AAPL", "MSFT", "IBM"]))
    stubber.add_response("batch_get_item", {"Responses": {"state": []},
                                            "UnprocessedKeys": {"state": {"Keys": [{"symbol": {"S": "IBM"}}]}}},
                         batch_get(["MSFT", "IBM"]))
    stubber.add_response("batch_get_item", {"UnprocessedKeys": {"state": {"Keys": [{"symbol": {"S": "IBM"}}]}}},
                         batch_get(["IBM"]))
    waits = Waits()

    states = DynamoDBTrendStateStore("state", client=ddb, backoff=waits.backoff(retries=2)).get_many(
        ["AAPL", "MSFT", "IBM"])

    # THEN IBM is left for its own read, after bounded waits
    assert states == {"AAPL": STATE, "MSFT": None}
    assert waits == [0.05, 0.1]


def test_a_pending_cross_saved_under_the_old_sma5_sma20_names_is_still_read(dynamodb: tuple[Any, Stubber]) -> None:
    # GIVEN a state item written before the averages were renamed, with an alert still pending
    ddb, stubber = dynamodb
    old_item = serialized_state("sma5", "sma20")
    get = {"TableName": "state", "Key": {"symbol": {"S": "AAPL"}}, "ConsistentRead": True}
    stubber.add_response("get_item", {"Item": old_item}, get)
    store = DynamoDBTrendStateStore("state", client=ddb)

    # WHEN it is read
    state = store.get("AAPL")

    # THEN its pending cross is the same one, and the next save writes it under the new names
    assert state == STATE
    (pending,) = state_to_item("AAPL", state, updated_at="x")["pending"]
    assert (pending["sma_short"], pending["sma_long"]) == (Decimal("36.8000"), Decimal("30.9500"))
    assert "sma5" not in pending and "sma20" not in pending


def test_a_pending_alert_read_back_reads_exactly_as_when_it_was_committed(dynamodb: tuple[Any, Stubber]) -> None:
    # GIVEN DynamoDB gives the committed averages back without their trailing zeros, as it does
    ddb, stubber = dynamodb
    item = serialized_state()
    averages = item["pending"]["L"][0]["M"]
    averages["sma_short"], averages["sma_long"] = {"N": "36.8"}, {"N": "30.95"}
    stubber.add_response("get_item", {"Item": item})

    # WHEN the outbox is read back
    (cross,) = DynamoDBTrendStateStore("state", client=ddb).get("AAPL").pending

    # THEN the alert built from it is the one built from the cross as the analysis found it
    assert build_alert(cross) == build_alert(STATE.pending[0])
    assert "SMA-5 36.8000, SMA-20 30.9500" in build_alert(cross).message


def test_an_item_written_before_read_at_existed_reads_its_last_write_time_instead() -> None:
    # GIVEN an item from before the late-tick fields: it has updated_at, no read_at
    item = state_to_item("AAPL", StoredTrendState(trend=STATE.trend, version=3), updated_at="2024-03-01T15:23:01Z")
    assert "read_at" not in item and "late_ticks" not in item

    # THEN its last write, which followed the read that moved the watermark, stands in for the read
    assert state_from_item(item).watch == LateWatch(read_at=1709306581)
    # ... and an item that never analysed anything has no read time at all
    never = state_to_item("AAPL", StoredTrendState(version=1), updated_at="2024-03-01T15:23:01Z")
    assert state_from_item(never).watch == LateWatch()


def test_a_pending_cross_without_its_averages_is_an_error_not_a_guess() -> None:
    item = state_to_item("AAPL", STATE, updated_at="x")
    del item["pending"][0]["sma_short"]

    with pytest.raises(KeyError, match="sma5"):
        state_from_item(item)


def test_the_first_save_requires_that_no_item_exists(dynamodb: tuple[Any, Stubber]) -> None:
    ddb, stubber = dynamodb
    stubber.add_response(
        "put_item",
        {},
        {
            "TableName": "state",
            "Item": ANY,
            "ConditionExpression": "attribute_not_exists(#symbol)",
            "ExpressionAttributeNames": {"#symbol": "symbol"},
        },
    )

    DynamoDBTrendStateStore("state", client=ddb).save("AAPL", StoredTrendState(version=1), expected_version=0)


def test_a_lost_conditional_write_is_a_stale_state(dynamodb: tuple[Any, Stubber]) -> None:
    ddb, stubber = dynamodb
    stubber.add_client_error(
        "put_item",
        service_error_code="ConditionalCheckFailedException",
        expected_params={
            "TableName": "state",
            "Item": ANY,
            "ConditionExpression": "#version = :expected",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":expected": {"N": "3"}},
        },
    )

    with pytest.raises(StaleState):
        DynamoDBTrendStateStore("state", client=ddb).save("AAPL", StoredTrendState(version=4), expected_version=3)


def test_other_write_errors_propagate(dynamodb: tuple[Any, Stubber]) -> None:
    ddb, stubber = dynamodb
    stubber.add_client_error("put_item", service_error_code="ProvisionedThroughputExceededException")

    with pytest.raises(ClientError):
        DynamoDBTrendStateStore("state", client=ddb).save("AAPL", StoredTrendState(version=4), expected_version=3)


def test_alerts_are_published_with_string_attributes() -> None:
    sns = client("sns")
    alert = Alert(subject="AAPL Golden Cross: uptrend", message="line 1\nline 2", attributes={"symbol": "AAPL"})
    with Stubber(sns) as stubber:
        stubber.add_response(
            "publish",
            {"MessageId": "1"},
            {
                "TopicArn": "arn:aws:sns:us-east-1:000000000000:alerts",
                "Subject": "AAPL Golden Cross: uptrend",
                "Message": "line 1\nline 2",
                "MessageAttributes": {"symbol": {"DataType": "String", "StringValue": "AAPL"}},
            },
        )
        SNSAlertPublisher("arn:aws:sns:us-east-1:000000000000:alerts", client=sns).publish(alert)
        stubber.assert_no_pending_responses()


def test_an_alert_goes_out_with_its_id_and_both_averages_as_attributes() -> None:
    sns = client("sns")
    cross = Cross("AAPL", "GOLDEN_CROSS", "2012-11-26T21:00:00Z", Decimal("589.53"), Decimal("580.12"), Decimal("575"))
    strings = {
        "alert_id": "AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS",
        "symbol": "AAPL",
        "signal": "GOLDEN_CROSS",
        "price": "589.53",
        "timestamp": "2012-11-26T21:00:00Z",
        "sma_short": "580.12",
        "sma_long": "575",
        "short_window": "5",
        "long_window": "20",
    }
    with Stubber(sns) as stubber:
        stubber.add_response(
            "publish",
            {"MessageId": "1"},
            {
                "TopicArn": "arn:aws:sns:us-east-1:000000000000:alerts",
                "Subject": "AAPL Golden Cross: uptrend",
                "Message": ANY,
                "MessageAttributes": {
                    name: {"DataType": "String", "StringValue": value} for name, value in strings.items()
                },
            },
        )
        SNSAlertPublisher("arn:aws:sns:us-east-1:000000000000:alerts", client=sns).publish(build_alert(cross))
        stubber.assert_no_pending_responses()


def test_an_alert_is_recorded_with_one_update_that_keeps_the_first_publish_time_and_adds_one(
    dynamodb: tuple[Any, Stubber],
) -> None:
    # GIVEN an alert SNS accepted, and the table answering that it was published twice now
    ddb, stubber = dynamodb
    cross = Cross("AAPL", "GOLDEN_CROSS", "2012-11-26T21:00:00Z", Decimal("589.53"), Decimal("569.8747"),
                  Decimal("565.8880"))
    alert = build_alert(cross)
    fields = {name: value for name, value in alert.attributes.items() if name != "alert_id"}
    fields.update(subject=alert.subject, message=alert.message)
    stubber.add_response(
        "update_item",
        {"Attributes": {"publish_count": {"N": "2"}, "published_at": {"S": "2026-11-25T23:16:26.000Z"}}},
        {
            "TableName": "alerts",
            "Key": {"alert_id": {"S": "AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS"}},
            "UpdateExpression": "SET "
            + ", ".join(f"#{name} = :{name}" for name in fields)
            + ", #published_at = if_not_exists(#published_at, :published_at) ADD #publish_count :one",
            "ExpressionAttributeNames": {f"#{n}": n for n in (*fields, "published_at", "publish_count")},
            "ExpressionAttributeValues": {
                **{f":{name}": {"S": value} for name, value in fields.items()},
                ":published_at": {"S": "2026-11-25T23:16:27.512Z"},
                ":one": {"N": "1"},
            },
            "ReturnValues": "UPDATED_NEW",
        },
    )

    # WHEN it is recorded
    count = DynamoDBAlertLog("alerts", client=ddb).record(alert, "2026-11-25T23:16:27.512Z")

    # THEN every field is written as published (the averages' trailing zeros kept: Strings), and the count returned
    assert count == 2
    assert fields["sma_long"] == "565.8880" and fields["short_window"] == "5"


def test_archive_objects_are_utf8_json() -> None:
    s3 = client("s3")
    with Stubber(s3) as stubber:
        stubber.add_response(
            "put_object",
            {},
            {"Bucket": "archive", "Key": "rejected/x.json", "Body": b'{"a":1}', "ContentType": "application/json"},
        )
        stubber.add_response(
            "put_object",
            {},
            {"Bucket": "archive", "Key": "raw-data/x.jsonl", "Body": b'{"a":"\xc3\xa9"}\n',
             "ContentType": "application/x-ndjson"},
        )
        S3Archive("archive", client=s3).put_object("rejected/x.json", '{"a":1}')
        S3Archive("archive", client=s3).put_object("raw-data/x.jsonl", '{"a":"\u00e9"}\n', "application/x-ndjson")
        stubber.assert_no_pending_responses()


def test_adapters_create_no_client_until_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # No region, no credentials: constructing must still work (handlers import and build lazily).
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)

    adapters = [DynamoDBTickStore("t"), DynamoDBTrendStateStore("s"), S3Archive("b"), SNSAlertPublisher("arn")]

    assert all("client" not in vars(adapter) for adapter in adapters)
