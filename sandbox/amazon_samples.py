"""Fake but realistic Amazon orders (Orders API v2026-01-01) and ORDER_CHANGE notification envelopes.

Everything here is deterministic for a given seed and touches no network. The shapes follow Amazon's
published models (``orders_2026-01-01.json`` and ``OrderChangeNotification.json``); the contract tests
validate them against those files.

Main entry points:

- ``OrderFactory(seed=...)`` builds ``SampleOrder`` values in any fulfillment status;
- ``SampleOrder.confirm() / ship() / cancel() / request_cancellation() / advance()`` move an order through
  its life cycle and bump ``lastUpdatedTime``; each returns a new value (they are frozen dataclasses);
- ``SampleOrder.to_api()`` renders the full order as getOrder returns it with every ``includedData`` dataset
  (the SP-API emulator strips datasets per request);
- ``order_change_notification(order, ...)`` renders the ORDER_CHANGE envelope as it reaches SQS;
- ``pii_values(order)`` lists the buyer / recipient strings that must never show up in logs or telemetry.

Amazon rules modelled here: pending orders carry no item prices, no proceeds and no delivery address;
buyer e-mails are anonymised ``...@marketplace.amazon.<tld>`` addresses and exist only for merchant-fulfilled
(MFN) orders; phone numbers are suppressed on Amazon-fulfilled (AFN) orders; packages exist only for MFN
orders. Cancelled orders keep their item prices (if they had any) but carry no proceeds, as nothing is paid
out for them.
"""

from __future__ import annotations

import dataclasses
import random
import string
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Literal

FulfillmentStatus = Literal[
    "PENDING_AVAILABILITY",
    "PENDING",
    "UNSHIPPED",
    "PARTIALLY_SHIPPED",
    "SHIPPED",
    "CANCELLED",
    "UNFULFILLABLE",
]
FulfilledBy = Literal["MERCHANT", "AMAZON"]
CancelledBy = Literal["BUYER", "MERCHANT", "AMAZON"]
OrderChangeType = Literal["BuyerRequestedChange", "DeliveryTipChange", "OrderStatusChange"]

FULFILLMENT_STATUSES: tuple[FulfillmentStatus, ...] = (
    "PENDING_AVAILABILITY",
    "PENDING",
    "UNSHIPPED",
    "PARTIALLY_SHIPPED",
    "SHIPPED",
    "CANCELLED",
    "UNFULFILLABLE",
)
# The statuses the factory builds (pre-orders and UNFULFILLABLE non-Amazon orders are out of scope).
FACTORY_STATUSES: tuple[FulfillmentStatus, ...] = (
    "PENDING",
    "UNSHIPPED",
    "PARTIALLY_SHIPPED",
    "SHIPPED",
    "CANCELLED",
)

# ORDER_CHANGE uses the v0 vocabulary (OrderChangeNotification.json, Summary.OrderStatus).
NOTIFICATION_ORDER_STATUS: Mapping[str, str] = {
    "PENDING_AVAILABILITY": "PendingAvailability",
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}
NOTIFICATION_FULFILLMENT_TYPE: Mapping[str, str] = {"MERCHANT": "MFN", "AMAZON": "AFN"}
# Order programs (v2026 names) that ORDER_CHANGE reports in Summary.OrderPrograms.
NOTIFICATION_ORDER_PROGRAMS: Mapping[str, str] = {
    "AMAZON_BUSINESS": "Business",
    "PRIME": "Prime",
    "PREMIUM": "Premium",
    "INVOICE_BY_AMAZON": "IBA",
}

DEFAULT_SELLER_ID = "A2SANDBOXSELLR"
DEFAULT_APPLICATION_ID = "amzn1.sellerapps.app.5f1c2a0e-7b3d-4c8e-9a61-0d2f4b6e8c11"
DEFAULT_SUBSCRIPTION_ID = "b7e4c9a2-3f18-4d6b-8e25-61a0f9c3d7e4"
DEFAULT_START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")


# --- marketplaces ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Locality:
    city: str
    state_or_region: str
    postal_code: str
    sales_tax_rate: Decimal  # US: state + typical local rate; UK / DE: VAT
    phone_prefix: str


@dataclass(frozen=True)
class Marketplace:
    marketplace_id: str
    name: str
    currency: str
    country_code: str
    email_domain: str
    order_id_prefixes: tuple[str, ...]
    price_factor: Decimal  # catalog prices are kept in USD
    mfn_shipping: Decimal
    free_shipping_from: Decimal
    carriers: tuple[tuple[str, str], ...]  # (carrier, shipping service)
    tax_responsible_party: str
    ship_from: Mapping[str, str]


US_MARKETPLACE_ID = "ATVPDKIKX0DER"
UK_MARKETPLACE_ID = "A1F83G8C2ARO7P"
DE_MARKETPLACE_ID = "A1PA6795UKMFR9"

