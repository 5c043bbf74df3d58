"""Notifications API v1 in the SP-API emulator: destinations (grantless), subscriptions (the seller's), filters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.amazon_samples import OrderFactory, order_change_notification
from sandbox.spapi_emulator import SpApiEmulator
from tests.spapi_emulator_support import Running, emulator_fixtures, error_of

pytestmark = pytest.mark.sockets

DESTINATIONS = "/notifications/v1/destinations"
SUBSCRIPTIONS = "/notifications/v1/subscriptions"
ARN = "arn:aws:sqs:us-east-1:123456789012:sp-api-notifications"
US, UK = "ATVPDKIKX0DER", "A1F83G8C2ARO7P"


emu_server, emu = emulator_fixtures()


def create_destination(emu: Running, arn: str = ARN, name: str = "orders") -> httpx.Response:
    return emu.grantless.post(
        DESTINATIONS, json={"name": name, "resourceSpecification": {"sqs": {"arn": arn}}}
    )


def subscribe(emu: Running, notification_type: str = "ORDER_CHANGE", **body: Any) -> httpx.Response:
    destination_id = (
        create_destination(emu).json()["payload"]["destinationId"] if "destinationId" not in body else None
    )
    payload = {"payloadVersion": "1.0", "destinationId": destination_id, **body}
    return emu.seller.post(f"{SUBSCRIPTIONS}/{notification_type}", json=payload)


def test_create_destination_with_a_grantless_token_returns_the_destination(emu: Running) -> None:
    """createDestination with the notifications-scope token answers 200 with id, name and the SQS resource."""
    response = create_destination(emu)

    assert response.status_code == 200
    payload = response.json()["payload"]
    assert payload["name"] == "orders"
    assert payload["resource"] == {"sqs": {"arn": ARN}}
    assert emu.emulator.notifications.destinations == [payload]
    assert response.headers["x-amzn-RateLimit-Limit"] == "1.0"


def test_destination_calls_refuse_the_sellers_token(emu: Running) -> None:
    """A seller (refresh-token) token on a grantless operation is 403 Unauthorized, nothing is created."""
    response = emu.seller.post(
        DESTINATIONS, json={"name": "x", "resourceSpecification": {"sqs": {"arn": ARN}}}
    )
    listing = emu.seller.get(DESTINATIONS)

    assert response.status_code == 403
    assert error_of(response)["code"] == "Unauthorized"
    assert listing.status_code == 403
    assert emu.emulator.notifications.destinations == []


def test_subscription_calls_refuse_a_grantless_token(emu: Running) -> None:
    """createSubscription acts for the seller: a grantless token is 403."""
    destination_id = create_destination(emu).json()["payload"]["destinationId"]

    response = emu.grantless.post(
        f"{SUBSCRIPTIONS}/ORDER_CHANGE", json={"payloadVersion": "1.0", "destinationId": destination_id}
    )

    assert response.status_code == 403
    assert emu.emulator.notifications.subscriptions == []


def test_a_grantless_token_of_another_scope_cannot_manage_destinations(emu: Running) -> None:
    """Only the sellingpartnerapi::notifications scope opens the destination operations."""
    token = emu.emulator.issue_grantless_token("sellingpartnerapi::client_credential:rotation")

    response = emu.http.get(DESTINATIONS, headers={"x-amz-access-token": token})

    assert response.status_code == 403


def test_a_second_destination_for_the_same_queue_is_409_conflict(emu: Running) -> None:
    """Amazon keeps one destination per SQS ARN: creating it again is 409 Conflict naming the ARN."""
    create_destination(emu)

    again = create_destination(emu, name="again")

    assert again.status_code == 409
    error = error_of(again)
    assert error["code"] == "Conflict"
    assert ARN in error["details"]
    assert len(emu.emulator.notifications.destinations) == 1


@pytest.mark.parametrize(
    "specification",
    [
        {"sqs": {"arn": "arn:aws:sns:us-east-1:123456789012:topic"}},
        {"sqs": {}},
        {},
        {"sqs": {"arn": ARN}, "eventBridge": {"region": "us-east-1", "accountId": "123456789012"}},
    ],
    ids=["not-sqs", "no-arn", "empty", "both"],
)
def test_create_destination_rejects_bad_resource_specifications(
    emu: Running, specification: dict[str, Any]
) -> None:
    """An ARN that is not SQS, a missing ARN, no resource or two resources are 400 InvalidInput."""
    response = emu.grantless.post(DESTINATIONS, json={"name": "x", "resourceSpecification": specification})

    assert response.status_code == 400
    assert error_of(response)["code"] == "InvalidInput"


def test_event_bridge_destinations_name_the_partner_event_source(emu: Running) -> None:
    """An EventBridge destination gets Amazon's partner event source name with account and application."""
    response = emu.grantless.post(
        DESTINATIONS,
        json={
            "name": "bus",
            "resourceSpecification": {"eventBridge": {"region": "eu-west-1", "accountId": "111122223333"}},
        },
    )

    bridge = response.json()["payload"]["resource"]["eventBridge"]
    assert bridge["name"].startswith("aws.partner/sellingpartnerapi.amazon.com/111122223333/")
    assert bridge["region"] == "eu-west-1"


