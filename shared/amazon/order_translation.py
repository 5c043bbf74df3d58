"""Amazon Orders API v2026-01-01 JSON -> canonical Order: the connector's knowledge of Amazon's format."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from shared.amazon.errors import validation_summary
from shared.amazon.models import AmazonMoney, AmazonOrder, DeliveryAddress, OrderItem, ProceedsBreakdown
from shared.errors import PermanentError
from shared.model.order import Address, Buyer, FulfillmentChannel, Money, Order, OrderLine, OrderStatus

_CHANNELS = {"AMAZON": FulfillmentChannel.AFN, "MERCHANT": FulfillmentChannel.MFN}


class AmazonOrderInvalid(PermanentError):
    """Amazon's answer cannot be read as an order; the description says which field, never its value."""

    reason = "AmazonOrderInvalid"

    def __init__(self, message: str, *, order_id: str | None = None) -> None:
        super().__init__(message)
        self.order_id = order_id  # when Amazon's answer had a usable one


def to_canonical(raw: Mapping[str, Any]) -> Order:
    order_id = raw.get("orderId") if isinstance(raw.get("orderId"), str) else None
    try:
        amazon = AmazonOrder.model_validate(raw)
    except ValidationError as exc:
        raise AmazonOrderInvalid(
            f"Amazon order does not match the Orders API model: {validation_summary(exc)}", order_id=order_id
        ) from None
    if amazon.fulfillment is None:
        raise AmazonOrderInvalid(
            "Amazon order has no fulfillment dataset, so no status: add FULFILLMENT to SPAPI_INCLUDED_DATA",
            order_id=order_id,
        )
    try:
        status = OrderStatus(amazon.fulfillment.fulfillment_status)
    except ValueError:
        raise AmazonOrderInvalid(
            f"unknown Amazon fulfillment status {amazon.fulfillment.fulfillment_status!r}", order_id=order_id
        ) from None
    proceeds = amazon.proceeds
    grand_total = _money(proceeds.grand_total) if proceeds else None
    lines = tuple(_line(item) for item in amazon.order_items)
    currency = (
        grand_total.currency
        if grand_total
        else next((line.unit_price.currency for line in lines if line.unit_price), None)
    )
    deliver_by = amazon.fulfillment.deliver_by_window
    return Order(
        order_id=amazon.order_id,
        marketplace_id=amazon.sales_channel.marketplace_id,
        marketplace_name=amazon.sales_channel.marketplace_name,
        created=amazon.created_time,
        last_updated=amazon.last_updated_time,
        status=status,
        amazon_status=amazon.fulfillment.fulfillment_status,
        fulfillment_channel=_CHANNELS.get(amazon.fulfillment.fulfilled_by or ""),
        currency=currency,
        grand_total=grand_total,
        shipping=_breakdown(proceeds.breakdowns, "SHIPPING") if proceeds else None,
        deliver_by=deliver_by.latest if deliver_by else None,
        ship_to=_address(amazon.recipient.delivery_address) if amazon.recipient else None,
        buyer=_buyer(amazon),
        is_business="AMAZON_BUSINESS" in amazon.programs,
        lines=lines,
    )


def _line(item: OrderItem) -> OrderLine:
    price = item.product.price
    breakdowns = item.proceeds.breakdowns if item.proceeds else []
    shipped = item.fulfillment.quantity_fulfilled if item.fulfillment else None
    discount = _breakdown(breakdowns, "DISCOUNT")
    return OrderLine(
        order_item_id=item.order_item_id,
        seller_sku=item.product.seller_sku,
        asin=item.product.asin,
        title=item.product.title,
        quantity=item.quantity_ordered,
        quantity_shipped=shipped,
        quantity_cancelled=(item.quantity_ordered - (shipped or 0)) if item.cancellation else None,
        unit_price=_money(price.unit_price) if price and price.unit_price else None,
        tax=_breakdown(breakdowns, "TAX"),
        discount=Money(amount=abs(discount.amount), currency=discount.currency) if discount else None,
    )


def _money(value: AmazonMoney | None) -> Money | None:
    return Money(amount=value.amount, currency=value.currency_code.upper()) if value else None


def _breakdown(breakdowns: list[ProceedsBreakdown], kind: str) -> Money | None:
    matching = [entry.subtotal for entry in breakdowns if entry.type == kind]
    if not matching:
        return None
    return Money(
        amount=sum((entry.amount for entry in matching), Decimal(0)), currency=matching[0].currency_code
    )


def _address(address: DeliveryAddress | None) -> Address | None:
    if address is None:
        return None
    lines = tuple(
        line for line in (address.address_line1, address.address_line2, address.address_line3) if line
    )
    return Address(
        name=address.name,
        company=address.company_name,
        street_lines=lines,
        city=address.city,
        state_or_region=address.state_or_region,
        postal_code=address.postal_code,
        country_code=address.country_code,
        phone=address.phone,
    )


def _buyer(amazon: AmazonOrder) -> Buyer | None:
    if amazon.buyer is None:
        return None
    return Buyer(
        anonymized_email=amazon.buyer.buyer_email,
        name=amazon.buyer.buyer_name,
        company=amazon.buyer.buyer_company_name,
        purchase_order_number=amazon.buyer.buyer_purchase_order_number,
    )
