"""Small builders for test data: settings, notification envelopes and Amazon orders.

Each builder returns a valid object by default; tests change only the part they are about.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

BASE_ENV = {
    "SPAPI_REFRESH_TOKEN": "Atzr|test-refresh-token",
    "SPAPI_LWA_CLIENT_ID": "amzn1.application-oa2-client.test",
    "SPAPI_LWA_CLIENT_SECRET": "test-client-secret",
    "DATAVERSE_URL": "http://127.0.0.1:9",
    "DATAVERSE_AUTH": "none",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
}


def settings_env(**overrides: str | None) -> dict[str, str]:
    """A complete, valid set of app settings; pass NAME=None to remove one."""
    env = dict(BASE_ENV)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def order_change(
    order_id: str = "113-1234567-1234567",
    *,
    status: str = "Unshipped",
    notification_id: str | None = None,
    change_time: str | None = "2026-11-27T10:00:00.000Z",
    seller_id: str = "A3TH9S8BH6GOGM",
    fulfillment: str = "MFN",
    skus: tuple[str, ...] = ("SKU-1",),
) -> dict[str, Any]:
    """An ORDER_CHANGE envelope shaped like Amazon's schema example."""
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": "2026-11-27T10:00:01.000Z",
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": seller_id,
                "AmazonOrderId": order_id,
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": change_time,
                    "ChangeReason": "Order status changed",
                },
                "Summary": {
                    "MarketplaceId": "ATVPDKIKX0DER",
                    "OrderStatus": status,
                    "PurchaseDate": "2026-11-27T09:00:00.000Z",
                    "DestinationPostalCode": "98101",
                    "FulfillmentType": fulfillment,
                    "OrderType": "StandardOrder",
                    "OrderItems": [
                        {"OrderItemId": f"OI{index}", "SellerSKU": sku, "SupplySourceId": None, "Quantity": 1}
                        for index, sku in enumerate(skus)
                    ],
                },
            }
        },
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sellerapps.app.test",
            "SubscriptionId": "subscription-1",
            "PublishTime": "2026-11-27T10:00:02.000Z",
            "NotificationId": notification_id or str(uuid.uuid4()),
        },
    }


def body(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope).encode("utf-8")


_ORDER: dict[str, Any] = {
    "orderId": "113-1234567-1234567",
    "createdTime": "2026-11-27T09:00:00Z",
    "lastUpdatedTime": "2026-11-27T10:00:00Z",
    "programs": [],
    "salesChannel": {
        "channelName": "AMAZON",
        "marketplaceId": "ATVPDKIKX0DER",
        "marketplaceName": "Amazon.com",
    },
    "buyer": {"buyerName": "Jane Q Doe", "buyerEmail": "x7k2m9q4r@marketplace.amazon.com"},
    "recipient": {
        "deliveryAddress": {
            "name": "Jane Q Doe",
            "addressLine1": "1200 Pine Street",
            "addressLine2": "Apt 5",
            "city": "Seattle",
            "stateOrRegion": "WA",
            "postalCode": "98101",
            "countryCode": "US",
            "phone": "+1 206 555 0100",
        }
    },
    "proceeds": {
        "grandTotal": {"amount": "52.97", "currencyCode": "USD"},
        "breakdowns": [
            {"type": "ITEM", "subtotal": {"amount": "44.98", "currencyCode": "USD"}},
            {"type": "SHIPPING", "subtotal": {"amount": "4.99", "currencyCode": "USD"}},
            {"type": "TAX", "subtotal": {"amount": "3.00", "currencyCode": "USD"}},
        ],
    },
    "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
    "orderItems": [
        {
            "orderItemId": "10000000000001",
            "quantityOrdered": 2,
            "product": {
                "asin": "B000000001",
                "title": "Enamel mug",
                "sellerSku": "SKU-1",
                "price": {"unitPrice": {"amount": "22.49", "currencyCode": "USD"}},
            },
            "proceeds": {
                "proceedsTotal": {"amount": "47.98", "currencyCode": "USD"},
                "breakdowns": [
                    {"type": "ITEM", "subtotal": {"amount": "44.98", "currencyCode": "USD"}},
                    {"type": "TAX", "subtotal": {"amount": "3.00", "currencyCode": "USD"}},
                ],
            },
            "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": 2},
        }
    ],
}


def amazon_order(**changes: Any) -> dict[str, Any]:
    """An Orders API v2026-01-01 order (MFN, unshipped, one line); keyword arguments replace top-level keys."""
    order = copy.deepcopy(_ORDER)
    order.update(changes)
    return order
