"""Notification envelopes beyond ORDER_CHANGE, as Amazon delivers them to SQS.

- ``report_processing_finished_notification``: REPORT_PROCESSING_FINISHED. Why this matters: unlike most
  types its keys are camelCase (``notificationType``, ``payload.reportProcessingFinishedNotification``,
  ``notificationMetadata.notificationId``), so a parser that only knows PascalCase drops it.
- ``fba_inventory_availability_notification``: FBA_INVENTORY_AVAILABILITY_CHANGES, PascalCase, one entry
  per marketplace in ``FulfillmentInventoryByMarketplace``.

Like ``order_change_notification``, the NotificationId is derived from the content unless one is given, so
rendering the same event twice looks like an SQS redelivery.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sandbox.amazon_samples import DEFAULT_APPLICATION_ID, DEFAULT_SELLER_ID, DEFAULT_SUBSCRIPTION_ID, iso
from sandbox.fba_stock import Stock

ReportOutcome = Literal["DONE", "CANCELLED", "FATAL"]
PUBLISH_DELAY = timedelta(seconds=1, milliseconds=212)


def report_processing_finished_notification(
    *,
    report_id: str,
    report_type: str,
    processing_status: ReportOutcome,
    event_time: datetime,
    report_document_id: str | None = None,
    seller_id: str = DEFAULT_SELLER_ID,
    application_id: str = DEFAULT_APPLICATION_ID,
    subscription_id: str = DEFAULT_SUBSCRIPTION_ID,
    notification_id: str | None = None,
) -> dict[str, Any]:
    finished: dict[str, Any] = {
        "sellerId": seller_id,
        "accountId": f"amzn1.merchant.o.{seller_id}",
        "reportId": report_id,
        "reportType": report_type,
        "processingStatus": processing_status,
    }
    if report_document_id is not None:  # only DONE reports have a document
        finished["reportDocumentId"] = report_document_id
    published = event_time + PUBLISH_DELAY
    return {
        "notificationVersion": "2020-09-04",
        "notificationType": "REPORT_PROCESSING_FINISHED",
        "payloadVersion": "2020-09-04",
        "eventTime": iso(event_time, millis=True),
        "payload": {"reportProcessingFinishedNotification": finished},
        "notificationMetadata": {
            "applicationId": application_id,
            "subscriptionId": subscription_id,
            "publishTime": iso(published, millis=True),
            "notificationId": notification_id or _stable_id(f"report:{report_id}:{processing_status}"),
        },
    }


def fba_inventory_availability_notification(
    stock: Sequence[Stock],
    *,
    event_time: datetime,
    seller_id: str = DEFAULT_SELLER_ID,
    application_id: str = DEFAULT_APPLICATION_ID,
    subscription_id: str = DEFAULT_SUBSCRIPTION_ID,
    notification_id: str | None = None,
) -> dict[str, Any]:
    """One SKU's availability in each marketplace it is stocked for (all entries must share the SKU)."""
    if not stock or len({s.seller_sku for s in stock}) != 1:
        raise ValueError("give the stock of exactly one SKU (one entry per marketplace)")
    first = stock[0]
    by_marketplace = [
        {
            "MarketplaceId": s.marketplace_id,
            "ItemName": s.product_name,
            "FulfillmentInventory": {
                "InboundQuantityBreakdown": {
                    "Working": s.inbound_working,
                    "Shipped": s.inbound_shipped,
                    "Receiving": s.inbound_receiving,
                },
                "Fulfillable": s.fulfillable,
                "Unfulfillable": s.unfulfillable,
                "Researching": s.researching,
                "ReservedQuantityBreakdown": {
                    "WarehouseProcessing": s.fc_processing,
                    "WarehouseTransfer": s.pending_transshipment,
                    "PendingCustomerOrder": s.pending_customer_order,
                },
                "FutureSupplyBuyable": 0,
                "PendingCustomerOrderInTransit": 0,
            },
        }
        for s in stock
    ]
    published = event_time + PUBLISH_DELAY
    fingerprint = ":".join(f"{s.marketplace_id}={s.fulfillable}/{s.total}" for s in stock)
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "FBA_INVENTORY_AVAILABILITY_CHANGES",
        "PayloadVersion": "1.0",
        "EventTime": iso(event_time, millis=True),
        "Payload": {
            "SellerId": seller_id,
            "FNSKU": first.fn_sku,
            "ASIN": first.asin,
            "SKU": first.seller_sku,
            "FulfillmentInventoryByMarketplace": by_marketplace,
        },
        "NotificationMetadata": {
            "ApplicationId": application_id,
            "SubscriptionId": subscription_id,
            "PublishTime": iso(published, millis=True),
            "NotificationId": notification_id
            or _stable_id(f"fba:{first.seller_sku}:{iso(event_time)}:{fingerprint}"),
        },
    }


def _stable_id(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
