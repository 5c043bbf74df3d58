"""Bad input: clear errors, correct escaping, nothing lost, nothing written twice."""

from __future__ import annotations

import json
import uuid

import pytest

from sandbox.amazon_samples import OrderFactory, order_change_notification
from sandbox.harness import Sandbox
from tests.sandbox_support import crm_lines, crm_orders, send

pytestmark = pytest.mark.sockets


def _dead_letter_for(sandbox: Sandbox, message_id: str):
    [letter] = [letter for letter in sandbox.queue.dead_letters if letter.message.message_id == message_id]
    return letter


@pytest.mark.parametrize(
    ("body", "reason", "says"),
    [
        (b'{"NotificationType": "ORDER_CHANGE", "Payl', "MalformedNotification", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "MalformedNotification", "not UTF-8"),
        (b"[]", "MalformedNotification", "JSON list"),
        (
            json.dumps({"NotificationType": "ORDER_CHANGE"}).encode(),
            "MalformedNotification",
            "NotificationMetadata: Field required",
        ),
    ],
)
def test_unreadable_messages_are_dead_lettered_on_first_delivery_with_a_reason(
    sandbox: Sandbox, body: bytes, reason: str, says: str
) -> None:
    """Not JSON, not UTF-8, not an envelope: dead-lettered at once, the description says why."""
    message_id = str(uuid.uuid4())
    sandbox.publish_raw(body, message_id)
    sandbox.deliver()
    letter = _dead_letter_for(sandbox, message_id)
    assert letter.reason == reason
    assert letter.description is not None
    assert says in letter.description
    assert letter.message.delivery_count == 0  # first delivery: never retried
    assert sandbox.spapi.requests.total() == 0


def test_wrong_types_and_missing_fields_are_named(sandbox: Sandbox) -> None:
    """A payload with a mistyped quantity and no order id is dead-lettered naming both fields."""
    envelope = order_change_notification(OrderFactory(seed=1).order(status="UNSHIPPED"))
    payload = envelope["Payload"]["OrderChangeNotification"]
    payload["Summary"]["OrderItems"][0]["Quantity"] = "two"
    del payload["AmazonOrderId"]
    message_id = str(uuid.uuid4())
    sandbox.queue.send(json.dumps(envelope).encode(), message_id=message_id)
    sandbox.deliver()
    letter = _dead_letter_for(sandbox, message_id)
    assert letter.reason == "MalformedNotification"
    assert "AmazonOrderId: Field required" in (letter.description or "")
    assert "OrderItems.0.Quantity" in (letter.description or "")


def test_notifications_for_another_seller_are_dead_lettered(sandbox: Sandbox) -> None:
    """A notification for a seller other than SPAPI_SELLER_ID is parked, not applied."""
    envelope = order_change_notification(
        OrderFactory(seed=2).order(status="UNSHIPPED"), seller_id="AOTHERSELLER1"
    )
    sandbox.publish(envelope)
    sandbox.deliver()
    [letter] = sandbox.queue.dead_letters
    assert letter.reason == "ForeignSeller"
    assert crm_orders(sandbox) == {}


def test_an_order_amazon_does_not_know_is_dead_lettered(sandbox: Sandbox) -> None:
    """getOrder 404: the notification is dead-lettered as AmazonOrderNotFound (retrying cannot help)."""
    sandbox.publish(
        order_change_notification(OrderFactory(seed=3).order(status="UNSHIPPED"))
    )  # never put_order
    sandbox.deliver()
    [letter] = sandbox.queue.dead_letters
    assert letter.reason == "AmazonOrderNotFound"


AWKWARD_IDS = ["113-O'BRIEN#1", "113-A&B+C", "113-SLASH/QUERY?", "113-100%", "113-CAFÉ-ÜNÏ"]


@pytest.mark.parametrize("order_id", AWKWARD_IDS)
def test_order_ids_with_awkward_characters_land_exactly_once(sandbox: Sandbox, order_id: str) -> None:
    """Ids with ' # & + / ? % and non-ASCII reach Amazon, Table Storage and Dataverse intact, three
    deliveries included, one salesorder with all its lines."""
    order = OrderFactory(seed=4).order(
        status="UNSHIPPED",
        marketplace_id="ATVPDKIKX0DER",
        fulfilled_by="MERCHANT",
        item_count=2,
        order_id=order_id,
    )
    sandbox.spapi.put_order(order.to_api())
    envelope = order_change_notification(order)
    for _ in range(3):
        send(sandbox, envelope)
    sandbox.deliver()
    orders = crm_orders(sandbox)
    assert list(orders) == [order_id]
    assert len(crm_lines(sandbox, order_id)) == 2
    assert sandbox.queue.dead_letters == []
    assert sandbox.spapi.requests.total(["getOrder"]) == 1


def test_skus_with_awkward_characters_find_their_products(sandbox: Sandbox) -> None:
    """Every seeded special-character SKU is found by $filter and linked to its product."""
    from sandbox.dataverse_seed import PRODUCT_IDS, SPECIAL_SKUS
    from sandbox.scenario import _with_awkward_skus

    order = _with_awkward_skus(
        OrderFactory(seed=5).order(
            status="UNSHIPPED",
            marketplace_id="ATVPDKIKX0DER",
            fulfilled_by="MERCHANT",
            item_count=len(SPECIAL_SKUS),
        )
    )
    sandbox.spapi.put_order(order.to_api())
    sandbox.publish(order_change_notification(order))
    sandbox.deliver()
    lines = crm_lines(sandbox, order.order_id)
    assert {line["new_amazonsellersku"] for line in lines} == set(SPECIAL_SKUS)
    for line in lines:
        assert line["productid"] == PRODUCT_IDS[line["new_amazonsellersku"]]


def test_every_message_is_either_completed_or_dead_lettered(sandbox: Sandbox) -> None:
    """Mixed good and bad input: the counts add up, nothing is lost, nothing stays in the queue."""
    factory = OrderFactory(seed=6)
    for _ in range(5):
        order = factory.order(status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
        sandbox.spapi.put_order(order.to_api())
        sandbox.publish(order_change_notification(order))
    for body in (b"{", b"null", b'{"a": 1}'):
        sandbox.publish_raw(body)
    sandbox.deliver()
    assert sandbox.queue.completed == 5
    assert len(sandbox.queue.dead_letters) == 3
    assert sandbox.queue.active_count == 0
    assert len(crm_orders(sandbox)) == 5
