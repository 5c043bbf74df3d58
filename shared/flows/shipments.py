"""Shipments: a merchant-fulfilled Amazon order shipped in Dynamics -> Orders API v0 confirmShipment.

    facts (post-image) -> skip what Amazon ships or has shipped -> lines (Dataverse) -> state (confirmed units)
      -> repair a package left pending by a crash -> next package -> claim -> confirmShipment -> record

Never twice, never for FBA:
- an AFN order is never confirmed (Amazon ships it); an order Amazon already shows as shipped (order sync writes
  Amazon's status on the salesorder) costs no call and is not an error; one Amazon cancelled is a dead letter
  (someone shipped an order that will not be paid) without a call;
- per order, the units Amazon has are kept in Table Storage; only units beyond them are confirmed, as the
  order's next package (reference id 1, 2, ...). The package is claimed (ETag) before the call and recorded
  after it: a redelivery finds it recorded and sends nothing;
- a call whose answer was lost (or a crash after it) leaves the claim behind: the next delivery asks Amazon
  (getOrder) whether the units are fulfilled before sending anything, so a package that landed is recorded,
  not sent again; one that did not is sent with the same reference id, which Amazon refuses if it has it;
- a 400 from Amazon is checked the same way: units Amazon shows as fulfilled are done (another tool or a
  person confirmed them); otherwise it is dead-lettered as ShipmentRejected with Amazon's message.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from enum import StrEnum

from shared.amazon.errors import SpApiPermanentError
from shared.amazon.orders import OrdersApi
from shared.amazon.shipments import ShipmentsApi
from shared.dataverse.shipments import CrmShipments
from shared.errors import PermanentError, SyncError
from shared.mapping.config import MappingConfig
from shared.mapping.shipments import (
    AMAZON_FULFILLED,
    CLOSED_WITHOUT_SHIPPING,
    SHIPPED,
    next_package,
    shipment_facts,
)
from shared.model.crm_events import CrmEvent
from shared.model.shipments import Package, ShipmentFacts
from shared.state.shipments import PendingPackage, ShipmentState, ShipmentStore
from shared.timeutil import utc_now

log = logging.getLogger(__name__)


class ShipmentRejected(PermanentError):
    reason = "ShipmentRejected"


class ShipmentIncomplete(PermanentError):
    reason = "ShipmentIncomplete"


class Shipped(StrEnum):
    CONFIRMED = "confirmed"  # this delivery confirmed a package
    NOT_AMAZON = "not_amazon"  # the salesorder did not come from Amazon
    FULFILLED_BY_AMAZON = "fulfilled_by_amazon"  # FBA: Amazon ships it, never confirmed
    ALREADY_SHIPPED = "already_shipped"  # Amazon shows it shipped (or cancelled): no call
    NOTHING_NEW = "nothing_new"  # no units beyond those Amazon has, or no tracking number yet
    FOUND_AT_AMAZON = "found_at_amazon"  # the units were fulfilled at Amazon already: recorded, not sent


class ShipmentSync:
    def __init__(
        self,
        *,
        crm: CrmShipments,
        shipments: ShipmentsApi,
        orders: OrdersApi,
        store: ShipmentStore,
        mapping: MappingConfig,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._crm = crm
        self._shipments = shipments
        self._orders = orders
        self._store = store
        self._mapping = mapping
        self._clock = clock
        self.totals: Counter[str] = Counter()

    def apply(self, event: CrmEvent) -> Shipped | SyncError:
        outcome: Shipped | SyncError
        try:
            outcome = self._apply(event)
        except SyncError as exc:
            outcome = exc
        self.totals[outcome.value if isinstance(outcome, Shipped) else outcome.reason] += 1
        return outcome

    def _apply(self, event: CrmEvent) -> Shipped:
        facts = shipment_facts(event, self._mapping)
        if facts is None:
            return Shipped.NOT_AMAZON
        if facts.fulfillment_channel == AMAZON_FULFILLED:
            return Shipped.FULFILLED_BY_AMAZON
        status = (facts.amazon_status or "").upper()
        if status == SHIPPED:
            return Shipped.ALREADY_SHIPPED
        if status in CLOSED_WITHOUT_SHIPPING and facts.tracking_number is not None:
            raise ShipmentRejected(
                f"order {facts.order_id} is {status} at Amazon; its shipment in Dynamics cannot be confirmed"
            )
        if facts.tracking_number is None or facts.carrier is None or facts.ship_date is None:
            return Shipped.NOTHING_NEW  # not shipped yet, or its details are still being typed in
        if facts.marketplace_id is None:
            raise ShipmentIncomplete(f"order {facts.order_id} has no Amazon marketplace id in the CRM")
        state, found = self._repaired(self._store.get(facts.order_id))
        package = next_package(
            facts, self._crm.lines(facts.order_id), state.confirmed, state.packages + 1, self._mapping
        )
        if package is None:
            return Shipped.FOUND_AT_AMAZON if found else Shipped.NOTHING_NEW
        claimed = self._store.save(
            replace(state, pending=PendingPackage(package.reference_id, package.units, self._clock()))
        )
        return self._confirm(facts, package, claimed)

    def _confirm(self, facts: ShipmentFacts, package: Package, claimed: ShipmentState) -> Shipped:
        marketplace_id = facts.marketplace_id or ""
        try:
            self._shipments.confirm(facts.order_id, marketplace_id, package)
        except SpApiPermanentError as exc:
            if self._fulfilled_at_amazon(facts.order_id, package.units, claimed.confirmed):
                self._store.save(claimed.confirm(package.units))
                return Shipped.FOUND_AT_AMAZON
            self._store.save(replace(claimed, pending=None))
            raise ShipmentRejected(
                f"Amazon refused the shipment confirmation of order {facts.order_id} "
                f"(package {package.reference_id}): {exc}"
            ) from None
        # A lost answer raised above (transient) and left the claim: the next delivery repairs it.
        self._store.save(claimed.confirm(package.units))
        log.info("Order %s: package %s confirmed to Amazon", facts.order_id, package.reference_id)
        return Shipped.CONFIRMED

    def _repaired(self, state: ShipmentState) -> tuple[ShipmentState, bool]:
        """A package left pending may have landed: ask Amazon before sending anything. Returns the state to
        go on from, and whether the pending package turned out to be at Amazon (recorded now)."""
        pending = state.pending
        if pending is None:
            return state, False
        if self._fulfilled_at_amazon(state.order_id, pending.items, state.confirmed):
            log.info(
                "Order %s: package %s had reached Amazon; recorded", state.order_id, pending.reference_id
            )
            return self._store.save(state.confirm(pending.items)), True
        return self._store.save(replace(state, pending=None)), False

    def _fulfilled_at_amazon(
        self, order_id: str, units: Mapping[str, int], confirmed: Mapping[str, int]
    ) -> bool:
        """Whether Amazon shows these units (on top of those confirmed before) as fulfilled, or the order shipped."""
        order = self._orders.get_order(order_id)
        if order.amazon_status.upper() == SHIPPED:
            return True
        shipped = {line.order_item_id: line.quantity_shipped or 0 for line in order.lines}
        return all(shipped.get(item, 0) >= confirmed.get(item, 0) + count for item, count in units.items())