MARKETPLACES: Mapping[str, Marketplace] = {
    US_MARKETPLACE_ID: Marketplace(
        marketplace_id=US_MARKETPLACE_ID,
        name="Amazon.com",
        currency="USD",
        country_code="US",
        email_domain="marketplace.amazon.com",
        order_id_prefixes=("111", "112", "113", "114"),
        price_factor=Decimal("1"),
        mfn_shipping=Decimal("5.99"),
        free_shipping_from=Decimal("35.00"),
        carriers=(("USPS", "USPS Ground Advantage"), ("UPS", "UPS Ground"), ("FedEx", "FedEx Home Delivery")),
        tax_responsible_party="Amazon Services, Inc.",
        ship_from={
            "name": "Harbor Lane Goods Warehouse",
            "addressLine1": "4100 E Marginal Way S",
            "city": "Seattle",
            "stateOrRegion": "WA",
            "postalCode": "98134",
            "countryCode": "US",
        },
    ),
    UK_MARKETPLACE_ID: Marketplace(
        marketplace_id=UK_MARKETPLACE_ID,
        name="Amazon.co.uk",
        currency="GBP",
        country_code="GB",
        email_domain="marketplace.amazon.co.uk",
        order_id_prefixes=("202", "203", "204", "205", "206"),
        price_factor=Decimal("0.82"),
        mfn_shipping=Decimal("3.99"),
        free_shipping_from=Decimal("25.00"),
        carriers=(
            ("Royal Mail", "Royal Mail Tracked 48"),
            ("DPD", "DPD Next Day"),
            ("Evri", "Evri Standard"),
        ),
        tax_responsible_party="Amazon Services Europe S.a.r.L.",
        ship_from={
            "name": "Harbor Lane Goods UK",
            "addressLine1": "Unit 7, Riverside Trade Park",
            "city": "Leeds",
            "stateOrRegion": "West Yorkshire",
            "postalCode": "LS10 1SW",
            "countryCode": "GB",
        },
    ),
    DE_MARKETPLACE_ID: Marketplace(
        marketplace_id=DE_MARKETPLACE_ID,
        name="Amazon.de",
        currency="EUR",
        country_code="DE",
        email_domain="marketplace.amazon.de",
        order_id_prefixes=("302", "303", "304", "305", "306"),
        price_factor=Decimal("0.94"),
        mfn_shipping=Decimal("3.99"),
        free_shipping_from=Decimal("29.00"),
        carriers=(("DHL", "DHL Paket"), ("Hermes", "Hermes Paket"), ("DPD", "DPD Classic")),
        tax_responsible_party="Amazon Services Europe S.a.r.L.",
        ship_from={
            "name": "Harbor Lane Goods Lager Neuss",
            "addressLine1": "Industriestraße 22",
            "city": "Neuss",
            "stateOrRegion": "Nordrhein-Westfalen",
            "postalCode": "41460",
            "countryCode": "DE",
        },
    ),
}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


@dataclass(frozen=True)
class _People:
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    second_lines: tuple[str, ...]
    localities: tuple[Locality, ...]
    companies: tuple[str, ...]


_PEOPLE: Mapping[str, _People] = {
    "US": _People(
        first_names=_words(
            "Emily|Michael|Jessica|Daniel|Ashley|Christopher|Megan|Tyler|Olivia|Marcus|Hannah|"
            "Jordan|Priya|Diego|Grace|Kevin"
        ),
        last_names=_words(
            "Thompson|Ramirez|O'Connor|Nguyen|Patel|Johnson|Whitaker|Brooks|Castillo|Kowalski|"
            "Hughes|Bennett|Sullivan|Fitzgerald|Delgado|Morrison"
        ),
        streets=_words(
            "Maple Avenue|Oak Street|Pine Ridge Road|Lakeview Drive|Cedar Lane|Willow Court|"
            "Highland Avenue|Magnolia Boulevard"
        ),
        second_lines=("Apt 4B", "Unit 12", "Suite 210", "Apt 17", "Apt 3C"),
        localities=(
            Locality("Seattle", "WA", "98103", Decimal("0.1025"), "+1 206-555-01"),
            Locality("Austin", "TX", "78704", Decimal("0.0825"), "+1 512-555-01"),
            Locality("Columbus", "OH", "43215", Decimal("0.0750"), "+1 614-555-01"),
            Locality("Denver", "CO", "80218", Decimal("0.0881"), "+1 303-555-01"),
            Locality("Portland", "OR", "97214", Decimal("0"), "+1 503-555-01"),
            Locality("Raleigh", "NC", "27605", Decimal("0.0725"), "+1 919-555-01"),
            Locality("Madison", "WI", "53703", Decimal("0.0550"), "+1 608-555-01"),
            Locality("Tampa", "FL", "33606", Decimal("0.0750"), "+1 813-555-01"),
            Locality("Burlington", "VT", "05401", Decimal("0.0700"), "+1 802-555-01"),
            Locality("Ann Arbor", "MI", "48104", Decimal("0.0600"), "+1 734-555-01"),
        ),
        companies=("Brightline Dental Group LLC", "Northwind Outfitters Inc.", "Cascade Learning Co-op"),
    ),
    "GB": _People(
        first_names=_words(
            "Oliver|Amelia|Harry|Isla|George|Sophie|Jack|Charlotte|Thomas|Freya|William|Poppy|"
            "Alfie|Eleanor|Rhys|Niamh"
        ),
        last_names=_words(
            "Wilson|Taylor|Davies|Evans|Roberts|Walker|Wright|Edwards|Campbell|MacDonald|"
            "Clarke|Pritchard|Fletcher|Ashworth|O'Brien|Hughes"
        ),
        streets=_words(
            "Church Lane|Victoria Road|Station Road|Park Avenue|Mill Lane|Queens Crescent|"
            "Kingsway|Albert Terrace"
        ),
        second_lines=("Flat 3", "Flat 2A", "Apartment 14", "Flat 7"),
        localities=(
            Locality("Manchester", "Greater Manchester", "M14 5TQ", Decimal("0.20"), "+44 7700 900"),
            Locality("Leeds", "West Yorkshire", "LS6 2AB", Decimal("0.20"), "+44 7700 900"),
            Locality("Bristol", "Bristol", "BS8 1TH", Decimal("0.20"), "+44 7700 900"),
            Locality("Edinburgh", "Midlothian", "EH3 9QN", Decimal("0.20"), "+44 7700 900"),
            Locality("Cardiff", "South Glamorgan", "CF10 3AT", Decimal("0.20"), "+44 7700 900"),
            Locality("Norwich", "Norfolk", "NR2 4PD", Decimal("0.20"), "+44 7700 900"),
            Locality("Brighton", "East Sussex", "BN1 4GH", Decimal("0.20"), "+44 7700 900"),
            Locality("York", "North Yorkshire", "YO1 7HH", Decimal("0.20"), "+44 7700 900"),
        ),
        companies=("Harbour & Finch Ltd", "Pennine Joinery Ltd", "Quayside Studio LLP"),
    ),
    "DE": _People(
        first_names=_words(
            "Lukas|Anna|Jonas|Lea|Felix|Sophie|Maximilian|Marie|Leon|Hannah|Paul|Emilia|"
            "Jürgen|Käthe|Moritz|Charlotte"
        ),
        last_names=_words(
            "Müller|Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Schulz|Hoffmann|"
            "Schäfer|Koch|Bauer|Richter|Klein|Wolf"
        ),
        streets=_words(
            "Hauptstraße|Bahnhofstraße|Lindenweg|Schillerstraße|Goethestraße|Am Marktplatz|"
            "Birkenallee|Gartenstraße"
        ),
        second_lines=("Hinterhaus", "3. OG links", "Aufgang B", "Wohnung 12"),
        localities=(
            Locality("Berlin", "Berlin", "10437", Decimal("0.19"), "+49 151 "),
            Locality("München", "Bayern", "80469", Decimal("0.19"), "+49 152 "),
            Locality("Hamburg", "Hamburg", "22767", Decimal("0.19"), "+49 160 "),
            Locality("Köln", "Nordrhein-Westfalen", "50677", Decimal("0.19"), "+49 170 "),
            Locality("Frankfurt am Main", "Hessen", "60316", Decimal("0.19"), "+49 171 "),
            Locality("Leipzig", "Sachsen", "04109", Decimal("0.19"), "+49 172 "),
            Locality("Stuttgart", "Baden-Württemberg", "70178", Decimal("0.19"), "+49 175 "),
            Locality("Freiburg im Breisgau", "Baden-Württemberg", "79098", Decimal("0.19"), "+49 176 "),
        ),
        companies=("Krämer Haustechnik GmbH", "Lindner & Söhne KG", "Atelier Nordlicht GbR"),
    ),
}


