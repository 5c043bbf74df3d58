"""Amazon's word about our listings: LISTINGS_ITEM_STATUS_CHANGE, LISTINGS_ITEM_ISSUES_CHANGE and
LISTINGS_ITEM_MFN_QUANTITY_CHANGE notifications (routed here by NotificationType) into the listing state rows
the Dynamics -> Amazon listings flow keeps per SKU and marketplace.

    envelope -> seller check -> the listing's row (newest EventTime wins) -> what follows from it

- status: a listing that exists again while its values were refused as not listed (a 404) or it was deleted
  gets the CRM's wanted stock and price now, through the listings sync like a resync (same claims, coalescing
  window, usage plan); a DELETED listing is recorded so nothing is patched until it exists again;
- issues: the severities are recorded on the row; a listing with ERROR issues is logged and counted;
- MFN quantity: the CRM is the master of stock, so Amazon's quantity (a sale took one, someone edited Seller
  Central) is recorded and published to the inventory-changes topic as `amazon-mfn`, never pushed back: sending
  the CRM's value on every sale would fight the sales. The quantity we sent coming back is an echo: no publish.

The notification's EventTime is the version of each: a late or repeated notification changes nothing newer.
A foreign seller or an unreadable payload is dead-lettered; Table Storage or the topic being away reschedules.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from shared.amazon.listing_notifications import (
    LISTINGS_ITEM_ISSUES_CHANGE,
    LISTINGS_ITEM_MFN_QUANTITY_CHANGE,
    LISTINGS_ITEM_STATUS_CHANGE,
    parse_issues_change,
    parse_mfn_quantity_change,
    parse_status_change,
)
from shared.amazon.notifications import UnknownNotificationType, check_versions, parse_envelope
from shared.errors import SyncError
from shared.flows.fba_inventory import ForeignSeller
from shared.flows.inventory_publish import InventoryPublisher
from shared.flows.listing_sender import ListingSender
from shared.flows.listings_sync import Done, ListingsSync, Result, Wait, combine
from shared.messaging import BatchReport, InboundMessage, Settlement
from shared.model.inventory import ChangeSource, InventoryChange
from shared.model.listing_events import (
    ERROR,
    MFN_CHANNEL,
    ListingIssuesChange,
    ListingStatusChange,
    MfnQuantityChange,
)
from shared.model.listings import ListingKey, ListingState

log = logging.getLogger(__name__)

Event = ListingStatusChange | ListingIssuesChange | MfnQuantityChange


class ListingNotifications:
    def __init__(
        self,
        *,
        sender: ListingSender,
        listings: ListingsSync,
        publisher: InventoryPublisher,
        seller_id: str,
        marketplace_ids: Sequence[str],
    ) -> None:
        self._sender = sender
        self._store = sender.store
        self._listings = listings
        self._publisher = publisher
        self._seller_id = seller_id
        self._marketplace_ids = tuple(marketplace_ids)
        self.totals: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle(self, messages: Sequence[InboundMessage], *, invocation_id: str | None = None) -> BatchReport:
        owner = invocation_id or uuid.uuid4().hex
        report = BatchReport()
        for message in messages:
            outcome, settlement = self._settle(message, owner)
            report.counts[outcome] += 1
            report.settlements.append(settlement)
        with self._lock:
            self.totals.update(report.counts)
        return report

    def _settle(self, message: InboundMessage, owner: str) -> tuple[str, Settlement]:
        try:
            event = self._read(message)
            if isinstance(event, ListingStatusChange):
                result = self._status(message, event, owner)
            elif isinstance(event, ListingIssuesChange):
                result = self._issues(event)
            else:
                result = self._mfn_quantity(event)
        except SyncError as exc:
            result = exc
        return _settlement(message, result)

    def _read(self, message: InboundMessage) -> Event:
        envelope = parse_envelope(message.body)
        check_versions(envelope)
        kind = envelope.notification_type
        event: Event
        if kind == LISTINGS_ITEM_STATUS_CHANGE:
            event = parse_status_change(envelope)
        elif kind == LISTINGS_ITEM_ISSUES_CHANGE:
            event = parse_issues_change(envelope)
        elif kind == LISTINGS_ITEM_MFN_QUANTITY_CHANGE:
            event = parse_mfn_quantity_change(envelope)
        else:  # the router sends only these three; anything else here is a wiring mistake
            raise UnknownNotificationType(f"{kind} is not a listing notification")
        if event.seller_id != self._seller_id:
            raise ForeignSeller(
                f"{kind} {envelope.notification_id} is for another seller than SPAPI_SELLER_ID"
            )
        return event

    # --- LISTINGS_ITEM_STATUS_CHANGE -------------------------------------------------------------------------
    def _status(self, message: InboundMessage, event: ListingStatusChange, owner: str) -> Result | str:
        key = ListingKey(event.sku, event.marketplace_id)
        before = self._store.get(key)
        state, _ = self._sender.update(
            before, lambda s: (s.with_amazon_status(event.statuses, event.as_of), None)
        )
        if event.deleted:
            if state is not before:
                log.info("Listing %s in %s deleted on Amazon; not patched until it exists again", *key)
            return "deleted" if state is not before else "stale"
        # Asked now, or asked by an earlier delivery of this notification that has not seen Amazon's answer.
        if state.status_as_of == event.as_of and state.awaits_resend_since(event.as_of):
            log.info("Listing %s in %s exists on Amazon now; sending the CRM's values", *key)
            results = self._listings.apply(
                [(message, c) for c in state.resend_changes(event.as_of)], owner=owner
            )
            return _resent(results.get(message, []))
        return "status_recorded" if state is not before else "stale"

    # --- LISTINGS_ITEM_ISSUES_CHANGE -------------------------------------------------------------------------
    def _issues(self, event: ListingIssuesChange) -> str:
        key = ListingKey(event.sku, event.marketplace_id)
        before = self._store.get(key)
        state, _ = self._sender.update(before, lambda s: (s.with_issues(event.severities, event.as_of), None))
        if state is before:
            return "stale"
        if ERROR in event.severities:
            log.warning("Listing %s in %s has issues of severity ERROR on Amazon", *key)
            return "listing_errors"
        return "issues_recorded"

    # --- LISTINGS_ITEM_MFN_QUANTITY_CHANGE -------------------------------------------------------------------
    def _mfn_quantity(self, event: MfnQuantityChange) -> str:
        if event.channel != MFN_CHANNEL:
            log.info(
                "MFN quantity of %s in channel %s: not the channel the CRM's stock goes to",
                event.sku,
                event.channel,
            )
            return "other_channel"
        names = Counter[str]()
        keys = [ListingKey(event.sku, marketplace_id) for marketplace_id in self._marketplace_ids]
        for before in self._store.get_many(keys).values():
            state, _ = self._sender.update(
                before, lambda s: (s.with_amazon_quantity(event.quantity, event.as_of), None)
            )
            names["stale" if state is before else "echo" if state.is_our_echo() else "amazon_quantity"] += 1
            self._publish_amazon_quantity(state)  # also a publish an earlier delivery could not make
        return names.most_common(1)[0][0] if names else "no_marketplace"

    def _publish_amazon_quantity(self, state: ListingState) -> None:
        unpublished = state.unpublished_amazon_quantity()
        if unpublished is None:
            return
        quantity, as_of = unpublished
        self._publisher.publish(
            [
                InventoryChange(
                    state.key.sku, state.key.marketplace_id, quantity, ChangeSource.AMAZON_MFN, as_of
                )
            ]
        )
        self._sender.update(
            state,
            lambda s: (
                replace(s, amazon_quantity_published=max(as_of, s.amazon_quantity_published or as_of)),
                None,
            ),
        )


def _resent(results: Sequence[Result]) -> Result:
    return combine(results) if results else Done.COVERED


def _settlement(message: InboundMessage, result: Result | str) -> tuple[str, Settlement]:
    """The count name and the settlement of a message's outcome (the listings sync's or a plain name)."""
    if isinstance(result, str):
        return result, Settlement.complete(message)
    if isinstance(result, Done):
        return result.value, Settlement.complete(message)
    if isinstance(result, Wait):
        return "waiting", Settlement.reschedule(
            message, result.reason, "comes back to send the listing's values", delay=result.seconds
        )
    if result.transient:
        return "rescheduled", Settlement.reschedule(
            message, result.reason, str(result), delay=result.retry_after
        )
    log.warning("Listing notification %s dead-lettered: %s", message.message_id, result.reason)
    return "dead_lettered", Settlement.dead_letter(message, result.reason, str(result))
