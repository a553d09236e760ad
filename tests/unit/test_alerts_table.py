"""`tickstack alerts` reads the alerts table on every target; where the audit queue can be peeked, it counts deliveries.

No network: the table is a botocore Stubber answering Scan, the queue a list of SNS envelopes, and
the targets are the real MiniStack and Aws classes with those two reads swapped in.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.stub import Stubber

from stock_pipeline import contract
from stock_pipeline.adapters import alert_fields
from stock_pipeline.contract import ALERTS_PARTITION_KEY, AlertItem, Env, sns_time
from stock_pipeline.trend import Cross, build_alert
from tickstack.errors import TargetError
from tickstack.ops.alerts import ALERT_FIELDS, combine, logged_record, parse_envelope, read_alerts
from tickstack.settings import Settings
from tickstack.targets.aws import Aws
from tickstack.targets.ministack import MiniStack

from .fakes import InMemoryAlertLog

GOLDEN = build_alert(Cross("AAPL", "GOLDEN_CROSS", "2012-11-26T21:00:00Z", Decimal("589.53"), Decimal("569.8747"),
                           Decimal("565.8880")))
DEATH = build_alert(Cross("AAPL", "DEATH_CROSS", "2012-12-07T21:00:00Z", Decimal("533.25"), Decimal("556.2644"),
                          Decimal("559.8011")))
MSFT = build_alert(Cross("MSFT", "GOLDEN_CROSS", "2012-03-01T21:00:00Z", Decimal("32.29"), Decimal("31.6260"),
                         Decimal("31.5000")))
TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"


def envelope(alert, timestamp: str) -> dict:
    """An SNS notification of `alert` as the audit queue holds it (raw delivery off)."""
    body = {"Type": "Notification", "MessageId": f"m-{timestamp}", "Subject": alert.subject, "Message": alert.message,
            "Timestamp": timestamp,
            "MessageAttributes": {k: {"Type": "String", "Value": v} for k, v in alert.attributes.items()}}
    return {"Body": json.dumps(body)}


def table_of(*published: tuple[Any, str]) -> InMemoryAlertLog:
    """The alerts table after each (alert, published_at) was recorded, in that order."""
    log = InMemoryAlertLog()
    for alert, published_at in published:
        log.record(alert, published_at)
    return log


def scan_pages(log: InMemoryAlertLog, per_page: int = 1) -> list[dict]:
    """The table's items as Scan pages of `per_page` items, serialized as DynamoDB returns them."""
    serializer = TypeSerializer()
    items = [{k: serializer.serialize(v) for k, v in item.items()} for item in log.items.values()]
    pages = [items[i:i + per_page] for i in range(0, len(items), per_page)] or [[]]
    return [{"Items": page, **({"LastEvaluatedKey": {"alert_id": {"S": f"k{i}"}}} if i < len(pages) - 1 else {})}
            for i, page in enumerate(pages)]