@dataclass(frozen=True)
class Product:
    asin: str
    seller_sku: str
    title: str
    usd_price: Decimal

    def price_in(self, marketplace: Marketplace) -> Decimal:
        if marketplace.price_factor == 1:
            return self.usd_price
        converted = (self.usd_price * marketplace.price_factor).quantize(Decimal("1"), rounding=ROUND_FLOOR)
        return converted + Decimal("0.99")


# One seller's catalog. SKUs are kept as sellers really write them (one carries a "/", which Dataverse
# cannot use in an alternate-key address).
CATALOG: tuple[Product, ...] = (
    Product("B0C7K4ZQ1M", "HB-BOTTLE-750-BLK", "Stainless Steel Insulated Water Bottle, 750 ml, Matte Black",
            Decimal("24.99")),
    Product("B0B9T2XW8R", "KT-BAMBOO-BOARD-3PC", "Bamboo Cutting Board Set, 3 Pieces, with Juice Groove",
            Decimal("32.99")),
    Product("B0CHX81LPD", "EL-USBC-2M/100W", "USB-C to USB-C Cable, 2 m, 100 W Fast Charging, Braided Nylon",
            Decimal("12.99")),
    Product("B09ZLQ7N3F", "HT-TOWEL-70x140-SAGE", "Organic Cotton Bath Towel, 70 x 140 cm, Sage Green",
            Decimal("19.99")),
    Product("B0D2M5R8VK", "KT-POUROVER-02-WHT", "Ceramic Pour-Over Coffee Dripper, Size 02, White",
            Decimal("21.49")),
    Product("B0BN4Y6G2T", "EL-LAMP-QI-DIM", "LED Desk Lamp with Wireless Charger, 5 Dimming Levels",
            Decimal("45.99")),
    Product("B0C1J9HF5Z", "SP-YOGA-6MM-LAV", "Non-Slip TPE Yoga Mat, 6 mm, Lavender", Decimal("29.95")),
    Product("B08WQ3P7XC", "KT-SKILLET-26CM", "Pre-Seasoned Cast Iron Skillet, 26 cm", Decimal("34.90")),
    Product("B0CQ7V2M4N", "TY-BLOCKS-100-WOOD", "Wooden Building Blocks for Kids, 100 Pieces, Natural",
            Decimal("27.99")),
    Product("B0B3HZ6K1W", "AP-SOCKS-MERINO-L-3P", "Merino Wool Hiking Socks, 3 Pairs, Size L",
            Decimal("22.00")),
    Product("B0D8R1T4QJ", "KT-SILMAT-2PK", "Silicone Baking Mat, Set of 2, Half Sheet", Decimal("14.99")),
    Product("B0CZ9P3L6E", "EL-EARBUDS-ANC-CHR", "Noise-Cancelling Wireless Earbuds, Bluetooth 5.3, Charcoal",
            Decimal("59.99")),
)  # fmt: skip

BUYER_CANCEL_REASONS = (
    "Order Created by Mistake",
    "Item(s) would not arrive on time",
    "Shipping cost too high",
    "Found cheaper somewhere else",
    "Need to change shipping address",
)
SELLER_CANCEL_REASONS = ("NoInventory", "ShippingAddressUndeliverable", "GeneralAdjustment")


# --- order model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostalAddress:
    name: str
    address_line1: str
    address_line2: str | None
    city: str
    state_or_region: str
    postal_code: str
    country_code: str
    phone: str
    address_type: Literal["RESIDENTIAL", "COMMERCIAL"]
    company_name: str | None = None


@dataclass(frozen=True)
class Buyer:
    name: str
    email: str  # anonymised marketplace relay address
    company_name: str | None = None
    purchase_order_number: str | None = None


