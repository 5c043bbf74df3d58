"""The parts of an Orders API v2026-01-01 `Order` the mapping reads (orders_2026-01-01.json).

Only `orderId`, `createdTime`, `lastUpdatedTime`, `salesChannel` and `orderItems` are required by Amazon's
model; everything else depends on `includedData` and on the order's state (Pending orders have no prices
and no address), so it is optional here too. Unknown fields and enum values are tolerated: Amazon adds
them, and an order must not fail to sync because of a field we do not use.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from shared.timeutil import UtcDateTime


class _Amazon(BaseModel):
    # hide_input_in_errors: a validation error must not echo an address or a name into a log line.
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True, populate_by_name=True)


class AmazonMoney(_Amazon):
    amount: Decimal
    currency_code: str = Field(alias="currencyCode", min_length=3, max_length=3)


class SalesChannel(_Amazon):
    channel_name: str = Field(alias="channelName")
    marketplace_id: str | None = Field(None, alias="marketplaceId")
    marketplace_name: str | None = Field(None, alias="marketplaceName")


class Buyer(_Amazon):
    buyer_name: str | None = Field(None, alias="buyerName", repr=False)
    buyer_email: str | None = Field(None, alias="buyerEmail", repr=False)
    buyer_company_name: str | None = Field(None, alias="buyerCompanyName", repr=False)
    buyer_purchase_order_number: str | None = Field(None, alias="buyerPurchaseOrderNumber")


class DeliveryAddress(_Amazon):
    name: str | None = Field(None, repr=False)
    company_name: str | None = Field(None, alias="companyName", repr=False)
    address_line1: str | None = Field(None, alias="addressLine1", repr=False)
    address_line2: str | None = Field(None, alias="addressLine2", repr=False)
    address_line3: str | None = Field(None, alias="addressLine3", repr=False)
    city: str | None = Field(None, repr=False)
    district_or_county: str | None = Field(None, alias="districtOrCounty", repr=False)
    state_or_region: str | None = Field(None, alias="stateOrRegion", repr=False)
    postal_code: str | None = Field(None, alias="postalCode", repr=False)
    country_code: str | None = Field(None, alias="countryCode")
    phone: str | None = Field(None, repr=False)


class Recipient(_Amazon):
    delivery_address: DeliveryAddress | None = Field(None, alias="deliveryAddress")


class ProceedsBreakdown(_Amazon):
    type: str
    subtotal: AmazonMoney


class OrderProceeds(_Amazon):
    grand_total: AmazonMoney | None = Field(None, alias="grandTotal")
    breakdowns: list[ProceedsBreakdown] = Field(default_factory=list)


class DateTimeRange(_Amazon):
    earliest: UtcDateTime | None = Field(None, alias="earliestDateTime")
    latest: UtcDateTime | None = Field(None, alias="latestDateTime")


class OrderFulfillment(_Amazon):
    fulfillment_status: str = Field(alias="fulfillmentStatus")
    fulfilled_by: str | None = Field(None, alias="fulfilledBy")
    fulfillment_service_level: str | None = Field(None, alias="fulfillmentServiceLevel")
    deliver_by_window: DateTimeRange | None = Field(None, alias="deliverByWindow")


class ItemPrice(_Amazon):
    unit_price: AmazonMoney | None = Field(None, alias="unitPrice")


class ItemProduct(_Amazon):
    asin: str | None = None
    title: str | None = None
    seller_sku: str | None = Field(None, alias="sellerSku")
    price: ItemPrice | None = None


class ItemProceeds(_Amazon):
    proceeds_total: AmazonMoney | None = Field(None, alias="proceedsTotal")
    breakdowns: list[ProceedsBreakdown] = Field(default_factory=list)


class ItemFulfillment(_Amazon):
    quantity_fulfilled: int | None = Field(None, alias="quantityFulfilled", ge=0)
    quantity_unfulfilled: int | None = Field(None, alias="quantityUnfulfilled", ge=0)


class OrderItem(_Amazon):
    order_item_id: str = Field(alias="orderItemId", min_length=1, max_length=100)
    quantity_ordered: int = Field(alias="quantityOrdered", ge=0)
    product: ItemProduct
    proceeds: ItemProceeds | None = None
    fulfillment: ItemFulfillment | None = None
    cancellation: dict[str, object] | None = None


class AmazonOrder(_Amazon):
    order_id: str = Field(alias="orderId", min_length=1, max_length=100)
    created_time: UtcDateTime = Field(alias="createdTime")
    last_updated_time: UtcDateTime = Field(alias="lastUpdatedTime")
    programs: list[str] = Field(default_factory=list)
    sales_channel: SalesChannel = Field(alias="salesChannel")
    buyer: Buyer | None = None
    recipient: Recipient | None = None
    proceeds: OrderProceeds | None = None
    fulfillment: OrderFulfillment | None = None
    order_items: list[OrderItem] = Field(alias="orderItems")
