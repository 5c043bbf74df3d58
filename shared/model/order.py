"""The canonical order: what the rest of the product means by an order, independent of both APIs.

The Amazon connector translates Amazon's JSON into this model (amazon/order_translation.py), and the mapping
turns it into Dataverse records (mapping/salesorder.py). Keeping the middle step means a new source or target touches one side.
Personal fields are `repr=False` so a stray debug print cannot show them.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.timeutil import UtcDateTime


class OrderStatus(StrEnum):
    PENDING_AVAILABILITY = "PENDING_AVAILABILITY"
    PENDING = "PENDING"
    UNSHIPPED = "UNSHIPPED"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"
    UNFULFILLABLE = "UNFULFILLABLE"

    @property
    def rank(self) -> int:
        """Position in an order's life; a status never moves to a lower rank."""
        return _RANK[self]


FINAL_RANK = 4
_RANK = {
    OrderStatus.PENDING_AVAILABILITY: 0,
    OrderStatus.PENDING: 1,
    OrderStatus.UNSHIPPED: 2,
    OrderStatus.PARTIALLY_SHIPPED: 3,
    OrderStatus.SHIPPED: FINAL_RANK,
    OrderStatus.CANCELLED: FINAL_RANK,
    OrderStatus.UNFULFILLABLE: FINAL_RANK,
}

# ORDER_CHANGE notifications use the older v0 status names.
NOTIFICATION_STATUSES = {
    "PendingAvailability": OrderStatus.PENDING_AVAILABILITY,
    "Pending": OrderStatus.PENDING,
    "Unshipped": OrderStatus.UNSHIPPED,
    "PartiallyShipped": OrderStatus.PARTIALLY_SHIPPED,
    "Shipped": OrderStatus.SHIPPED,
    "InvoiceUnconfirmed": OrderStatus.SHIPPED,
    "Canceled": OrderStatus.CANCELLED,
    "Unfulfillable": OrderStatus.UNFULFILLABLE,
}


class FulfillmentChannel(StrEnum):
    AFN = "AFN"  # fulfilled by Amazon
    MFN = "MFN"  # fulfilled by the merchant


class _Canonical(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)


class Money(_Canonical):
    amount: Decimal
    currency: str = Field(min_length=3, max_length=3)


class Address(_Canonical):
    name: str | None = Field(None, repr=False)
    company: str | None = Field(None, repr=False)
    street_lines: tuple[str, ...] = Field((), repr=False)
    city: str | None = Field(None, repr=False)
    state_or_region: str | None = Field(None, repr=False)
    postal_code: str | None = Field(None, repr=False)
    country_code: str | None = None
    phone: str | None = Field(None, repr=False)


class Buyer(_Canonical):
    # Amazon's anonymized relay address (FBM only): stable per buyer and seller, so it identifies a
    # returning buyer without being a real address. We keep only its hash as the buyer id.
    anonymized_email: str | None = Field(None, repr=False)
    name: str | None = Field(None, repr=False)
    company: str | None = Field(None, repr=False)
    purchase_order_number: str | None = None


class OrderLine(_Canonical):
    order_item_id: str
    seller_sku: str | None
    asin: str | None = None
    title: str | None = None
    quantity: int
    quantity_shipped: int | None = None
    quantity_cancelled: int | None = None
    unit_price: Money | None = None  # absent while the order is Pending
    tax: Money | None = None
    discount: Money | None = None  # positive amount taken off the line


class Order(_Canonical):
    order_id: str
    marketplace_id: str | None
    marketplace_name: str | None
    created: UtcDateTime
    last_updated: UtcDateTime
    status: OrderStatus
    amazon_status: str  # Amazon's own word for it, kept for people reading the CRM
    fulfillment_channel: FulfillmentChannel | None
    currency: str | None
    grand_total: Money | None = None
    shipping: Money | None = None
    deliver_by: UtcDateTime | None = None
    ship_to: Address | None = None
    buyer: Buyer | None = None
    is_business: bool = False
    lines: tuple[OrderLine, ...]

    @property
    def skus(self) -> set[str]:
        return {line.seller_sku for line in self.lines if line.seller_sku}
