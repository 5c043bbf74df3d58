"""What the CRM wants an Amazon listing to show, and what was last sent: per SKU and marketplace.

A CRM change becomes ListingChanges (merchant quantity, offer price), each stamped with the version of the
change it came from. Per listing, ListingState keeps the newest wanted value per field and the last value
Amazon accepted (or refused), which answers the questions every delivery asks:
- is this change older than what we already want or sent? (events arrive twice and out of order)
- is there anything to send? (a change back to the value last sent costs no call)
- who sends it? (a flush claim, or a message waiting for the coalescing window, or the backlog's feed)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Generic, NamedTuple, TypeVar

from shared.model.crm_events import VersionStamp

T = TypeVar("T")


class ListingKey(NamedTuple):
    sku: str
    marketplace_id: str


@dataclass(frozen=True)
class Price:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Stamped(Generic[T]):
    value: T
    version: VersionStamp


class Field(StrEnum):
    QUANTITY = "quantity"
    PRICE = "price"


@dataclass(frozen=True)
class ListingChange:
    """One value the CRM wants on a listing, from one CRM change."""

    key: ListingKey
    field: Field
    value: int | Price
    version: VersionStamp


@dataclass(frozen=True)
class FlushClaim:
    """An instance is sending the listing's values (patch or feed); others leave it to it until `since` is
    older than the claim's lease."""

    owner: str
    since: datetime


class Lane(StrEnum):
    LIVE = "live"  # patched by the messages themselves
    BACKLOG = "backlog"  # too many at once: the backlog timer sends them (a feed when that costs fewer calls)


@dataclass(frozen=True)
class ListingState:
    key: ListingKey
    want_quantity: Stamped[int] | None = None
    want_price: Stamped[Price] | None = None
    sent_quantity: Stamped[int] | None = None
    sent_price: Stamped[Price] | None = None
    published: VersionStamp | None = None  # the last sent quantity published to the inventory topic
    rejected: str | None = None  # Amazon's issues with the values last sent (INVALID)
    product_type: str | None = None  # read once with getListingsItem
    not_listed_until: datetime | None = None  # getListingsItem answered 404: ask again after this
    duty_until: datetime | None = None  # a message comes back to send the wanted values by then
    claim: FlushClaim | None = None
    sending_quantity: Stamped[int] | None = None  # what the claim's patch or feed carries
    sending_price: Stamped[Price] | None = None
    lane: Lane = Lane.LIVE
    feed_id: str | None = None  # the JSON_LISTINGS_FEED carrying the backlog's values
    feed_message_id: int | None = None  # this listing's messageId in that feed
    last_sent_at: datetime | None = None
    etag: str | None = None

    # --- what is wanted -------------------------------------------------------------------------------
    def wanted(self, field: Field) -> Stamped[int] | Stamped[Price] | None:
        return self.want_quantity if field is Field.QUANTITY else self.want_price

    def sent(self, field: Field) -> Stamped[int] | Stamped[Price] | None:
        return self.sent_quantity if field is Field.QUANTITY else self.sent_price

    def want(self, change: ListingChange) -> ListingState:
        """The state wanting `change`'s value, unless a newer value is wanted or was sent already."""
        if self.is_older(change):
            return self
        if change.field is Field.QUANTITY:
            assert isinstance(change.value, int)
            return replace(self, want_quantity=Stamped(change.value, change.version))
        assert isinstance(change.value, Price)
        return replace(self, want_price=Stamped(change.value, change.version))

    def is_older(self, change: ListingChange) -> bool:
        """An event that arrives after a newer one of the same field never overwrites it."""
        known = [item.version for item in (self.wanted(change.field), self.sent(change.field)) if item]
        return any(not change.version.newer_than(version) for version in known)

    def covers(self, change: ListingChange) -> bool:
        """Amazon has this change or a newer value of its field (accepted, refused, or equal already)."""
        sent = self.sent(change.field)
        return sent is not None and not change.version.newer_than(sent.version)

    # --- what is to send --------------------------------------------------------------------------------
    def pending(self) -> tuple[Field, ...]:
        """Fields whose wanted value is newer than the one sent and differs from it."""
        fields = []
        for field in Field:
            want, sent = self.wanted(field), self.sent(field)
            if want is not None and (
                sent is None or (want.version > sent.version and want.value != sent.value)
            ):
                fields.append(field)
        return tuple(fields)

    def without_echoes(self) -> ListingState:
        """A wanted value equal to the one last sent needs no call: record it as sent (its version moves on).
        Nothing changed on Amazon, so there is nothing new to publish either."""
        state = self
        for field in Field:
            want, sent = self.wanted(field), self.sent(field)
            if want is None or sent is None or not (want.version > sent.version and want.value == sent.value):
                continue
            state = state.mark_sent(field, want, rejected=state.rejected)
            if field is Field.QUANTITY and not sent.version.newer_than(self.published):
                state = replace(state, published=want.version)
        return state

    def mark_sent(
        self, field: Field, value: Stamped[int] | Stamped[Price], *, rejected: str | None
    ) -> ListingState:
        """Amazon answered for `value` (accepted, or refused with `rejected` issues): it is sent either way,
        so the same value is not sent again; a newer wanted value is."""
        current = self.sent(field)
        if current is not None and not value.version.newer_than(current.version):
            return self
        if field is Field.QUANTITY:
            assert isinstance(value.value, int)
            # A refused quantity never reached the listing: there is nothing to publish about it.
            published = value.version if rejected is not None else self.published
            return replace(
                self,
                sent_quantity=Stamped(value.value, value.version),
                rejected=rejected,
                published=published,
            )
        assert isinstance(value.value, Price)
        return replace(self, sent_price=Stamped(value.value, value.version), rejected=rejected)

    # --- sending ------------------------------------------------------------------------------------------
    def claimed(self, owner: str, now: datetime) -> ListingState:
        """`owner` sends the pending values: they are recorded, so the answer marks exactly those as sent."""
        pending = self.pending()
        return replace(
            self,
            claim=FlushClaim(owner, now),
            sending_quantity=self.want_quantity if Field.QUANTITY in pending else None,
            sending_price=self.want_price if Field.PRICE in pending else None,
            duty_until=None,
        )

    def answered(self, owner: str, now: datetime, *, rejected: str | None) -> ListingState:
        """Amazon answered the claim's submission (accepted, or refused with `rejected` issues)."""
        if self.claim is None or self.claim.owner != owner:
            return self  # another instance took over a claim it thought abandoned and answers for it
        state = self
        if self.sending_quantity is not None:
            state = state.mark_sent(Field.QUANTITY, self.sending_quantity, rejected=rejected)
        if self.sending_price is not None:
            state = state.mark_sent(Field.PRICE, self.sending_price, rejected=rejected)
        return replace(state, claim=None, sending_quantity=None, sending_price=None, last_sent_at=now)

    def released(self, owner: str) -> ListingState:
        """The claim's submission failed before Amazon decided: nothing was sent, someone tries again."""
        if self.claim is None or self.claim.owner != owner:
            return self
        return replace(self, claim=None, sending_quantity=None, sending_price=None)

    # --- who sends it -------------------------------------------------------------------------------------
    def claimed_by_other(self, owner: str, now: datetime, lease: timedelta) -> bool:
        return self.claim is not None and self.claim.owner != owner and now - self.claim.since < lease

    def unpublished(self) -> Stamped[int] | None:
        """A sent quantity not yet published to the inventory-changes topic (published after Amazon took it)."""
        sent = self.sent_quantity
        return sent if sent is not None and sent.version.newer_than(self.published) else None