class Stubbed:
    """Swaps a target's DynamoDB client for one whose Scan answers from `log`, page by page."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, target, log: InMemoryAlertLog, reads: int = 1) -> None:
        self.ddb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        self.stubber = Stubber(self.ddb)
        for _ in range(reads):
            pages = scan_pages(log)
            for i, page in enumerate(pages):
                request = {"TableName": "t-alerts", "ConsistentRead": True}
                if i:
                    request["ExclusiveStartKey"] = pages[i - 1]["LastEvaluatedKey"]
                self.stubber.add_response("scan", page, request)
        self.stubber.activate()
        monkeypatch.setattr(target, "client", lambda service: {"dynamodb": self.ddb}[service])


class PeekedStack(MiniStack):
    """A deployed emulator whose audit queue holds `messages`."""

    def __init__(self, home: Path, messages: list[dict], outputs: dict) -> None:
        super().__init__(Settings(home=home, port=1, region="us-east-1", name_prefix="t"))
        self.messages = messages
        self.home.mkdir(parents=True)
        self.outputs_path.write_text(json.dumps(outputs))

    def audit_messages(self, queue_url: str) -> list[dict]:
        assert queue_url == "queue"
        return self.messages


OUTPUTS = {"alerts_table_name": "t-alerts", "alert_audit_queue_url": "queue"}


@pytest.fixture
def aws(tmp_path: Path) -> Aws:
    target = Aws(Settings(home=tmp_path, port=4566, region="us-east-1", name_prefix="t"), "dev")
    target.home.mkdir(parents=True)
    target.outputs_path.write_text(json.dumps(OUTPUTS))
    return target


# --- an emulator: the table lists, the queue proves delivery --------------------------------------------------


def test_on_an_emulator_deliveries_come_from_the_queue_and_the_table_lists_every_alert(tmp_path, monkeypatch):
    # GIVEN the table holds three alerts (the golden one published twice after a crash), and the queue
    # holds two deliveries of the golden one, one of the death one, none yet of MSFT's
    log = table_of((GOLDEN, "2026-11-25T23:16:26.041Z"), (DEATH, "2026-11-25T23:16:26.090Z"),
                   (GOLDEN, "2026-11-25T23:16:29.500Z"), (MSFT, "2026-11-25T23:17:00.000Z"))
    queue = [envelope(DEATH, "2026-11-25T23:16:26.087Z"), envelope(GOLDEN, "2026-11-25T23:16:26.038Z"),
             envelope(GOLDEN, "2026-11-25T23:16:29.497Z")]
    stack = PeekedStack(tmp_path / "home", queue, OUTPUTS)
    Stubbed(monkeypatch, stack, log)

    # WHEN the alerts are read
    alerts = read_alerts(stack)

    # THEN each is listed once, oldest first, as published; deliveries are what the queue holds, sent_at the
    # first delivery's SNS time, and the alert not delivered yet is listed with 0 and the table's time
    assert [(a["alert_id"], a["deliveries"], a["sent_at"]) for a in alerts] == [
        ("AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS", 2, "2026-11-25T23:16:26.038Z"),
        ("AAPL-2012-12-07T21:00:00Z-DEATH_CROSS", 1, "2026-11-25T23:16:26.087Z"),
        ("MSFT-2012-03-01T21:00:00Z-GOLDEN_CROSS", 0, "2026-11-25T23:17:00.000Z"),
    ]
    assert all(list(a) == list(ALERT_FIELDS) for a in alerts)


def test_on_an_emulator_the_records_are_those_the_queue_alone_gave(tmp_path, monkeypatch):
    # GIVEN two alerts, each recorded and delivered once
    log = table_of((GOLDEN, "2026-11-25T23:16:26.041Z"), (DEATH, "2026-11-25T23:16:26.090Z"))
    queue = [envelope(GOLDEN, "2026-11-25T23:16:26.038Z"), envelope(DEATH, "2026-11-25T23:16:26.087Z")]
    stack = PeekedStack(tmp_path / "home", queue, OUTPUTS)
    Stubbed(monkeypatch, stack, log, reads=2)
    before = combine([], [parse_envelope(m["Body"]) for m in queue])  # what reading the queue alone gives

    # WHEN read twice from the table
    first, second = read_alerts(stack), read_alerts(stack)

    # THEN the same list both times, equal field for field to the queue-only one
    assert first == second == before


def test_an_alert_delivered_but_not_recorded_yet_is_listed_from_its_delivery(tmp_path, monkeypatch):
    # GIVEN the function died after SNS took the death cross and before the table recorded it
    log = table_of((GOLDEN, "2026-11-25T23:16:26.041Z"))
    queue = [envelope(GOLDEN, "2026-11-25T23:16:26.038Z"), envelope(DEATH, "2026-11-25T23:16:26.087Z")]
    stack = PeekedStack(tmp_path / "home", queue, OUTPUTS)
    Stubbed(monkeypatch, stack, log)

    alerts = read_alerts(stack)

    assert [(a["signal"], a["deliveries"]) for a in alerts] == [("GOLDEN_CROSS", 1), ("DEATH_CROSS", 1)]
    assert alerts[1] == parse_envelope(queue[1]["Body"])


def test_an_emulator_deployed_before_the_table_is_read_from_its_queue_as_before(tmp_path):
    queue = [envelope(GOLDEN, "2026-11-25T23:16:26.038Z"), envelope(GOLDEN, "2026-11-25T23:16:27.000Z")]
    stack = PeekedStack(tmp_path / "home", queue, {"alert_audit_queue_url": "queue"})

    alerts = read_alerts(stack)

    assert [(a["alert_id"], a["deliveries"]) for a in alerts] == [("AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS", 2)]


# --- aws: the table alone ----------------------------------------------------------------------------------


def test_on_aws_the_table_is_read_and_deliveries_are_the_publish_counts(aws, monkeypatch):
    # GIVEN the table holds three alerts, the golden one published twice, listed over three Scan pages
    log = table_of((MSFT, "2026-11-25T23:17:00.000Z"), (GOLDEN, "2026-11-25T23:16:26.041Z"),
                   (DEATH, "2026-11-25T23:16:26.090Z"), (GOLDEN, "2026-11-25T23:16:29.500Z"))
    stubbed = Stubbed(monkeypatch, aws, log, reads=2)

    # WHEN the alerts are read, twice
    first, second = read_alerts(aws), read_alerts(aws)

    # THEN no queue was touched (the target has no peek), every page was read, the list is sorted oldest first
    # by first publish, and deliveries are the publish counts
    stubbed.stubber.assert_no_pending_responses()
    assert first == second
    assert [(a["alert_id"], a["deliveries"], a["sent_at"]) for a in first] == [
        ("AAPL-2012-11-26T21:00:00Z-GOLDEN_CROSS", 2, "2026-11-25T23:16:26.041Z"),
        ("AAPL-2012-12-07T21:00:00Z-DEATH_CROSS", 1, "2026-11-25T23:16:26.090Z"),
        ("MSFT-2012-03-01T21:00:00Z-GOLDEN_CROSS", 1, "2026-11-25T23:17:00.000Z"),
    ]
    # ... each in the published shape, the texts and the averages exactly as SNS got them
    golden = first[0]
    assert golden == {**parse_envelope(envelope(GOLDEN, golden["sent_at"])["Body"]), "deliveries": 2}
    assert (first[2]["sma5"], first[2]["sma20"]) == ("31.6260", "31.5000")


def test_the_aws_target_says_it_cannot_peek_its_queue(aws):
    assert aws.audit_messages("https://sqs.us-east-1.amazonaws.com/123456789012/t-dev-alert-audit") is None


def test_on_aws_a_stack_deployed_before_the_table_is_told_to_deploy_again(aws):
    aws.outputs_path.write_text(json.dumps({"alert_audit_queue_url": "queue"}))

    with pytest.raises(TargetError, match="deploy again to create the table"):
        read_alerts(aws)


def test_sorting_breaks_ties_by_tick_then_alert_id():
    same = "2026-11-25T23:16:26.000Z"
    log = table_of((MSFT, same), (DEATH, same), (GOLDEN, same))

    assert [a["timestamp"] for a in combine(log.items.values(), None)] == [
        "2012-03-01T21:00:00Z", "2012-11-26T21:00:00Z", "2012-12-07T21:00:00Z"]


# --- one shape, one set of names ---------------------------------------------------------------------------


def test_a_logged_alert_reads_as_its_sns_delivery():
    item = table_of((GOLDEN, "2026-11-25T23:16:26.041Z")).items[GOLDEN.attributes["alert_id"]]

    assert logged_record(item, sent_at="2026-11-25T23:16:26.038Z", deliveries=1) == parse_envelope(
        envelope(GOLDEN, "2026-11-25T23:16:26.038Z")["Body"])


def test_the_alert_item_fields_are_those_the_function_writes():
    item = table_of((GOLDEN, "2026-11-25T23:16:26.041Z")).items[GOLDEN.attributes["alert_id"]]

    assert set(item) == {value for name, value in vars(AlertItem).items() if name.isupper()}
    assert set(alert_fields(GOLDEN)) == set(item) - {AlertItem.PUBLISHED_AT, AlertItem.PUBLISH_COUNT}
    assert set(contract.ALERT_ATTRIBUTES) <= set(item)


def test_published_times_are_written_as_sns_stamps_its_notifications():
    assert sns_time(1_764_112_586.0415) == "2025-11-25T23:16:26.041Z"
    assert sns_time(0) == "1970-01-01T00:00:00.000Z"


def test_terraform_keys_the_table_and_names_it_to_the_trend_function_and_the_cli():
    import hcl2

    options = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
    with (TERRAFORM_DIR / "storage.tf").open() as file:
        tables = {name: body for block in hcl2.load(file, serialization_options=options)["resource"]
                  for kind, resources in block.items() if kind == "aws_dynamodb_table"
                  for name, body in resources.items()}
    compute = (TERRAFORM_DIR / "compute.tf").read_text()
    outputs = (TERRAFORM_DIR / "outputs.tf").read_text()

    assert tables["alerts"]["hash_key"] == ALERTS_PARTITION_KEY
    assert re.search(rf"\b{Env.ALERTS_TABLE}\s*=\s*aws_dynamodb_table\.alerts\.name", compute)
    assert re.search(r'output "alerts_table_name" \{[^}]*aws_dynamodb_table\.alerts\.name', outputs)