@dataclass(frozen=True)
class SampleItem:
    order_item_id: str
    product: Product
    quantity: int
    unit_price: Decimal
    shipping: Decimal  # shipping charge allocated to this line
    tax_rate: Decimal
    discount: Decimal = _ZERO  # promotion value, positive
    promotion_id: str | None = None
    quantity_shipped: int = 0
    cancelled_by: CancelledBy | None = None
    cancel_reason: str | None = None
    buyer_cancel_reason: str | None = None  # a buyer asked to cancel (cancellationRequest)

    @property
    def item_total(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def item_tax(self) -> Decimal:
        return _money((self.item_total - self.discount) * self.tax_rate)

    @property
    def shipping_tax(self) -> Decimal:
        return _money(self.shipping * self.tax_rate)

    @property
    def proceeds_total(self) -> Decimal:
        return self.item_total + self.shipping + self.item_tax + self.shipping_tax - self.discount

    @property
    def quantity_unshipped(self) -> int:
        return 0 if self.cancelled_by else self.quantity - self.quantity_shipped


@dataclass(frozen=True)
class Shipment:
    package_reference_id: str
    ship_time: datetime
    carrier: str
    shipping_service: str
    tracking_number: str
    items: tuple[tuple[str, int], ...]  # (orderItemId, quantity)


@dataclass(frozen=True)
class SampleOrder:
    """The whole truth about one order; ``to_api()`` renders what Amazon shows for its current status."""

    order_id: str
    marketplace: Marketplace
    fulfilled_by: FulfilledBy
    status: FulfillmentStatus
    created_time: datetime
    last_updated_time: datetime
    buyer: Buyer
    address: PostalAddress
    items: tuple[SampleItem, ...]
    service_level: str = "STANDARD"
    programs: tuple[str, ...] = ()
    seller_order_id: str | None = None
    confirmed: bool = False  # payment authorised: prices and address visible
    shipments: tuple[Shipment, ...] = ()

    # --- status transitions ---------------------------------------------------------------------
    def confirm(self, at: datetime | None = None) -> SampleOrder:
        """PENDING -> UNSHIPPED: payment is authorised, prices and the delivery address appear."""
        self._require(("PENDING", "PENDING_AVAILABILITY"), "confirm")
        return dataclasses.replace(
            self, status="UNSHIPPED", confirmed=True, last_updated_time=self._next_time(at, minutes=20)
        )

    def ship(
        self,
        at: datetime | None = None,
        *,
        quantities: Mapping[str, int] | None = None,
    ) -> SampleOrder:
        """Ship units (all remaining ones by default) -> PARTIALLY_SHIPPED or SHIPPED."""
        self._require(("UNSHIPPED", "PARTIALLY_SHIPPED"), "ship")
        when = self._next_time(at, minutes=26 * 60)
        wanted = (
            dict(quantities)
            if quantities is not None
            else {item.order_item_id: item.quantity_unshipped for item in self.items}
        )
        unknown = set(wanted) - {item.order_item_id for item in self.items}
        if unknown:
            raise ValueError(f"unknown order item ids: {sorted(unknown)}")
        new_items = []
        shipped_lines: list[tuple[str, int]] = []
        for item in self.items:
            count = wanted.get(item.order_item_id, 0)
            if count < 0 or count > item.quantity_unshipped:
                raise ValueError(f"cannot ship {count} of {item.quantity_unshipped} unshipped units")
            if count:
                shipped_lines.append((item.order_item_id, count))
            new_items.append(dataclasses.replace(item, quantity_shipped=item.quantity_shipped + count))
        if not shipped_lines:
            raise ValueError("nothing to ship")
        rng = random.Random(f"{self.order_id}:shipment:{len(self.shipments)}")
        carrier, service = rng.choice(self.marketplace.carriers)
        shipment = Shipment(
            package_reference_id=str(rng.randint(100_000_000, 999_999_999)),
            ship_time=when,
            carrier=carrier,
            shipping_service=service,
            tracking_number=_tracking_number(rng, carrier),
            items=tuple(shipped_lines),
        )
        remaining = sum(item.quantity_unshipped for item in new_items)
        return dataclasses.replace(
            self,
            status="SHIPPED" if remaining == 0 else "PARTIALLY_SHIPPED",
            items=tuple(new_items),
            shipments=(*self.shipments, shipment),
            last_updated_time=when,
        )

    def cancel(
        self,
        at: datetime | None = None,
        *,
        cancelled_by: CancelledBy = "BUYER",
        reason: str | None = None,
    ) -> SampleOrder:
        """Cancel an order that has not shipped anything yet (Amazon cannot cancel shipped units)."""
        self._require(("PENDING", "PENDING_AVAILABILITY", "UNSHIPPED"), "cancel")
        reason = reason or (BUYER_CANCEL_REASONS[0] if cancelled_by == "BUYER" else SELLER_CANCEL_REASONS[0])
        items = tuple(
            dataclasses.replace(
                item,
                cancelled_by=cancelled_by,
                cancel_reason=reason,
                buyer_cancel_reason=item.buyer_cancel_reason or (reason if cancelled_by == "BUYER" else None),
            )
            for item in self.items
        )
        return dataclasses.replace(
            self, status="CANCELLED", items=items, last_updated_time=self._next_time(at, minutes=45)
        )

    def request_cancellation(self, at: datetime | None = None, *, reason: str | None = None) -> SampleOrder:
        """The buyer asks to cancel an unshipped MFN order; the status stays until the seller acts."""
        self._require(("UNSHIPPED",), "request a cancellation of")
        reason = reason or BUYER_CANCEL_REASONS[1]
        items = tuple(dataclasses.replace(item, buyer_cancel_reason=reason) for item in self.items)
        return dataclasses.replace(self, items=items, last_updated_time=self._next_time(at, minutes=90))

    def advance(self, to: FulfillmentStatus, at: datetime | None = None) -> SampleOrder:
        """Walk to `to` the usual way (pending -> unshipped -> shipped); `at` stamps every step taken."""
        if to == self.status:
            raise ValueError(f"order is already {to}")
        order = self
        if to == "CANCELLED":
            return order.cancel(at)
        if to in ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED") and order.status in (
            "PENDING",
            "PENDING_AVAILABILITY",
        ):
            order = order.confirm(at)
        if to == "UNSHIPPED":
            if order.status != "UNSHIPPED":
                raise ValueError(f"cannot move a {self.status} order back to UNSHIPPED")
            return order
        if to == "SHIPPED":
            return order.ship(at)
        if to == "PARTIALLY_SHIPPED":
            return order.ship(at, quantities=order._partial_quantities())
        raise ValueError(f"the factory does not model moving to {to}")

    # --- rendering --------------------------------------------------------------------------------
    def to_api(self) -> dict[str, Any]:
        """The order as getOrder returns it with every includedData dataset requested."""
        mp = self.marketplace
        paid_out = self.confirmed and self.status != "CANCELLED"
        order: dict[str, Any] = {"orderId": self.order_id}
        if self.seller_order_id:
            order["orderAliases"] = [{"aliasId": self.seller_order_id, "aliasType": "SELLER_ORDER_ID"}]
        order["createdTime"] = iso(self.created_time)
        order["lastUpdatedTime"] = iso(self.last_updated_time)
        if self.programs:
            order["programs"] = list(self.programs)
        order["salesChannel"] = {
            "channelName": "AMAZON",
            "marketplaceId": mp.marketplace_id,
            "marketplaceName": mp.name,
        }
        order["buyer"] = self._buyer_api()
        if self.confirmed:
            order["recipient"] = {"deliveryAddress": self._address_api()}
        if paid_out:
            order["proceeds"] = self._order_proceeds_api()
        order["fulfillment"] = self._fulfillment_api()
        order["orderItems"] = [self._item_api(item, paid_out) for item in self.items]
        if self.fulfilled_by == "MERCHANT" and self.shipments:
            order["packages"] = [self._package_api(shipment) for shipment in self.shipments]
        return order

    # --- helpers ------------------------------------------------------------------------------------
    def _require(self, allowed: Sequence[str], action: str) -> None:
        if self.status not in allowed:
            raise ValueError(f"cannot {action} an order in status {self.status}")

    def _next_time(self, at: datetime | None, *, minutes: int) -> datetime:
        when = at if at is not None else self.last_updated_time + timedelta(minutes=minutes)
        when = _utc(when).replace(microsecond=0)
        if when < self.last_updated_time:
            raise ValueError("a change cannot happen before the order's lastUpdatedTime")
        return when

    def _partial_quantities(self) -> dict[str, int]:
        units = sum(item.quantity_unshipped for item in self.items)
        if units < 2:
            raise ValueError("an order with a single unit cannot be partially shipped")
        first = self.items[0]
        if len(self.items) > 1:
            return {first.order_item_id: first.quantity_unshipped}
        return {first.order_item_id: 1}

    def _buyer_api(self) -> dict[str, Any]:
        buyer: dict[str, Any] = {"buyerName": self.buyer.name}
        if self.fulfilled_by == "MERCHANT":  # Amazon: buyerEmail only for merchant-fulfilled orders
            buyer["buyerEmail"] = self.buyer.email
        if self.buyer.company_name:
            buyer["buyerCompanyName"] = self.buyer.company_name
        if self.buyer.purchase_order_number:
            buyer["buyerPurchaseOrderNumber"] = self.buyer.purchase_order_number
        return buyer

    def _address_api(self) -> dict[str, Any]:
        a = self.address
        address: dict[str, Any] = {"name": a.name}
        if a.company_name:
            address["companyName"] = a.company_name
        address["addressLine1"] = a.address_line1
        if a.address_line2:
            address["addressLine2"] = a.address_line2
        address.update(
            {
                "city": a.city,
                "stateOrRegion": a.state_or_region,
                "postalCode": a.postal_code,
                "countryCode": a.country_code,
            }
        )
        if self.fulfilled_by == "MERCHANT":  # phone numbers are suppressed on FBA orders
            address["phone"] = a.phone
        address["addressType"] = a.address_type
        return address

    def _money(self, amount: Decimal) -> dict[str, str]:
        return {"amount": str(_money(amount)), "currencyCode": self.marketplace.currency}

    def _order_proceeds_api(self) -> dict[str, Any]:
        items = self.items
        item_total = sum((i.item_total for i in items), _ZERO)
        shipping = sum((i.shipping for i in items), _ZERO)
        tax = sum((i.item_tax + i.shipping_tax for i in items), _ZERO)
        discount = sum((i.discount for i in items), _ZERO)
        breakdowns = [
            {"type": "ITEM", "subtotal": self._money(item_total)},
            {"type": "SHIPPING", "subtotal": self._money(shipping)},
            {"type": "TAX", "subtotal": self._money(tax)},
        ]
        if discount:
            breakdowns.append({"type": "DISCOUNT", "subtotal": self._money(-discount)})
        return {
            "grandTotal": self._money(sum((i.proceeds_total for i in items), _ZERO)),
            "breakdowns": breakdowns,
        }

    def _fulfillment_api(self) -> dict[str, Any]:
        ship_days = 1 if self.fulfilled_by == "AMAZON" or self.service_level != "STANDARD" else 2
        delivery_days = {"NEXT_DAY": (1, 1), "SECOND_DAY": (2, 2), "EXPEDITED": (2, 3)}.get(
            self.service_level, (3, 6)
        )
        created_day = self.created_time.replace(hour=0, minute=0, second=0, microsecond=0)
        return {
            "fulfillmentStatus": self.status,
            "fulfilledBy": self.fulfilled_by,
            "fulfillmentServiceLevel": self.service_level,
            "shipByWindow": {
                "earliestDateTime": iso(self.created_time),
                "latestDateTime": iso(created_day + timedelta(days=ship_days + 1, seconds=-1)),
            },
            "deliverByWindow": {
                "earliestDateTime": iso(created_day + timedelta(days=delivery_days[0])),
                "latestDateTime": iso(created_day + timedelta(days=delivery_days[1] + 1, seconds=-1)),
            },
        }

    def _item_api(self, item: SampleItem, paid_out: bool) -> dict[str, Any]:
        product: dict[str, Any] = {
            "asin": item.product.asin,
            "title": item.product.title,
            "sellerSku": item.product.seller_sku,
            "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
        }
        if self.confirmed:  # pending orders carry no prices
            product["price"] = {"unitPrice": self._money(item.unit_price)}
        rendered: dict[str, Any] = {
            "orderItemId": item.order_item_id,
            "quantityOrdered": item.quantity,
            "product": product,
        }
        if paid_out:
            rendered["proceeds"] = self._item_proceeds_api(item)
        if item.promotion_id and self.confirmed:
            rendered["promotion"] = {"breakdowns": [{"promotionId": item.promotion_id}]}
        cancellation: dict[str, Any] = {}
        if item.buyer_cancel_reason:
            cancellation["cancellationRequest"] = {
                "requester": "BUYER",
                "cancelReason": item.buyer_cancel_reason,
            }
        if item.cancelled_by:
            cancellation["cancellationExecution"] = {
                "cancelledBy": item.cancelled_by,
                "cancelReason": item.cancel_reason,
            }
        if cancellation:
            rendered["cancellation"] = cancellation
        rendered["fulfillment"] = {
            "quantityFulfilled": item.quantity_shipped,
            "quantityUnfulfilled": item.quantity_unshipped,
        }
        if paid_out and self.marketplace.country_code == "US":  # marketplace facilitator tax
            rendered["tax"] = {
                "taxCollections": [
                    {
                        "model": "MARKETPLACE_FACILITATOR",
                        "responsibleParty": self.marketplace.tax_responsible_party,
                    }
                ]
            }
        return rendered

    def _item_proceeds_api(self, item: SampleItem) -> dict[str, Any]:
        breakdowns: list[dict[str, Any]] = [
            {"type": "ITEM", "subtotal": self._money(item.item_total)},
            {"type": "SHIPPING", "subtotal": self._money(item.shipping)},
            {
                "type": "TAX",
                "subtotal": self._money(item.item_tax + item.shipping_tax),
                "detailedBreakdowns": [
                    {"subtype": "ITEM", "value": self._money(item.item_tax)},
                    {"subtype": "SHIPPING", "value": self._money(item.shipping_tax)},
                ],
            },
        ]
        if item.discount:
            breakdowns.append(
                {
                    "type": "DISCOUNT",
                    "subtotal": self._money(-item.discount),
                    "detailedBreakdowns": [{"subtype": "ITEM", "value": self._money(-item.discount)}],
                }
            )
        return {"proceedsTotal": self._money(item.proceeds_total), "breakdowns": breakdowns}

    def _package_api(self, shipment: Shipment) -> dict[str, Any]:
        return {
            "packageReferenceId": shipment.package_reference_id,
            "createdTime": iso(shipment.ship_time - timedelta(hours=2)),
            "packageStatus": {"status": "SHIPPED", "detailedStatus": "PICKED_UP"},
            "carrier": shipment.carrier,
            "shipTime": iso(shipment.ship_time),
            "shippingService": shipment.shipping_service,
            "trackingNumber": shipment.tracking_number,
            "shipFromAddress": dict(self.marketplace.ship_from),
            "packageItems": [{"orderItemId": item_id, "quantity": qty} for item_id, qty in shipment.items],
        }


