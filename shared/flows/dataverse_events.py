"""Dataverse events in: each RemoteExecutionContext read, checked, and routed by table and message.

    product Create/Update (stock)              -> listings sync: merchant quantity per marketplace
    productpricelevel Create/Update (price)    -> listings sync: offer price in the price list's marketplaces
    salesorder Update (carrier, tracking, ...) -> shipments: confirmShipment

Checked first, each costing no Amazon call:
- a body that is not a RemoteExecutionContext is dead-lettered (MalformedEventContext, naming the field);
- a context from another organization than DATAVERSE_ORGANIZATION_ID (when set) is ForeignOrganization;
- a change made by the integration's own application user (InitiatingUserId or UserId equal to
  DATAVERSE_INTEGRATION_USER_ID, or to WhoAmI's answer when that is unset) is completed and sent nowhere:
  what the integration wrote came from Amazon, and sending it back would start a ping-pong;
- a table or message no route takes is UnroutableEvent: a step registered by mistake should be seen.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

from shared.dataverse.events import parse_context
from shared.dataverse.products import ProductDirectory
from shared.errors import PermanentError, SyncError
from shared.flows.listings_sync import Done, ListingsSync, Result, Wait, combine
from shared.flows.shipments import ShipmentSync, Shipped
from shared.mapping.config import MappingConfig
from shared.mapping.listings import ProductWithoutSku, price_changes, stock_changes
from shared.messaging import BatchReport, InboundMessage, Settlement
from shared.model.crm_events import CrmEvent, as_reference
from shared.model.listings import ListingChange

log = logging.getLogger(__name__)

PRODUCT, PRICE_LIST_ITEM, SALES_ORDER = "product", "productpricelevel", "salesorder"
WRITES = frozenset({"Create", "Update"})


class ForeignOrganization(PermanentError):
    reason = "ForeignOrganization"


class UnroutableEvent(PermanentError):
    reason = "UnroutableEvent"


class DataverseEvents:
    def __init__(
        self,
        *,
        listings: ListingsSync,
        shipments: ShipmentSync,
        directory: ProductDirectory,
        mapping: MappingConfig,
        marketplace_ids: Sequence[str],
        integration_user: Callable[[], str],
        organization_id: str | None = None,
    ) -> None:
        self._listings = listings
        self._shipments = shipments
        self._directory = directory
        self._mapping = mapping
        self._marketplace_ids = tuple(marketplace_ids)
        self._integration_user = integration_user
        self._organization_id = organization_id.lower() if organization_id else None
        self.totals: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle(self, messages: Sequence[InboundMessage], *, invocation_id: str | None = None) -> BatchReport:
        report = BatchReport()
        listing_items: list[tuple[InboundMessage, ListingChange]] = []
        shipments: list[tuple[InboundMessage, CrmEvent]] = []
        try:
            own_user = self._integration_user()
        except SyncError as exc:  # WhoAmI failed: nobody can tell our writes from the users' yet
            report.settlements += [_settlement(message, exc) for message in messages]
            return report
        for message in messages:
            try:
                event = self._read(message)
                if event.done_by(own_user):  # before routing: the app's writes to any table stop here
                    self._done(report, message, "own_write")
                    continue
                _check_route(event)
                if event.entity == SALES_ORDER and event.message == "Update":
                    shipments.append((message, event))
                    continue
                changes = self._listing_changes(event)
            except SyncError as exc:
                report.counts[exc.reason] += 1
                report.settlements.append(_settlement(message, exc))
                continue
            if not changes:
                self._done(report, message, "nothing_to_send")
            listing_items += [(message, change) for change in changes]
        self._apply_listings(listing_items, invocation_id or uuid.uuid4().hex, report)
        for message, event in shipments:
            outcome = self._shipments.apply(event)
            report.counts[outcome.value if isinstance(outcome, Shipped) else outcome.reason] += 1
            report.settlements.append(_settlement(message, outcome))
        with self._lock:
            self.totals.update(report.counts)
        log.info("Dataverse events: %s", ", ".join(f"{k}={v}" for k, v in sorted(report.counts.items())))
        return report

    def _read(self, message: InboundMessage) -> CrmEvent:
        event = parse_context(message.body)
        if self._organization_id and event.organization_id.lower() != self._organization_id:
            raise ForeignOrganization(
                f"event of {event.entity} {event.record_id} comes from another organization than "
                "DATAVERSE_ORGANIZATION_ID"
            )
        return event

    def _listing_changes(self, event: CrmEvent) -> list[ListingChange]:
        if event.entity == PRODUCT:
            return stock_changes(event, self._mapping, self._marketplace_ids)
        if event.entity == SALES_ORDER:  # a salesorder Create: orders are created by order sync, from Amazon
            raise UnroutableEvent(
                "salesorder Create events are not used: register the shipment step on Update"
            )
        product = as_reference(event.value("productid"))
        price_list = as_reference(event.value("pricelevelid"))
        if product is None or price_list is None:
            raise UnroutableEvent(
                f"price list item {event.record_id} without productid or pricelevelid in its image"
            )
        sku = self._directory.sku_of(product.id)
        if sku is None:
            raise ProductWithoutSku(
                f"product {product.id} of price list item {event.record_id} has no productnumber (the seller SKU)"
            )
        currency = as_reference(event.value("transactioncurrencyid"))
        found = self._directory.price_list_of_item(price_list.id, currency.id if currency else None)
        if found is None:
            return []  # the price list is gone; the item goes with it
        return price_changes(
            event, sku, found.name, found.currency or "", self._mapping, self._marketplace_ids
        )

    def _apply_listings(
        self, items: list[tuple[InboundMessage, ListingChange]], owner: str, report: BatchReport
    ) -> None:
        if not items:
            return
        by_message: dict[InboundMessage, list[Result]] = defaultdict(list)
        for message, results in self._listings.apply(items, owner=owner).items():
            by_message[message] += results
        for message, results in by_message.items():
            outcome = combine(results)
            report.counts[_name(outcome)] += 1
            report.settlements.append(_settlement(message, outcome))

    @staticmethod
    def _done(report: BatchReport, message: InboundMessage, why: str) -> None:
        report.counts[why] += 1
        report.settlements.append(Settlement.complete(message))


def _check_route(event: CrmEvent) -> None:
    if event.message not in WRITES or event.entity not in (PRODUCT, PRICE_LIST_ITEM, SALES_ORDER):
        raise UnroutableEvent(
            f"no route for {event.message} of {event.entity}: is a step registered that this app does not use?"
        )


def _name(outcome: Result) -> str:
    if isinstance(outcome, Done):
        return outcome.value
    if isinstance(outcome, Wait):
        return "waiting"
    return outcome.reason


def _settlement(message: InboundMessage, outcome: Result | Shipped) -> Settlement:
    if isinstance(outcome, Wait):
        return Settlement.reschedule(
            message, outcome.reason, "comes back to send what is wanted then", delay=outcome.seconds
        )
    if not isinstance(outcome, SyncError):
        return Settlement.complete(message)
    if outcome.transient:
        log.warning("Event message %s: passing trouble, rescheduled: %s", message.message_id, outcome)
        return Settlement.reschedule(message, outcome.reason, str(outcome), delay=outcome.retry_after)
    log.error("Event message %s dead-lettered: %s", message.message_id, outcome)
    return Settlement.dead_letter(message, outcome.reason, str(outcome))
