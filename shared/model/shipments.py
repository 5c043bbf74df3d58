"""A merchant-fulfilled shipment as the CRM records it, and the package Amazon is told about.

The CRM side (`ShipmentFacts`) comes from the salesorder's post-image and its lines; the mapping turns it into
the next `Package` to confirm: the units shipped per Amazon order item beyond those already confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ShippedLine:
    order_item_id: str
    ordered: int
    shipped: int | None  # salesorderdetail.quantityshipped; None when the CRM left it empty


@dataclass(frozen=True)
class ShipmentFacts:
    """What the CRM says about an Amazon order's shipment."""

    order_id: str  # the AmazonOrderId
    marketplace_id: str | None
    fulfillment_channel: str | None  # AFN / MFN as order sync wrote it
    amazon_status: str | None  # Amazon's fulfillment status as order sync last wrote it
    fulfilled_in_crm: bool  # the salesorder is Fulfilled (statecode 3)
    carrier: str | None
    tracking_number: str | None
    ship_date: datetime | None
    shipping_method: str | None = None


@dataclass(frozen=True)
class Package:
    reference_id: str  # positive number, unique per order: the package's place among the order's packages
    carrier_code: str
    carrier_name: str | None
    tracking_number: str
    ship_date: datetime
    items: tuple[tuple[str, int], ...]  # (orderItemId, quantity)
    shipping_method: str | None = None

    @property
    def units(self) -> dict[str, int]:
        return dict(self.items)