# --- the factory ---------------------------------------------------------------------------------------


@dataclass
class OrderFactory:
    """Deterministic order builder: the same seed and the same calls give the same orders."""

    seed: int = 0
    start: datetime = DEFAULT_START
    _rng: random.Random = field(init=False, repr=False)
    _cursor: datetime = field(init=False, repr=False)
    _used_ids: set[str] = field(init=False, repr=False, default_factory=set)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._cursor = _utc(self.start).replace(microsecond=0)

    def order(
        self,
        *,
        status: FulfillmentStatus = "UNSHIPPED",
        marketplace_id: str | None = None,
        fulfilled_by: FulfilledBy | None = None,
        created_time: datetime | None = None,
        last_updated_time: datetime | None = None,
        item_count: int | None = None,
        business: bool | None = None,
        promotion: bool | None = None,
        order_id: str | None = None,
    ) -> SampleOrder:
        """One order in `status`; unset choices are drawn from the seeded generator.

        `created_time` defaults to a cursor that moves forward a few minutes per order; `last_updated_time`
        (default: a plausible delay after creation) stamps the last status change.
        """
        rng = self._rng
        mp = MARKETPLACES[marketplace_id or rng.choice(list(MARKETPLACES))]
        by: FulfilledBy = fulfilled_by or ("AMAZON" if rng.random() < 0.4 else "MERCHANT")
        if created_time is None:
            self._cursor += timedelta(minutes=rng.randint(3, 45), seconds=rng.randint(0, 59))
            created = self._cursor
        else:
            created = _utc(created_time).replace(microsecond=0)
        is_business = business if business is not None else rng.random() < 0.12
        people = _PEOPLE[mp.country_code]
        buyer, address = _person(rng, mp, people, is_business)
        if item_count is None:
            item_count = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
            if status == "PARTIALLY_SHIPPED":
                item_count = max(item_count, 2)
        if item_count < 1 or item_count > len(CATALOG):
            raise ValueError(f"item_count must be between 1 and {len(CATALOG)}")
        products = rng.sample(CATALOG, item_count)
        locality_rate = next(
            loc.sales_tax_rate for loc in people.localities if loc.postal_code == address.postal_code
        )
        items: list[SampleItem] = []
        for product in products:
            quantity = rng.choices((1, 2, 3), weights=(70, 20, 10))[0]
            if status == "PARTIALLY_SHIPPED" and item_count == 1:
                quantity = max(quantity, 2)
            unit = product.price_in(mp)
            discount = _ZERO
            promotion_id = None
            promoted = promotion if promotion is not None else rng.random() < 0.15
            if promoted:
                discount = min(Decimal("5.00"), _money(unit * quantity * Decimal("0.10")))
                promotion_id = f"{mp.country_code}-SPRINGSAVE-{rng.randint(1000, 9999)}"
            items.append(
                SampleItem(
                    order_item_id=self._unique(lambda: f"{rng.randint(10**13, 10**14 - 1)}"),
                    product=product,
                    quantity=quantity,
                    unit_price=unit,
                    shipping=_ZERO,
                    tax_rate=locality_rate,
                    discount=discount,
                    promotion_id=promotion_id,
                )
            )
        if by == "MERCHANT":
            merchandise = sum((item.item_total for item in items), _ZERO)
            if merchandise < mp.free_shipping_from:
                items[0] = dataclasses.replace(items[0], shipping=mp.mfn_shipping)
        programs: list[str] = []
        if by == "AMAZON" and rng.random() < 0.8:
            programs.append("PRIME")
        if is_business:
            programs.append("AMAZON_BUSINESS")
        levels = (
            ("STANDARD", "SECOND_DAY", "NEXT_DAY")
            if by == "AMAZON"
            else ("STANDARD", "EXPEDITED", "NEXT_DAY")
        )
        service_level = rng.choices(levels, weights=(70, 20, 10))[0]
        prefix = rng.choice(mp.order_id_prefixes)
        new_id = order_id or self._unique(
            lambda: f"{prefix}-{rng.randint(0, 9_999_999):07d}-{rng.randint(0, 9_999_999):07d}"
        )
        seller_order_id = (
            f"HLG-{created:%y%m%d}-{rng.randint(1000, 9999)}"
            if by == "MERCHANT" and rng.random() < 0.3
            else None
        )

        order = SampleOrder(
            order_id=new_id,
            marketplace=mp,
            fulfilled_by=by,
            status="PENDING",
            created_time=created,
            last_updated_time=created,
            buyer=buyer,
            address=address,
            items=tuple(items),
            service_level=service_level,
            programs=tuple(programs),
            seller_order_id=seller_order_id,
        )
        return _walk_to(order, status, rng, last_updated_time)

    def orders(self, count: int, **options: Any) -> list[SampleOrder]:
        """`count` orders with the same options (see `order`), created a few minutes apart."""
        if "created_time" in options or "order_id" in options:
            raise ValueError("orders() spaces creation times and ids itself; use order() for fixed ones")
        return [self.order(**options) for _ in range(count)]

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self._used_ids:
                self._used_ids.add(value)
                return value


