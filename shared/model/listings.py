"""What the CRM wants an Amazon listing to show, and what was last sent: per SKU and marketplace.

A CRM change becomes ListingChanges (merchant quantity, offer price), each stamped with the version of the
change it came from. Per listing, ListingState keeps the newest wanted value per field and the last value
Amazon accepted (or refused), which answers the questions every delivery asks:
- is this change older than what we already want or sent? (events arrive twice and out of order)
- is there anything to send? (a change back to the value last sent costs no call)
- who sends it? (a flush claim, or a message waiting for the coalescing window, or the backlog's feed)

A resync (POST /api/resync by SKU) asks for the listing's values to be sent again even when they equal the ones
last sent: Amazon may have drifted (a seller edited it in Seller Central), and the state row only knows what
Amazon accepted, not what it shows now. Re-sending costs the one patch a read of Amazon would cost anyway, so the
resync does not read Amazon first. The ask is remembered in the row (`resync_asked`) so the coalescing window,
another instance's claim or the backlog's feed carry it like any pending value, and the resync's moment is kept
once Amazon answered (`resynced`) so a resync message delivered again does not ask twice.

Amazon's own word about the listing (its listing notifications) is kept beside it, each with the notification's
EventTime so a late or repeated notification never overwrites a newer one: its status (a DELETED listing is not
patched until it exists again; one that appears while believed unlisted has its values sent, as a resync would),
its issues' severities, and its merchant quantity (what a sale or an edit in Seller Central left there).
A listing Amazon reports DELETED or with issues of severity ERROR is flagged (`amazon_problems`): the operations
status lists those.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Generic, NamedTuple, TypeVar

from shared.model.crm_events import VersionStamp
from shared.model.listing_events import ERROR

T = TypeVar("T")

NOT_LISTED = "not listed on Amazon in this marketplace"  # `rejected` when Amazon had no listing to patch
DELETED = "DELETED"  # Amazon's listing status for a deleted listing


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
    resync_of: datetime | None = None  # a resync's change: when the resync was asked (see the module's doc)


@dataclass(frozen=True)
class FlushClaim:
    """An instance is sending the listing's values (patch or feed); others leave it to it until `since` is
    older than the claim's lease."""

    owner: str
    since: datetime


class AmazonProblem(StrEnum):
    """What Amazon's own word says is wrong with a listing (the operations status lists them)."""

    DELETED = "DELETED"  # its status: the listing is deleted (nothing is sent to it)
    ERROR = "ERROR"  # its issues include one of severity ERROR (Amazon may not show it to buyers)


