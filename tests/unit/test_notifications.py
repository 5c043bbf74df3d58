"""Notification envelopes: both key styles, Amazon's own examples, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.amazon.notifications import MalformedNotification, parse_envelope, parse_order_change
from tests.builders import body, order_change


def test_pascal_case_envelope_is_parsed() -> None:
    """ORDER_CHANGE uses PascalCase keys."""
    envelope = parse_envelope(body(order_change(notification_id="n-1")))
    assert envelope.notification_type == "ORDER_CHANGE"
    assert envelope.notification_id == "n-1"
    assert envelope.event_time.tzinfo is not None


def test_camel_case_envelope_is_parsed() -> None:
    """REPORT_PROCESSING_FINISHED uses camelCase keys for the same envelope."""
    envelope = parse_envelope(
        json.dumps(
            {
                "notificationVersion": "2020-09-04",
                "notificationType": "REPORT_PROCESSING_FINISHED",
                "payloadVersion": "2020-09-04",
                "eventTime": "2020-07-14T03:35:13.214Z",
                "payload": {"reportProcessingFinishedNotification": {"reportId": "1"}},
                "notificationMetadata": {
                    "applicationId": "app",
                    "subscriptionId": "sub",
                    "publishTime": "2020-07-13T19:42:04.284Z",
                    "notificationId": "abc",
                },
            }
        )
    )
    assert envelope.notification_type == "REPORT_PROCESSING_FINISHED"
    assert envelope.notification_id == "abc"


@pytest.mark.parametrize(
    "schema", ["OrderChangeNotification.json", "ReportProcessingFinishedNotification.json"]
)
def test_amazons_published_examples_parse(spapi_models_dir: Path, schema: str) -> None:
    """Every example in Amazon's notification schemas is a valid envelope."""
    document = json.loads((spapi_models_dir / "schemas" / "notifications" / schema).read_text("utf-8"))
    for example in document["examples"]:
        assert parse_envelope(json.dumps(example)).notification_id


def test_amazons_order_change_example_payload_parses(spapi_models_dir: Path) -> None:
    """The ORDER_CHANGE example payload maps to our model, statuses and items included."""
    document = json.loads(
        (spapi_models_dir / "schemas/notifications/OrderChangeNotification.json").read_text("utf-8")
    )
    change = parse_order_change(parse_envelope(json.dumps(document["examples"][0])))
    assert change.amazon_order_id == "903-8868176-2219830"
    assert change.summary.order_status == "Unshipped"
    assert change.summary.order_items[0].seller_sku == "SellerSKUID1"
    assert change.trigger.time_of_order_change is not None


def test_null_time_of_order_change_is_accepted() -> None:
    """Amazon documents TimeOfOrderChange as nullable."""
    change = parse_order_change(parse_envelope(body(order_change(change_time=None))))
    assert change.trigger.time_of_order_change is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "JSON list, not a notification object"),
        (b'"text"', "JSON str"),
        (json.dumps({"NotificationType": "ORDER_CHANGE"}).encode(), "NotificationMetadata: Field required"),
    ],
)
def test_unreadable_bodies_say_what_is_wrong(raw: bytes, expected: str) -> None:
    """Bad bodies raise MalformedNotification naming the problem."""
    with pytest.raises(MalformedNotification, match=expected):
        parse_envelope(raw)


def test_missing_notification_id_is_named() -> None:
    """The dedupe key must be present."""
    envelope = order_change()
    del envelope["NotificationMetadata"]["NotificationId"]
    with pytest.raises(MalformedNotification, match=r"NotificationMetadata\.NotificationId: Field required"):
        parse_envelope(body(envelope))


def test_wrong_types_in_the_payload_are_named_without_values() -> None:
    """A wrong type is reported by its path; the offending value (possibly personal) is not echoed."""
    envelope = order_change()
    summary = envelope["Payload"]["OrderChangeNotification"]["Summary"]
    summary["OrderItems"][0]["Quantity"] = "ten-units-for-Jane-Doe"
    del envelope["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    with pytest.raises(MalformedNotification) as error:
        parse_order_change(parse_envelope(body(envelope)))
    message = str(error.value)
    assert "Payload.OrderChangeNotification.AmazonOrderId: Field required" in message
    assert "Payload.OrderChangeNotification.Summary.OrderItems.0.Quantity" in message
    assert "Jane" not in message


def test_payload_without_the_order_change_object_is_refused() -> None:
    """An ORDER_CHANGE envelope whose payload lacks OrderChangeNotification is malformed."""
    envelope = order_change()
    envelope["Payload"] = {"Something": {}}
    with pytest.raises(MalformedNotification, match="no OrderChangeNotification"):
        parse_order_change(parse_envelope(body(envelope)))


def test_new_order_status_values_do_not_break_parsing() -> None:
    """A status Amazon adds later parses; the flow decides what to do with it."""
    change = parse_order_change(parse_envelope(body(order_change(status="SomethingNew"))))
    assert change.summary.order_status == "SomethingNew"


def test_postal_code_is_not_in_the_summary_repr() -> None:
    """The destination postal code is personal data and stays out of reprs."""
    change = parse_order_change(parse_envelope(body(order_change())))
    assert "98101" not in repr(change)