def test_get_and_delete_destination_by_id(emu: Running) -> None:
    """getDestination returns it; deleteDestination removes it; afterwards both are 404."""
    destination_id = create_destination(emu).json()["payload"]["destinationId"]

    got = emu.grantless.get(f"{DESTINATIONS}/{destination_id}")
    deleted = emu.grantless.delete(f"{DESTINATIONS}/{destination_id}")
    gone = emu.grantless.get(f"{DESTINATIONS}/{destination_id}")
    deleted_again = emu.grantless.delete(f"{DESTINATIONS}/{destination_id}")

    assert got.json()["payload"]["destinationId"] == destination_id
    assert deleted.status_code == 200
    assert gone.status_code == 404
    assert deleted_again.status_code == 404
    assert emu.grantless.get(DESTINATIONS).json() == {"payload": []}


def test_a_destination_with_subscriptions_cannot_be_deleted(emu: Running) -> None:
    """Tear-down order matters: the destination of a live subscription stays until it is unsubscribed."""
    subscription = subscribe(emu).json()["payload"]

    refused = emu.grantless.delete(f"{DESTINATIONS}/{subscription['destinationId']}")

    assert refused.status_code == 403
    assert error_of(refused)["details"] == "Destination has subscriptions"
    assert len(emu.emulator.notifications.destinations) == 1


def test_create_subscription_with_an_order_change_event_filter(emu: Running) -> None:
    """ORDER_CHANGE takes eventFilter marketplaceIds and orderChangeTypes; the answer echoes the directive."""
    directive = {
        "eventFilter": {
            "eventFilterType": "ORDER_CHANGE",
            "marketplaceIds": [US],
            "orderChangeTypes": ["OrderStatusChange", "BuyerRequestedChange"],
        }
    }

    response = subscribe(emu, processingDirective=directive)

    assert response.status_code == 200
    payload = response.json()["payload"]
    assert payload["payloadVersion"] == "1.0"
    assert payload["processingDirective"] == directive
    [stored] = emu.emulator.notifications.subscriptions_for("ORDER_CHANGE")
    assert stored["subscriptionId"] == payload["subscriptionId"]


def test_subscribing_twice_to_a_type_is_409_state_conflict(emu: Running) -> None:
    """A second subscription for the same type and payload version is refused even to another destination."""
    first = subscribe(emu).json()["payload"]
    other = create_destination(emu, arn=ARN + "-2").json()["payload"]["destinationId"]

    again = emu.seller.post(
        f"{SUBSCRIPTIONS}/ORDER_CHANGE", json={"payloadVersion": "1.0", "destinationId": other}
    )

    assert again.status_code == 409
    assert error_of(again)["code"] == "StateConflict"
    assert [s["subscriptionId"] for s in emu.emulator.notifications.subscriptions] == [
        first["subscriptionId"]
    ]


@pytest.mark.parametrize(
    ("notification_type", "directive"),
    [
        ("ORDER_CHANGE", {"eventFilter": {"eventFilterType": "ANY_OFFER_CHANGED"}}),
        ("REPORT_PROCESSING_FINISHED", {"eventFilter": {"eventFilterType": "REPORT_PROCESSING_FINISHED"}}),
        (
            "ORDER_CHANGE",
            {"eventFilter": {"eventFilterType": "ORDER_CHANGE", "orderChangeTypes": ["Shipped"]}},
        ),
        (
            "ORDER_CHANGE",
            {
                "eventFilter": {
                    "eventFilterType": "ORDER_CHANGE",
                    "aggregationSettings": {"aggregationTimePeriod": "FiveMinutes"},
                }
            },
        ),
        ("ORDER_CHANGE", {"eventFilter": {"marketplaceIds": [US]}}),
        ("ORDER_CHANGE", {"eventFilter": {"eventFilterType": "ORDER_CHANGE"}, "filterExpression": "true"}),
    ],
    ids=[
        "other-filter-type",
        "type-without-filters",
        "bad-change-type",
        "aggregation-on-orders",
        "no-filter-type",
        "both",
    ],
)
def test_event_filters_must_fit_the_notification_type(
    emu: Running, notification_type: str, directive: dict[str, Any]
) -> None:
    """Filters of another type, unknown change types, foreign keys or filter plus expression are 400."""
    response = subscribe(emu, notification_type, processingDirective=directive)

    assert response.status_code == 400
    assert emu.emulator.notifications.subscriptions == []