def make_order(seed: int = 0, **options: Any) -> SampleOrder:
    """Shorthand for ``OrderFactory(seed).order(**options)``."""
    return OrderFactory(seed=seed).order(**options)


def _walk_to(
    order: SampleOrder, status: FulfillmentStatus, rng: random.Random, last_updated: datetime | None
) -> SampleOrder:
    """Replay the life cycle from PENDING to `status`; `last_updated` (if given) stamps the last step."""
    if status not in FACTORY_STATUSES:
        raise ValueError(f"the factory builds orders in {FACTORY_STATUSES}, not {status}")
    created = order.created_time
    last = _utc(last_updated).replace(microsecond=0) if last_updated is not None else None
    if last is not None and last < created:
        raise ValueError("last_updated_time must not be before created_time")
    if status == "PENDING":
        return order if last is None else dataclasses.replace(order, last_updated_time=last)
    confirm_at = created + timedelta(minutes=rng.randint(1, 40), seconds=rng.randint(0, 59))
    if last is not None:
        confirm_at = min(confirm_at, created + (last - created) / 2)
    if status == "UNSHIPPED":
        return order.confirm(last or confirm_at)
    if status == "CANCELLED":
        when = last or confirm_at + timedelta(minutes=rng.randint(5, 90))
        if rng.random() < 0.5:  # half the cancellations happen after payment authorisation
            order = order.confirm(confirm_at)
        by: CancelledBy = "BUYER"
        if order.fulfilled_by == "MERCHANT" and rng.random() < 0.3:
            by = "MERCHANT"
        reason = rng.choice(BUYER_CANCEL_REASONS if by == "BUYER" else SELLER_CANCEL_REASONS)
        return order.cancel(when, cancelled_by=by, reason=reason)
    ship_at = last or confirm_at + timedelta(hours=rng.randint(2, 30), minutes=rng.randint(0, 59))
    order = order.confirm(confirm_at)
    if status == "SHIPPED":
        return order.ship(ship_at)
    return order.ship(ship_at, quantities=order._partial_quantities())