@dataclass(frozen=True)
class FlaggedListing:
    key: ListingKey
    problems: frozenset[AmazonProblem]


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
    resync_asked: datetime | None = None  # a resync wants the values sent even if equal to those last sent
    resynced: datetime | None = None  # the newest resync whose values Amazon answered
    sending_resync: datetime | None = None  # the resync the claim's submission answers
    amazon_status: frozenset[str] | None = (
        None  # LISTINGS_ITEM_STATUS_CHANGE's Status (BUYABLE, DELETED, ...)
    )
    status_as_of: datetime | None = None  # its EventTime
    issue_severities: frozenset[str] | None = None  # LISTINGS_ITEM_ISSUES_CHANGE's Severities (ERROR, ...)
    issues_as_of: datetime | None = None
    amazon_quantity: int | None = None  # LISTINGS_ITEM_MFN_QUANTITY_CHANGE's Quantity (channel DEFAULT)
    amazon_quantity_as_of: datetime | None = None
    amazon_quantity_published: datetime | None = None  # the amazon_quantity_as_of published to the topic
    etag: str | None = None

    # --- what is wanted -------------------------------------------------------------------------------
    def wanted(self, field: Field) -> Stamped[int] | Stamped[Price] | None:
        return self.want_quantity if field is Field.QUANTITY else self.want_price

    def sent(self, field: Field) -> Stamped[int] | Stamped[Price] | None:
        return self.sent_quantity if field is Field.QUANTITY else self.sent_price

    def want(self, change: ListingChange) -> ListingState:
        """The state wanting `change`'s value, unless a newer value is wanted or was sent already. A resync's
        change also asks for the newest value to be sent again (a newer CRM value still wins: it is the one sent)."""
        state = self if change.resync_of is None else self.asked_to_resend(change.resync_of)
        if self.is_older(change):
            return state
        if change.field is Field.QUANTITY:
            assert isinstance(change.value, int)
            return replace(state, want_quantity=Stamped(change.value, change.version))
        assert isinstance(change.value, Price)
        return replace(state, want_price=Stamped(change.value, change.version))

    def asked_to_resend(self, asked: datetime) -> ListingState:
        """A resync asked at `asked` wants the values sent again, unless Amazon answered for it already. An
        operator asking may just have created the listing: a 404 believed for the hour is asked again."""
        if self.resync_answered(asked) or (self.resync_asked is not None and self.resync_asked >= asked):
            return self
        return replace(self, resync_asked=asked, not_listed_until=None)

    def resync_answered(self, asked: datetime) -> bool:
        return self.resynced is not None and self.resynced >= asked

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
        """Fields whose wanted value is newer than the one sent and differs from it; while a resync asks,
        every field with a value."""
        fields = []
        for field in Field:
            want, sent = self.wanted(field), self.sent(field)
            changed = want is not None and (
                sent is None or (want.version > sent.version and want.value != sent.value)
            )
            resent = self.resync_asked is not None and (want is not None or sent is not None)
            if changed or resent:
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
        if current is not None and value.version < current.version:
            return self  # the same version again (a resync) records Amazon's newer answer about it
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
            sending_quantity=_newest(self.want_quantity, self.sent_quantity)
            if Field.QUANTITY in pending
            else None,
            sending_price=_newest(self.want_price, self.sent_price) if Field.PRICE in pending else None,
            sending_resync=self.resync_asked,
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
        if (
            self.sending_resync is not None
        ):  # a resync asked after the claim was made still waits for its send
            still_asked = (
                self.resync_asked if self.resync_asked and self.resync_asked > self.sending_resync else None
            )
            resynced = max(self.sending_resync, self.resynced or self.sending_resync)
            state = replace(state, resync_asked=still_asked, resynced=resynced)
        return replace(
            state,
            claim=None,
            sending_quantity=None,
            sending_price=None,
            sending_resync=None,
            last_sent_at=now,
        )

    def released(self, owner: str) -> ListingState:
        """The claim's submission failed before Amazon decided: nothing was sent, someone tries again."""
        if self.claim is None or self.claim.owner != owner:
            return self
        return replace(self, claim=None, sending_quantity=None, sending_price=None, sending_resync=None)

    # --- Amazon's own word about the listing --------------------------------------------------------------
    @property
    def deleted_on_amazon(self) -> bool:
        return self.amazon_status is not None and DELETED in self.amazon_status

    @property
    def errors_on_amazon(self) -> bool:
        return self.issue_severities is not None and ERROR in self.issue_severities

    def amazon_problems(self) -> frozenset[AmazonProblem]:
        flagged = {AmazonProblem.DELETED: self.deleted_on_amazon, AmazonProblem.ERROR: self.errors_on_amazon}
        return frozenset(problem for problem, present in flagged.items() if present)

    def believed_unlisted(self, now: datetime) -> bool:
        """Nothing is patched: Amazon answered 404 within the hour, or told us the listing was deleted."""
        return self.deleted_on_amazon or (self.not_listed_until is not None and now < self.not_listed_until)

    def with_amazon_status(self, statuses: frozenset[str], as_of: datetime) -> ListingState:
        """Amazon's status as of `as_of`, unless a newer one is recorded. A listing that exists (not DELETED)
        while its values were last refused as not listed, or while it was deleted, is asked to have them sent
        again now, the way a resync asks: they never reached it."""
        if self.status_as_of is not None and as_of <= self.status_as_of:
            return self
        state = replace(self, amazon_status=statuses, status_as_of=as_of)
        if DELETED in statuses:
            return state
        missed = self.rejected == NOT_LISTED or self.deleted_on_amazon
        if missed and self.has_values():
            state = state.asked_to_resend(as_of)
        return replace(state, not_listed_until=None)

    def awaits_resend_since(self, as_of: datetime) -> bool:
        """A send asked at `as_of` (a listing that appeared) that Amazon has not answered yet."""
        return self.resync_asked is not None and not self.resync_answered(as_of)

    def has_values(self) -> bool:
        return any(
            value is not None
            for value in (self.want_quantity, self.sent_quantity, self.want_price, self.sent_price)
        )

    def resend_changes(self, asked: datetime) -> list[ListingChange]:
        """The newest value of each field, as changes a resync asked at `asked` would send."""
        changes = []
        for field in Field:
            newest: Stamped[int] | Stamped[Price] | None = (
                _newest(self.want_quantity, self.sent_quantity)
                if field is Field.QUANTITY
                else _newest(self.want_price, self.sent_price)
            )
            if newest is not None:
                changes.append(ListingChange(self.key, field, newest.value, newest.version, resync_of=asked))
        return changes

    def with_issues(self, severities: frozenset[str], as_of: datetime) -> ListingState:
        if self.issues_as_of is not None and as_of <= self.issues_as_of:
            return self
        return replace(self, issue_severities=severities, issues_as_of=as_of)

    def with_amazon_quantity(self, quantity: int, as_of: datetime) -> ListingState:
        """Amazon's merchant quantity as of `as_of`, unless a newer one is recorded. Our own value coming back
        (equal to the quantity Amazon accepted from us) is recorded as published: nobody needs to hear of it."""
        if self.amazon_quantity_as_of is not None and as_of <= self.amazon_quantity_as_of:
            return self
        state = replace(self, amazon_quantity=quantity, amazon_quantity_as_of=as_of)
        return replace(state, amazon_quantity_published=as_of) if state.is_our_echo() else state

    def is_our_echo(self) -> bool:
        """Amazon's quantity is the one we last sent and it accepted."""
        sent = self.sent_quantity
        return sent is not None and self.rejected is None and sent.value == self.amazon_quantity

    def unpublished_amazon_quantity(self) -> tuple[int, datetime] | None:
        """Amazon's recorded quantity when it is not published to the inventory topic yet."""
        quantity, as_of = self.amazon_quantity, self.amazon_quantity_as_of
        if quantity is None or as_of is None:
            return None
        published = self.amazon_quantity_published
        return (quantity, as_of) if published is None or published < as_of else None

    # --- who sends it -------------------------------------------------------------------------------------
    def claimed_by_other(self, owner: str, now: datetime, lease: timedelta) -> bool:
        return self.claim is not None and self.claim.owner != owner and now - self.claim.since < lease

    def unpublished(self) -> Stamped[int] | None:
        """A sent quantity not yet published to the inventory-changes topic (published after Amazon took it)."""
        sent = self.sent_quantity
        return sent if sent is not None and sent.version.newer_than(self.published) else None


def _newest(want: Stamped[T] | None, sent: Stamped[T] | None) -> Stamped[T] | None:
    """The newest value the CRM asked for: the wanted one, or the one sent if a resync re-sends it."""
    if want is None or (sent is not None and sent.version > want.version):
        return sent
    return want