def test_create_subscription_needs_an_existing_destination_and_known_type(emu: Running) -> None:
    """An unknown destination id, an unknown notification type or a missing payloadVersion are 400."""
    destination_id = create_destination(emu).json()["payload"]["destinationId"]

    unknown_destination = emu.seller.post(
        f"{SUBSCRIPTIONS}/ORDER_CHANGE", json={"payloadVersion": "1.0", "destinationId": "nope"}
    )
    unknown_type = emu.seller.post(
        f"{SUBSCRIPTIONS}/ORDER_CHANGES", json={"payloadVersion": "1.0", "destinationId": destination_id}
    )
    no_version = emu.seller.post(f"{SUBSCRIPTIONS}/ORDER_CHANGE", json={"destinationId": destination_id})

    assert [r.status_code for r in (unknown_destination, unknown_type, no_version)] == [400, 400, 400]


def test_get_subscription_by_type_and_by_id(emu: Running) -> None:
    """getSubscription finds it by type; getSubscriptionById by id, with a seller or a grantless token."""
    created = subscribe(emu, "REPORT_PROCESSING_FINISHED", payloadVersion="2020-09-04").json()["payload"]
    path = f"{SUBSCRIPTIONS}/REPORT_PROCESSING_FINISHED/{created['subscriptionId']}"

    by_type = emu.seller.get(f"{SUBSCRIPTIONS}/REPORT_PROCESSING_FINISHED")
    by_id_seller = emu.seller.get(path)
    by_id_grantless = emu.grantless.get(path)
    missing = emu.seller.get(f"{SUBSCRIPTIONS}/ORDER_CHANGE")

    assert by_type.json() == {"payload": created}
    assert by_id_seller.json() == by_id_grantless.json() == {"payload": created}
    assert missing.status_code == 404


def test_get_subscriptions_lists_one_type_and_needs_exactly_one(emu: Running) -> None:
    """getSubscriptions returns the type's subscriptions; zero or two notificationTypes are 400."""
    created = subscribe(emu).json()["payload"]

    listed = emu.seller.get(SUBSCRIPTIONS, params={"notificationTypes": "ORDER_CHANGE"})
    none = emu.seller.get(SUBSCRIPTIONS)
    two = emu.seller.get(SUBSCRIPTIONS, params={"notificationTypes": "ORDER_CHANGE,ANY_OFFER_CHANGED"})
    small_page = emu.seller.get(SUBSCRIPTIONS, params={"notificationTypes": "ORDER_CHANGE", "pageSize": "10"})

    assert listed.json() == {"payload": {"subscriptions": [created]}}
    assert [none.status_code, two.status_code, small_page.status_code] == [400, 400, 400]


def test_delete_subscription_by_id_stops_deliveries(emu: Running) -> None:
    """After deleteSubscriptionById the subscription is gone and publish() delivers nothing."""
    created = subscribe(emu).json()["payload"]
    envelope = order_change_notification(OrderFactory(seed=1).order(marketplace_id=US))

    deleted = emu.seller.delete(f"{SUBSCRIPTIONS}/ORDER_CHANGE/{created['subscriptionId']}")
    deliveries = emu.emulator.notifications.publish(envelope)

    assert deleted.status_code == 200
    assert emu.emulator.notifications.subscriptions == []
    assert deliveries == []
    assert emu.seller.delete(f"{SUBSCRIPTIONS}/ORDER_CHANGE/{created['subscriptionId']}").status_code == 404


def test_publish_applies_the_event_filter(emu: Running) -> None:
    """A US-only, status-change-only subscription receives US status changes, not UK ones or buyer requests."""
    subscription = subscribe(
        emu,
        processingDirective={
            "eventFilter": {
                "eventFilterType": "ORDER_CHANGE",
                "marketplaceIds": [US],
                "orderChangeTypes": ["OrderStatusChange"],
            }
        },
    ).json()["payload"]
    factory = OrderFactory(seed=2)
    us_order, uk_order = factory.order(marketplace_id=US), factory.order(marketplace_id=UK)
    notifications = emu.emulator.notifications

    delivered = notifications.publish(order_change_notification(us_order))
    other_marketplace = notifications.publish(order_change_notification(uk_order))
    buyer_request = notifications.publish(
        order_change_notification(us_order, order_change_type="BuyerRequestedChange")
    )

    assert len(delivered) == 1
    assert delivered[0].resource == {"sqs": {"arn": ARN}}
    assert delivered[0].envelope["NotificationMetadata"]["SubscriptionId"] == subscription["subscriptionId"]
    assert other_marketplace == []
    assert buyer_request == []
    assert len(notifications.outbox) == 1


def test_unknown_query_parameters_are_refused(emu: Running) -> None:
    """Like every emulated operation, getDestinations refuses a query parameter its model does not declare."""
    response = emu.grantless.get(DESTINATIONS, params={"limit": "5"})

    assert response.status_code == 400
    assert "limit" in error_of(response)["message"]


def test_reset_forgets_destinations_subscriptions_and_deliveries(emu: Running) -> None:
    """reset() empties the notification state so one server can serve many tests."""
    subscribe(emu)
    emulator: SpApiEmulator = emu.emulator
    emulator.notifications.publish(order_change_notification(OrderFactory(seed=3).order()))

    emulator.reset()

    assert emulator.notifications.destinations == []
    assert emulator.notifications.subscriptions == []
    assert emulator.notifications.outbox == []