def _person(
    rng: random.Random, mp: Marketplace, people: _People, business: bool
) -> tuple[Buyer, PostalAddress]:
    first, last = rng.choice(people.first_names), rng.choice(people.last_names)
    name = f"{first} {last}"
    alphabet = string.ascii_lowercase + string.digits
    email = "".join(rng.choice(alphabet) for _ in range(rng.randint(13, 15))) + "@" + mp.email_domain
    locality = rng.choice(people.localities)
    street = rng.choice(people.streets)
    if mp.country_code == "US":
        line1 = f"{rng.randint(100, 9899)} {street}"
        phone = f"{locality.phone_prefix}{rng.randint(0, 99):02d}"
    elif mp.country_code == "GB":
        line1 = f"{rng.randint(1, 180)} {street}"
        phone = f"{locality.phone_prefix}{rng.randint(0, 999):03d}"
    else:
        line1 = f"{street} {rng.randint(1, 140)}{rng.choice(('', '', '', 'a', 'b'))}"
        phone = f"{locality.phone_prefix}{rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
    line2 = rng.choice(people.second_lines) if rng.random() < 0.35 else None
    company = rng.choice(people.companies) if business else None
    buyer = Buyer(
        name=name,
        email=email,
        company_name=company,
        purchase_order_number=f"PO-{rng.randint(2024, 2025)}-{rng.randint(10000, 99999)}"
        if business
        else None,
    )
    address = PostalAddress(
        name=name,
        address_line1=line1,
        address_line2=line2,
        city=locality.city,
        state_or_region=locality.state_or_region,
        postal_code=locality.postal_code,
        country_code=mp.country_code,
        phone=phone,
        address_type="COMMERCIAL" if business else "RESIDENTIAL",
        company_name=company,
    )
    return buyer, address


def _tracking_number(rng: random.Random, carrier: str) -> str:
    digits = string.digits
    if carrier == "USPS":
        return "9400" + "".join(rng.choice(digits) for _ in range(18))
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice(string.ascii_uppercase + digits) for _ in range(16))
    if carrier == "Royal Mail":
        letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(2))
        return f"{letters}{rng.randint(0, 999_999_999):09d}GB"
    return "".join(rng.choice(digits) for _ in range(14 if carrier in ("DPD", "Hermes", "Evri") else 12))


# --- notifications ---------------------------------------------------------------------------------------


