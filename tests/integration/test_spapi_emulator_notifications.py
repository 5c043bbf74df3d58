"""python-amazon-sp-api's Notifications client against the emulator over real sockets: provisioning a
destination with a grantless token and a filtered ORDER_CHANGE subscription with the seller's token."""

from __future__ import annotations

import pytest
from sp_api.api import Notifications
from sp_api.base.exceptions import SellingApiException

from sandbox.spapi_emulator import SpApiEmulator
from tests.spapi_emulator_support import library, library_fixtures

pytestmark = pytest.mark.sockets

ARN = "arn:aws:sqs:us-east-1:123456789012:amazon-notifications"


server, emulator = library_fixtures()


def test_the_library_provisions_a_destination_and_a_filtered_subscription(emulator: SpApiEmulator) -> None:
    """create_destination (grantless LWA token), create_subscription with an eventFilter, then both read back."""
    directive = {"eventFilter": {"eventFilterType": "ORDER_CHANGE", "marketplaceIds": ["ATVPDKIKX0DER"]}}
    with library(Notifications, emulator) as client:
        destination = client.create_destination(name="orders", arn=ARN).payload
        subscription = client.create_subscription(
            "ORDER_CHANGE", destination_id=destination["destinationId"], processingDirective=directive
        ).payload
        destinations = client.get_destinations().payload
        read_back = client.get_subscription("ORDER_CHANGE").payload

    assert destinations == [destination]
    assert read_back == subscription
    assert subscription["processingDirective"] == directive
    assert emulator.requests.snapshot() == {
        "lwa.token": 2,  # one grantless (client_credentials) token, one seller token
        "createDestination": 1,
        "createSubscription": 1,
        "getDestinations": 1,
        "getSubscription": 1,
    }


def test_the_library_sees_conflicts_as_exceptions_with_amazons_codes(emulator: SpApiEmulator) -> None:
    """Creating the same destination twice raises with code Conflict; subscribing twice with StateConflict."""
    with library(Notifications, emulator) as client:
        destination_id = client.create_destination(name="orders", arn=ARN).payload["destinationId"]
        client.create_subscription("ORDER_CHANGE", destination_id=destination_id)
        with pytest.raises(SellingApiException) as destination_conflict:
            client.create_destination(name="orders", arn=ARN)
        with pytest.raises(SellingApiException) as subscription_conflict:
            client.create_subscription("ORDER_CHANGE", destination_id=destination_id)

    assert destination_conflict.value.code == 409
    assert destination_conflict.value.amzn_code == "Conflict"
    assert subscription_conflict.value.amzn_code == "StateConflict"


def test_the_library_tears_down_subscription_then_destination(emulator: SpApiEmulator) -> None:
    """delete_notification_subscription (seller token) then delete_destination (grantless) leave nothing behind."""
    with library(Notifications, emulator) as client:
        destination_id = client.create_destination(name="orders", arn=ARN).payload["destinationId"]
        subscription_id = client.create_subscription("ORDER_CHANGE", destination_id=destination_id).payload[
            "subscriptionId"
        ]
        client.delete_notification_subscription("ORDER_CHANGE", subscription_id)
        client.delete_destination(destination_id)

    assert emulator.notifications.subscriptions == []
    assert emulator.notifications.destinations == []
