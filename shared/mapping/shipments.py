"""CRM shipment facts -> the next package to confirm to Amazon: pure rules, no I/O.

- The order is Amazon's if the salesorder has an Amazon order id; merchant-fulfilled (MFN) orders only: Amazon
  ships FBA (AFN) orders itself and refuses a confirmation for them.
- Units shipped per line: salesorderdetail.quantityshipped when the CRM recorded it (a partial shipment), else
  the whole line once the order is Fulfilled; never more than ordered.
- The package holds, per Amazon order item, the units shipped beyond those already confirmed; its reference id
  is the package's place in the order (1, 2, ...), which makes a repeated confirmation recognisable.
- The carrier as typed in Dynamics is looked up in [shipments] carriers; an unknown one goes as "Other" with
  its name (Amazon requires carrierName then).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared.mapping.config import MappingConfig
from shared.model.crm import FULFILLED
from shared.model.crm_events import CrmEvent, as_datetime, as_option, as_text
from shared.model.shipments import Package, ShipmentFacts, ShippedLine

OTHER_CARRIER = "Other"
AMAZON_FULFILLED = "AFN"
SHIPPED = "SHIPPED"
CLOSED_WITHOUT_SHIPPING = frozenset({"CANCELLED", "UNFULFILLABLE"})  # Amazon will not take a shipment


def shipment_facts(event: CrmEvent, mapping: MappingConfig) -> ShipmentFacts | None:
    """The shipment the salesorder event describes; None for an order that did not come from Amazon."""
    columns = mapping.columns.salesorder
    order_id = as_text(event.value(columns.order_id))
    if order_id is None:
        return None
    return ShipmentFacts(
        order_id=order_id,
        marketplace_id=as_text(event.value(columns.marketplace_id)),
        fulfillment_channel=as_text(event.value(columns.fulfillment_channel)),
        amazon_status=as_text(event.value(columns.amazon_status)),
        fulfilled_in_crm=as_option(event.value("statecode")) == FULFILLED,
        carrier=as_text(event.value(columns.carrier)),
        tracking_number=as_text(event.value(columns.tracking_number)),
        ship_date=as_datetime(event.value(columns.ship_date)),
    )


def shipped_units(facts: ShipmentFacts, lines: Sequence[ShippedLine]) -> dict[str, int]:
    """Units the CRM says have left, per Amazon order item."""
    units = {}
    for line in lines:
        shipped = line.shipped if line.shipped else (line.ordered if facts.fulfilled_in_crm else 0)
        units[line.order_item_id] = max(0, min(shipped, line.ordered))
    return units


def next_package(
    facts: ShipmentFacts,
    lines: Sequence[ShippedLine],
    confirmed: Mapping[str, int],
    package_number: int,
    mapping: MappingConfig,
) -> Package | None:
    """The units shipped beyond those Amazon has, as one package; None when there is nothing new to confirm."""
    if facts.carrier is None or facts.tracking_number is None or facts.ship_date is None:
        return None
    items = tuple(
        (item_id, units - confirmed.get(item_id, 0))
        for item_id, units in sorted(shipped_units(facts, lines).items())
        if units > confirmed.get(item_id, 0)
    )
    if not items:
        return None
    code = mapping.shipments.carrier_code(facts.carrier)
    return Package(
        reference_id=str(package_number),
        carrier_code=code or OTHER_CARRIER,
        carrier_name=None if code else facts.carrier,
        tracking_number=facts.tracking_number,
        ship_date=facts.ship_date,
        items=items,
        shipping_method=facts.shipping_method,
    )
