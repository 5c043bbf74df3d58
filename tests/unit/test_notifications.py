"""Notification envelopes: both key styles, Amazon's own examples, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.amazon.notifications import (
    MalformedNotification,
    UnsupportedVersion,
    check_versions,
    near_miss,
    parse_envelope,
    parse_order_change,
)
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


# --- bounds and edges: what a stranger could put on the queue --------------------------------------------
def test_a_body_nested_thousands_deep_is_malformed_not_a_crash() -> None:
    """2,000 levels of nesting end as MalformedNotification (the JSON parser's RecursionError is caught)."""
    deep = '{"a":' * 2000 + "1" + "}" * 2000
    with pytest.raises(MalformedNotification, match="nests deeper"):
        parse_envelope(deep.encode())


def test_moderate_nesting_beyond_the_limit_is_refused_before_validation() -> None:
    """Nesting the parser survives but Amazon never sends (40 levels) is refused with the place it happened."""
    envelope = order_change()
    envelope["Payload"]["Extra"] = json.loads('{"a":' * 40 + "1" + "}" * 40)
    with pytest.raises(MalformedNotification, match="nests deeper than 32 levels"):
        parse_envelope(body(envelope))


def test_a_huge_notification_id_is_refused_with_the_limit() -> None:
    """A NotificationId of 70,000 characters is malformed (it would otherwise reach Table Storage keys)."""
    envelope = order_change()
    envelope["NotificationMetadata"]["NotificationId"] = "n" * 70_000
    with pytest.raises(MalformedNotification) as error:
        parse_envelope(body(envelope))
    assert "limit is 4096" in str(error.value)
    assert "nnnnnnnnnn" not in str(error.value)  # the value itself is never echoed


def test_ids_with_control_characters_or_non_ascii_are_refused() -> None:
    """NotificationIds are printable ASCII (Amazon's are UUIDs), so they are safe as keys and in log lines."""
    for bad in ("n\x1b[31m", "n\u202eevil", "n\ud800", "a b"):
        envelope = order_change()
        envelope["NotificationMetadata"]["NotificationId"] = bad
        with pytest.raises(MalformedNotification, match="NotificationId"):
            parse_envelope(body(envelope))


def test_bodies_over_the_message_size_limit_are_refused_unread() -> None:
    """More than 256 KiB did not come from Amazon (SQS's and Service Bus Standard's limit)."""
    with pytest.raises(MalformedNotification, match="the limit is 262144"):
        parse_envelope(b"{" + b" " * (256 * 1024) + b"}")


def test_numeric_timestamps_are_refused_rather_than_read_as_1970() -> None:
    """EventTime 0 would parse as 1970-01-01: a timestamp must be ISO-8601 text."""
    envelope = order_change()
    envelope["EventTime"] = 0
    with pytest.raises(MalformedNotification, match="EventTime"):
        parse_envelope(body(envelope))
    change = order_change()
    change["Payload"]["OrderChangeNotification"]["OrderChangeTrigger"]["TimeOfOrderChange"] = 1_700_000_000
    with pytest.raises(MalformedNotification, match="TimeOfOrderChange"):
        parse_order_change(parse_envelope(body(change)))


def test_integers_too_long_to_convert_are_malformed() -> None:
    """Python refuses to convert integers of more than 4,300 digits; that is a malformed body, not a crash."""
    with pytest.raises(MalformedNotification, match="not usable JSON"):
        parse_envelope(b'{"NotificationVersion": ' + b"9" * 5000 + b"}")


@pytest.mark.parametrize(
    ("written", "meant"),
    [("order_change", "ORDER_CHANGE"), ("ORDER_CHANGE ", "ORDER_CHANGE"), ("Order-Change", "ORDER_CHANGE")],
)
def test_near_misses_of_known_types_are_recognised(written: str, meant: str) -> None:
    """A type that differs from a known one only in case, spaces or dashes is a near miss."""
    assert near_miss(written) == meant


def test_exact_and_unrelated_types_are_no_near_misses() -> None:
    """ORDER_CHANGE itself, and a type unlike any we know, are not near misses."""
    assert near_miss("ORDER_CHANGE") is None
    assert near_miss("ANY_OFFER_CHANGED") is None


@pytest.mark.parametrize("field", ["NotificationVersion", "PayloadVersion"])
def test_unknown_versions_are_refused_per_type(field: str) -> None:
    """ORDER_CHANGE 2.0 may mean something else: refused with the version this code reads."""
    envelope = order_change()
    envelope[field] = "2.0"
    with pytest.raises(UnsupportedVersion, match=r"1\.0"):
        check_versions(parse_envelope(body(envelope)))


def test_report_notifications_use_their_own_version() -> None:
    """REPORT_PROCESSING_FINISHED is version 2020-09-04 in Amazon's schema, and is accepted as such."""
    envelope = {
        "notificationVersion": "2020-09-04",
        "notificationType": "REPORT_PROCESSING_FINISHED",
        "payloadVersion": "2020-09-04",
        "eventTime": "2020-07-14T03:35:13.214Z",
        "payload": {},
        "notificationMetadata": {
            "applicationId": "app",
            "subscriptionId": "sub",
            "publishTime": "2020-07-13T19:42:04.284Z",
            "notificationId": "abc",
        },
    }
    check_versions(parse_envelope(json.dumps(envelope)))