def order_change_notification(
    order: SampleOrder | Mapping[str, Any],
    *,
    notification_id: str | None = None,
    order_change_type: OrderChangeType = "OrderStatusChange",
    change_time: datetime | None = None,
    change_reason: str | None = None,
    publish_time: datetime | None = None,
    seller_id: str = DEFAULT_SELLER_ID,
    application_id: str = DEFAULT_APPLICATION_ID,
    subscription_id: str = DEFAULT_SUBSCRIPTION_ID,
) -> dict[str, Any]:
    """The ORDER_CHANGE envelope for the order's current state, as Amazon delivers it to SQS.

    It carries status and SKUs but no money and no buyer data. `order` must be a full order (``to_api()``
    output or an emulator-stored order), since the status comes from the FULFILLMENT dataset.
    Without `notification_id` the id is derived from order id, change type and change time, so the same
    change always yields the same id (what an SQS redelivery looks like); pass one to model a new event.
    """
    data = order.to_api() if isinstance(order, SampleOrder) else order
    fulfillment = data.get("fulfillment")
    if not isinstance(fulfillment, Mapping):
        raise ValueError("the order has no fulfillment dataset: build notifications from full orders")
    status = str(fulfillment["fulfillmentStatus"])
    changed_at = _utc(change_time) if change_time else parse_time(str(data["lastUpdatedTime"]))
    published = _utc(publish_time) if publish_time else changed_at + timedelta(seconds=1, milliseconds=437)
    order_id = str(data["orderId"])
    if notification_id is None:
        notification_id = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"order-change:{order_id}:{order_change_type}:{iso(changed_at)}")
        )
    if change_reason is None:
        change_reason = {
            "BuyerRequestedChange": "Buyer Requested Cancel",
            "DeliveryTipChange": "Delivery Tip Changed",
        }.get(order_change_type, "Order Status Changed")

    items = data.get("orderItems", [])
    shipped_flags = [
        int(i.get("fulfillment", {}).get("quantityUnfulfilled", 0)) == 0
        and int(i.get("fulfillment", {}).get("quantityFulfilled", 0)) > 0
        for i in items
    ]
    mixed = len(set(shipped_flags)) > 1  # OrderItemStatus appears only when the items' statuses differ
    notification_items: list[dict[str, Any]] = []
    for item, is_shipped in zip(items, shipped_flags, strict=True):
        entry: dict[str, Any] = {
            "OrderItemId": str(item["orderItemId"]),
            "SellerSKU": str(item["product"]["sellerSku"]),
            "SupplySourceId": None,
        }
        if mixed:
            entry["OrderItemStatus"] = "Shipped" if is_shipped else "Unshipped"
        entry["Quantity"] = int(item["quantityOrdered"])
        entry["QuantityShipped"] = int(item.get("fulfillment", {}).get("quantityFulfilled", 0))
        entry["IsBuyerRequestedCancel"] = "cancellationRequest" in item.get("cancellation", {})
        notification_items.append(entry)

    fulfilled_by = str(fulfillment.get("fulfilledBy", "MERCHANT"))
    address = data.get("recipient", {}).get("deliveryAddress", {})
    summary: dict[str, Any] = {
        "MarketplaceId": str(data["salesChannel"]["marketplaceId"]),
        "OrderStatus": NOTIFICATION_ORDER_STATUS[status],
        "PurchaseDate": iso(parse_time(str(data["createdTime"])), millis=True),
        "DestinationPostalCode": address.get("postalCode"),
        "FulfillmentType": NOTIFICATION_FULFILLMENT_TYPE[fulfilled_by],
        "OrderType": "Preorder" if "PREORDER" in data.get("programs", []) else "StandardOrder",
        "NumberOfItemsShipped": sum(int(i.get("fulfillment", {}).get("quantityFulfilled", 0)) for i in items),
        "NumberOfItemsUnshipped": sum(
            int(i.get("fulfillment", {}).get("quantityUnfulfilled", 0)) for i in items
        ),
    }
    ship_window = fulfillment.get("shipByWindow", {})
    deliver_window = fulfillment.get("deliverByWindow", {})
    if fulfilled_by == "MERCHANT" and "earliestDateTime" in deliver_window:
        summary["EarliestDeliveryDate"] = _millis(deliver_window["earliestDateTime"])
        if (
            status not in ("PENDING_AVAILABILITY", "PENDING", "CANCELLED")
            and "latestDateTime" in deliver_window
        ):
            summary["LatestDeliveryDate"] = _millis(deliver_window["latestDateTime"])
    if "earliestDateTime" in ship_window:
        summary["EarliestShipDate"] = _millis(ship_window["earliestDateTime"])
    if "latestDateTime" in ship_window:
        summary["LatestShipDate"] = _millis(ship_window["latestDateTime"])
    programs = [
        NOTIFICATION_ORDER_PROGRAMS[p] for p in data.get("programs", []) if p in NOTIFICATION_ORDER_PROGRAMS
    ]
    if programs:
        summary["OrderPrograms"] = programs
    summary["OrderItems"] = notification_items

    return {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": iso(published, millis=True),
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": seller_id,
                "AmazonOrderId": order_id,
                "OrderChangeType": order_change_type,
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": iso(changed_at, millis=True),
                    "ChangeReason": change_reason,
                },
                "Summary": summary,
            }
        },
        "NotificationMetadata": {
            "ApplicationId": application_id,
            "SubscriptionId": subscription_id,
            "PublishTime": iso(published, millis=True),
            "NotificationId": notification_id,
        },
    }


# --- PII ------------------------------------------------------------------------------------------------

_BUYER_PII_FIELDS = ("buyerName", "buyerEmail", "buyerCompanyName", "buyerPurchaseOrderNumber")
_ADDRESS_PII_FIELDS = ("name", "companyName", "addressLine1", "addressLine2", "addressLine3", "phone")


def pii_values(order: SampleOrder | Mapping[str, Any]) -> set[str]:
    """Buyer and recipient strings distinctive enough to search logs for.

    For a ``SampleOrder`` this includes data Amazon does not show yet (a pending order's address); for an
    order dict, what it contains. City, region, postal and country codes are left out on purpose: alone
    they identify nobody, and short digit strings like "98103" would match unrelated log text.
    """
    if isinstance(order, SampleOrder):
        b, a = order.buyer, order.address
        values = {b.name, b.email, a.name, a.address_line1, a.phone}
        values.update(
            v for v in (b.company_name, b.purchase_order_number, a.address_line2, a.company_name) if v
        )
        return values
    found: set[str] = set()
    buyer = order.get("buyer") or {}
    found.update(str(buyer[key]) for key in _BUYER_PII_FIELDS if buyer.get(key))
    address = (order.get("recipient") or {}).get("deliveryAddress") or {}
    found.update(str(address[key]) for key in _ADDRESS_PII_FIELDS if address.get(key))
    for registration in (order.get("tax") or {}).get("taxRegistrations", []):
        found.update(
            str(registration[key]) for key in ("legalName", "taxRegistrationNumber") if registration.get(key)
        )
        reg_address = registration.get("taxRegistrationAddress") or {}
        found.update(str(reg_address[key]) for key in _ADDRESS_PII_FIELDS if reg_address.get(key))
    for item in order.get("orderItems", []):
        gift = ((item.get("fulfillment") or {}).get("packing") or {}).get("giftOption") or {}
        if gift.get("giftMessage"):
            found.add(str(gift["giftMessage"]))
    return found


# --- time helpers ----------------------------------------------------------------------------------------


def iso(moment: datetime, *, millis: bool = False) -> str:
    """ISO-8601 UTC with a Z, as Amazon writes it ("2025-03-03T08:15:00Z" / "...:00.000Z")."""
    moment = _utc(moment)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    """Parse Amazon's ISO-8601 timestamps; naive values are taken as UTC."""
    return _utc(datetime.fromisoformat(value.strip()))


def _millis(value: Any) -> str:
    return iso(parse_time(str(value)), millis=True)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)
