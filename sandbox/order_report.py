"""The all-orders flat file (``GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL`` / ``..._BY_ORDER_DATE_...``).

Tab-separated, a header row, one row per order item. Unlike the settlement report, amounts use a dot in every
marketplace ("89.95") and times are ISO 8601 with an offset ("2025-06-02T12:00:00+00:00"). Statuses use the
report's own words (Pending, Unshipped, Shipped, Cancelled; Amazon/Merchant for the channel). Pending orders
have no prices yet, and ship-to columns stop at city, state, postal code and country: the report carries no
buyer name or street.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from sandbox.amazon_samples import parse_time

COLUMNS: Final = (
    "amazon-order-id",
    "merchant-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "order-channel",
    "url",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "gift-wrap-price",
    "gift-wrap-tax",
    "item-promotion-discount",
    "ship-promotion-discount",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "promotion-ids",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
)
ORDER_STATUS: Final[Mapping[str, str]] = {
    "PENDING_AVAILABILITY": "Pending",
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Cancelled",
    "UNFULFILLABLE": "Unfulfillable",
}
SERVICE_LEVEL: Final[Mapping[str, str]] = {
    "STANDARD": "Standard",
    "EXPEDITED": "Expedited",
    "SECOND_DAY": "SecondDay",
    "NEXT_DAY": "NextDay",
    "SAME_DAY": "SameDay",
    "SCHEDULED": "Scheduled",
    "FREE_ECONOMY": "FreeEconomy",
    "PRIORITY": "Priority",
}


def all_orders_lines(orders: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The report for full v2026 orders (as the emulator stores them), oldest purchase first."""
    yield _line(COLUMNS)
    for order in sorted(orders, key=lambda o: (parse_time(str(o["createdTime"])), str(o["orderId"]))):
        for item in order["orderItems"]:
            yield _line(_row(order, item))


def _row(order: Mapping[str, Any], item: Mapping[str, Any]) -> Sequence[str]:
    fulfillment = order.get("fulfillment") or {}
    status = str(fulfillment.get("fulfillmentStatus", "PENDING"))
    address = (order.get("recipient") or {}).get("deliveryAddress") or {}
    product = item["product"]
    price = product.get("price", {}).get("unitPrice")
    breakdowns = {b["type"]: b for b in (item.get("proceeds") or {}).get("breakdowns", [])}
    tax = {
        d["subtype"]: d["value"]["amount"] for d in breakdowns.get("TAX", {}).get("detailedBreakdowns", [])
    }
    promotions = [
        b["promotionId"] for b in (item.get("promotion") or {}).get("breakdowns", []) if b.get("promotionId")
    ]
    aliases = [a["aliasId"] for a in order.get("orderAliases", []) if a.get("aliasType") == "SELLER_ORDER_ID"]
    business = "AMAZON_BUSINESS" in order.get("programs", [])
    quantity = int(item["quantityOrdered"])
    priced = price is not None  # pending orders carry no prices
    item_price = Decimal(price["amount"]) * quantity if priced else None
    discount = breakdowns.get("DISCOUNT", {}).get("subtotal", {}).get("amount")
    return (
        str(order["orderId"]),
        aliases[0] if aliases else "",
        _timestamp(order["createdTime"]),
        _timestamp(order["lastUpdatedTime"]),
        ORDER_STATUS.get(status, status),
        "Amazon" if fulfillment.get("fulfilledBy") == "AMAZON" else "Merchant",
        str(order["salesChannel"].get("marketplaceName", "")),
        "",
        "",
        SERVICE_LEVEL.get(str(fulfillment.get("fulfillmentServiceLevel", "STANDARD")), "Standard"),
        str(product.get("title", "")),
        str(product["sellerSku"]),
        str(product["asin"]),
        _item_status(status, item),
        str(quantity),
        price["currencyCode"] if priced else "",
        _decimal(item_price),
        _decimal(tax.get("ITEM")) if priced else "",
        _decimal(breakdowns.get("SHIPPING", {}).get("subtotal", {}).get("amount")) if priced else "",
        _decimal(tax.get("SHIPPING")) if priced else "",
        "",
        "",
        _decimal(discount) if priced and discount else "",
        "",
        str(address.get("city", "")),
        str(address.get("stateOrRegion", "")),
        str(address.get("postalCode", "")),
        str(address.get("countryCode", "")),
        ",".join(promotions),
        "true" if business else "false",
        str((order.get("buyer") or {}).get("buyerPurchaseOrderNumber", "")) if business else "",
        "BusinessPrice" if business else "",
    )


def _item_status(order_status: str, item: Mapping[str, Any]) -> str:
    if order_status == "CANCELLED":
        return "Cancelled"
    fulfillment = item.get("fulfillment") or {}
    shipped = int(fulfillment.get("quantityFulfilled", 0))
    left = int(fulfillment.get("quantityUnfulfilled", 0))
    return "Shipped" if shipped > 0 and left == 0 else "Unshipped"


def _timestamp(value: Any) -> str:
    return parse_time(str(value)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _decimal(value: Any) -> str:
    return "" if value is None else f"{Decimal(str(value)):.2f}"


def _line(values: Sequence[str]) -> str:
    return "\t".join(value.replace("\t", " ") for value in values) + "\n"
