"""Notifications API v1: destinations (where Amazon sends notifications) and subscriptions (which ones).

Amazon's rules that shape the calls:
- destination operations are grantless: an LWA client-credentials token with scope
  `sellingpartnerapi::notifications` (python-amazon-sp-api's Notifications client asks for it itself);
  subscriptions act for the seller and need the seller's token;
- a second destination for the same SQS ARN is 409 Conflict, a second subscription of a type and payload
  version is 409 StateConflict: provisioning reads first (getDestinations, getSubscription) and creates only
  what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.amazon.client import SpApi, SpApiSession
from shared.amazon.errors import SpApiNotFound

_MODULE = "sp_api.api.notifications.notifications"
# Two entries for one library class: `grantless` tells the session not to fetch the seller's token first.
NOTIFICATIONS_GRANTLESS = SpApi(_MODULE, "Notifications", grantless=True)
NOTIFICATIONS = SpApi(_MODULE, "Notifications")


@dataclass(frozen=True)
class Destination:
    id: str
    name: str
    sqs_arn: str | None  # None for an EventBridge destination


@dataclass(frozen=True)
class ExistingSubscription:
    id: str
    notification_type: str
    payload_version: str
    destination_id: str
    processing_directive: Mapping[str, Any] | None


class NotificationsApi:
    def __init__(self, session: SpApiSession) -> None:
        self._session = session

    def destinations(self) -> list[Destination]:
        response = self._session.call(
            "getDestinations", NOTIFICATIONS_GRANTLESS, lambda client: client.get_destinations()
        )
        return [_destination(item) for item in response.payload or []]

    def create_destination(self, name: str, sqs_arn: str) -> Destination:
        response = self._session.call(
            "createDestination",
            NOTIFICATIONS_GRANTLESS,
            lambda client: client.create_destination(name=name, arn=sqs_arn),
        )
        return _destination(response.payload or {})

    def subscription(self, notification_type: str, payload_version: str) -> ExistingSubscription | None:
        """The seller's subscription of that type and payload version, or None."""
        try:
            response = self._session.call(
                "getSubscription",
                NOTIFICATIONS,
                lambda client: client.get_subscription(notification_type, payloadVersion=payload_version),
            )
        except SpApiNotFound:
            return None
        return _subscription(notification_type, response.payload or {})

    def create_subscription(
        self,
        notification_type: str,
        payload_version: str,
        destination_id: str,
        processing_directive: Mapping[str, Any] | None,
    ) -> ExistingSubscription:
        extra: dict[str, Any] = {"payload_version": payload_version}
        if processing_directive:
            extra["processingDirective"] = dict(processing_directive)
        response = self._session.call(
            "createSubscription",
            NOTIFICATIONS,
            lambda client: client.create_subscription(
                notification_type, destination_id=destination_id, **extra
            ),
        )
        return _subscription(notification_type, response.payload or {})

    def delete_subscription(self, notification_type: str, subscription_id: str) -> None:
        self._session.call(
            "deleteSubscriptionById",
            NOTIFICATIONS,
            lambda client: client.delete_notification_subscription(notification_type, subscription_id),
        )


def _destination(item: Mapping[str, Any]) -> Destination:
    resource = item.get("resource") or {}
    sqs = resource.get("sqs") or {}
    return Destination(str(item.get("destinationId")), str(item.get("name")), sqs.get("arn"))


def _subscription(notification_type: str, item: Mapping[str, Any]) -> ExistingSubscription:
    return ExistingSubscription(
        str(item.get("subscriptionId")),
        notification_type,
        str(item.get("payloadVersion")),
        str(item.get("destinationId")),
        item.get("processingDirective") or None,
    )
