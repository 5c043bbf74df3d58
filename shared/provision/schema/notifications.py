"""The SP-API notifications the app consumes: the one list `python -m shared.provision amazon` subscribes to.

Payload versions are the ones the envelope parser was written for (shared/amazon/notifications.py), so a
subscription never asks Amazon for a version the app would dead-letter.
"""

from __future__ import annotations

from shared.amazon.listing_notifications import (
    LISTINGS_ITEM_ISSUES_CHANGE,
    LISTINGS_ITEM_MFN_QUANTITY_CHANGE,
    LISTINGS_ITEM_STATUS_CHANGE,
)
from shared.amazon.notifications import ORDER_CHANGE, SUPPORTED_VERSIONS
from shared.model.crm_schema import Feature, Subscription
from shared.provision.schema.context import SchemaContext

REPORT_PROCESSING_FINISHED = "REPORT_PROCESSING_FINISHED"  # settlement reports (finance flows)
FBA_INVENTORY_AVAILABILITY_CHANGES = "FBA_INVENTORY_AVAILABILITY_CHANGES"  # FBA stock (inventory sync)
# Order sync refetches the order on a status change and on a buyer's request (cancellation, address);
# DeliveryTipChange carries nothing the CRM keeps, so it is filtered out at Amazon instead of costing a fetch.
ORDER_CHANGE_TYPES = ("OrderStatusChange", "BuyerRequestedChange")
# Listing status, issues and merchant quantity (listing notifications into the listing state rows).
LISTING_TYPES = (LISTINGS_ITEM_STATUS_CHANGE, LISTINGS_ITEM_ISSUES_CHANGE, LISTINGS_ITEM_MFN_QUANTITY_CHANGE)
# Where the parser reads more than one payload version, the subscription asks for the newest.
SUBSCRIBED_VERSIONS = {LISTINGS_ITEM_ISSUES_CHANGE: "2023-12-13"}


def payload_version(notification_type: str) -> str:
    if notification_type in SUBSCRIBED_VERSIONS:
        return SUBSCRIBED_VERSIONS[notification_type]
    (version,) = SUPPORTED_VERSIONS[notification_type]
    return version


def declare(context: SchemaContext) -> Feature:
    order_filter = {
        "eventFilter": {
            "eventFilterType": ORDER_CHANGE,
            "marketplaceIds": list(context.marketplace_ids),
            "orderChangeTypes": list(ORDER_CHANGE_TYPES),
        }
    }
    return Feature(
        "notifications",
        subscriptions=(
            Subscription(ORDER_CHANGE, payload_version(ORDER_CHANGE), order_filter),
            Subscription(REPORT_PROCESSING_FINISHED, payload_version(REPORT_PROCESSING_FINISHED)),
            Subscription(
                FBA_INVENTORY_AVAILABILITY_CHANGES, payload_version(FBA_INVENTORY_AVAILABILITY_CHANGES)
            ),
            *(Subscription(kind, payload_version(kind)) for kind in LISTING_TYPES),
        ),
    )
