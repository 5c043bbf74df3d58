"""Sending one listing's wanted values to Amazon, and the state changes around it; shared by the live path
(listings_sync) and the backlog timer (listings_backlog).

    claim (in state) -> productType (cached) -> patchListingsItem -> record the answer -> publish the quantity

Every state change is a read-modify-write under the row's ETag (`update`), retried with a fresh read when
another instance changed the row in between, so two instances never both act on one change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from shared.amazon.listings import ListingsApi, Submission
from shared.errors import PermanentError, SyncError
from shared.flows.inventory_publish import InventoryPublisher
from shared.model.inventory import ChangeSource, InventoryChange
from shared.model.listings import NOT_LISTED, Lane, ListingState
from shared.resilience import RateLimited
from shared.state.listings import ListingStore
from shared.state.store import ConcurrentUpdate
from shared.timeutil import utc_now

log = logging.getLogger(__name__)
P = TypeVar("P")

UPDATE_ATTEMPTS = 4


class ListingRejected(PermanentError):
    """Amazon answered INVALID: the description carries its issue codes and messages."""

    reason = "ListingRejected"


class Sent(StrEnum):
    ACCEPTED = "accepted"
    NOT_LISTED = "not_listed"  # Amazon has no listing for the SKU there: nothing was patched
    TO_BACKLOG = "to_backlog"  # the usage plan is spent for now: the backlog timer sends it


@dataclass(frozen=True)
class SenderOptions:
    not_listed_ttl: timedelta = timedelta(hours=1)  # how long a 404 from getListingsItem is believed


class ListingSender:
    def __init__(
        self,
        listings: ListingsApi,
        store: ListingStore,
        publisher: InventoryPublisher,
        *,
        options: SenderOptions | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.listings = listings
        self.store = store
        self._publisher = publisher
        self._options = options or SenderOptions()
        self._clock = clock

    def update(
        self, state: ListingState, mutate: Callable[[ListingState], tuple[ListingState, P]]
    ) -> tuple[ListingState, P]:
        """Apply `mutate` and save under the ETag; on a lost race read again and apply it to the fresh row."""
        for attempt in range(UPDATE_ATTEMPTS):
            changed, plan = mutate(state)
            if changed == state:
                return state, plan
            try:
                return self.store.save(changed), plan
            except ConcurrentUpdate:
                if attempt == UPDATE_ATTEMPTS - 1:
                    raise
                state = self.store.get(state.key)
        raise AssertionError("unreachable")

    def send(self, state: ListingState, owner: str) -> tuple[ListingState, Sent]:
        """Send what `owner` claimed in `state`; the state after Amazon's answer. INVALID raises ListingRejected
        (after recording it, so the same value is not sent again); other failures release the claim and raise."""
        if state.deleted_on_amazon:  # a patch would create an offer on a listing the seller deleted
            return self._not_listed(state, owner), Sent.NOT_LISTED
        try:
            product_type = state.product_type or self.listings.product_type(state.key)
        except RateLimited:
            return self._to_backlog(state, owner, None), Sent.TO_BACKLOG
        except SyncError:
            self._release(state, owner)
            raise
        if product_type is None:
            return self._not_listed(state, owner), Sent.NOT_LISTED
        try:
            submission = self.listings.patch(
                state.key,
                product_type,
                quantity=state.sending_quantity.value if state.sending_quantity else None,
                price=state.sending_price.value if state.sending_price else None,
            )
        except RateLimited:
            return self._to_backlog(state, owner, product_type), Sent.TO_BACKLOG
        except SyncError:
            self._release(state, owner)
            raise
        return self.record(state, owner, submission, product_type), Sent.ACCEPTED

    def record(
        self, state: ListingState, owner: str, submission: Submission, product_type: str
    ) -> ListingState:
        """Amazon's answer into the state; INVALID raises ListingRejected with Amazon's issues once recorded."""
        rejected = None
        if submission.status != "ACCEPTED":
            rejected = "; ".join(str(issue) for issue in submission.errors) or f"status {submission.status}"
        now = self._clock()
        state, _ = self.update(
            state,
            lambda s: (replace(s.answered(owner, now, rejected=rejected), product_type=product_type), None),
        )
        if rejected is not None:
            log.warning(
                "Listing %s in %s refused by Amazon: %s", state.key.sku, state.key.marketplace_id, rejected
            )
            raise ListingRejected(
                f"Amazon refused the listing update of SKU {state.key.sku} in {state.key.marketplace_id}: {rejected}"
            )
        return state

    def publish(self, state: ListingState) -> ListingState:
        """Publish the sent quantity to the inventory topic if it is not yet (PublishFailed is transient)."""
        sent = state.unpublished()
        if sent is None:
            return state
        self._publisher.publish(
            [
                InventoryChange(
                    state.key.sku, state.key.marketplace_id, sent.value, ChangeSource.CRM, sent.version.time
                )
            ]
        )
        state, _ = self.update(state, lambda s: (replace(s, published=sent.version), None))
        return state

    # --- outcomes besides an answer ----------------------------------------------------------------------
    def _not_listed(self, state: ListingState, owner: str) -> ListingState:
        now = self._clock()
        log.info("SKU %s has no listing in %s; not patched", state.key.sku, state.key.marketplace_id)

        def mutate(s: ListingState) -> tuple[ListingState, None]:
            answered = s.answered(owner, now, rejected=NOT_LISTED)
            return replace(answered, not_listed_until=now + self._options.not_listed_ttl), None

        return self.update(state, mutate)[0]

    def _to_backlog(self, state: ListingState, owner: str, product_type: str | None) -> ListingState:
        log.info(
            "Listings usage plan spent; SKU %s in %s goes to the backlog",
            state.key.sku,
            state.key.marketplace_id,
        )
        return self.update(
            state,
            lambda s: (
                replace(s.released(owner), lane=Lane.BACKLOG, product_type=product_type or s.product_type),
                None,
            ),
        )[0]

    def _release(self, state: ListingState, owner: str) -> None:
        try:
            self.update(state, lambda s: (s.released(owner), None))
        except SyncError:
            log.warning("Listing %s: could not release the claim; it expires", state.key.sku)
