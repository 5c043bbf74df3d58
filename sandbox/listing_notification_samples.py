"""Listing notification envelopes as Amazon delivers them to SQS, built to Amazon's schemas
(Amazon's ListingsItemStatusChangeNotification, ListingsItemIssuesChangeNotification and its 2023-12-13 version,
ListingsItemMfnQuantityChange).

- status and issues are per marketplace (MarketplaceId), with the listing's ASIN when it has one;
- the MFN quantity names a FulfillmentChannelCode and no marketplace;
- the NotificationId is derived from the content unless one is given, so rendering the same event twice looks
  like an SQS redelivery.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sandbox.amazon_samples import DEFAULT_APPLICATION_ID, DEFAULT_SELLER_ID, DEFAULT_SUBSCRIPTION_ID, iso

PUBLISH_DELAY = timedelta(seconds=1, milliseconds=87)


def listing_status_notification(
    sku: str,
    marketplace_id: str,
    statuses: Iterable[str],
    *,
    event_time: datetime,
    asin: str | None = None,
    seller_id: str = DEFAULT_SELLER_ID,
    notification_id: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"SellerId": seller_id, "MarketplaceId": marketplace_id, "Sku": sku}
    if asin:
        payload["Asin"] = asin
    payload["Status"] = sorted(set(statuses))
    return _envelope("LISTINGS_ITEM_STATUS_CHANGE", "1.0", payload, event_time, notification_id)


def listing_issues_notification(
    sku: str,
    marketplace_id: str,
    severities: Iterable[str],
    *,
    event_time: datetime,
    payload_version: str = "2023-12-13",
    enforcement_actions: Iterable[str] = (),
    asin: str | None = None,
    seller_id: str = DEFAULT_SELLER_ID,
    notification_id: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"SellerId": seller_id, "MarketplaceId": marketplace_id, "Sku": sku}
    if asin:
        payload["Asin"] = asin
    payload["Severities"] = sorted(set(severities)) or ["NONE"]
    actions = sorted(set(enforcement_actions))
    if actions:
        payload["EnforcementActions"] = actions
    return _envelope("LISTINGS_ITEM_ISSUES_CHANGE", payload_version, payload, event_time, notification_id)


def listing_mfn_quantity_notification(
    sku: str,
    quantity: int,
    *,
    event_time: datetime,
    channel: str = "DEFAULT",
    seller_id: str = DEFAULT_SELLER_ID,
    notification_id: str | None = None,
) -> dict[str, Any]:
    payload = {"SellerId": seller_id, "FulfillmentChannelCode": channel, "Sku": sku, "Quantity": quantity}
    return _envelope("LISTINGS_ITEM_MFN_QUANTITY_CHANGE", "1.0", payload, event_time, notification_id)


def _envelope(
    kind: str,
    payload_version: str,
    payload: dict[str, Any],
    event_time: datetime,
    notification_id: str | None,
) -> dict[str, Any]:
    fingerprint = f"{kind}:{payload_version}:{sorted(payload.items())}:{iso(event_time, millis=True)}"
    return {
        "NotificationVersion": "1.0",
        "NotificationType": kind,
        "PayloadVersion": payload_version,
        "EventTime": iso(event_time, millis=True),
        "Payload": payload,
        "NotificationMetadata": {
            "ApplicationId": DEFAULT_APPLICATION_ID,
            "SubscriptionId": DEFAULT_SUBSCRIPTION_ID,
            "PublishTime": iso(event_time + PUBLISH_DELAY, millis=True),
            "NotificationId": notification_id or str(uuid.uuid5(uuid.NAMESPACE_URL, fingerprint)),
        },
    }
