"""The per-listing rules: newest value wins, echoes cost nothing, a claim marks exactly what it sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared.model.crm_events import VersionStamp
from shared.model.listings import Field, ListingChange, ListingKey, ListingState, Price, Stamped

KEY = ListingKey("MUG-1", "ATVPDKIKX0DER")
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def stamp(second: int, sequence: int = 0) -> VersionStamp:
    return VersionStamp(T0 + timedelta(seconds=second), sequence)


def quantity(value: int, second: int, sequence: int = 0) -> ListingChange:
    return ListingChange(KEY, Field.QUANTITY, value, stamp(second, sequence))


def price(amount: str, second: int) -> ListingChange:
    return ListingChange(KEY, Field.PRICE, Price(Decimal(amount), "USD"), stamp(second))


def test_a_newer_change_replaces_the_wanted_value_and_an_older_one_does_not() -> None:
    """Events arriving out of order: the newest version stays wanted whatever the arrival order."""
    state = ListingState(KEY).want(quantity(5, 10)).want(quantity(3, 5))
    assert state.want_quantity == Stamped(5, stamp(10))
    assert state.is_older(quantity(3, 5))


def test_changes_in_the_same_second_are_ordered_by_row_version() -> None:
    """Within one second the higher RowVersion is the newer change."""
    state = ListingState(KEY).want(quantity(7, 10, sequence=42)).want(quantity(6, 10, sequence=41))
    assert state.want_quantity is not None
    assert state.want_quantity.value == 7


def test_a_value_equal_to_the_one_last_sent_is_recorded_without_a_send() -> None:
    """An echo (same quantity, newer version) leaves nothing pending and covers its change."""
    sent = ListingState(KEY).want(quantity(5, 1)).claimed("a", T0).answered("a", T0, rejected=None)
    published = replace(sent, published=stamp(1))
    echo = published.want(quantity(5, 9)).without_echoes()
    assert echo.pending() == ()
    assert echo.covers(quantity(5, 9))
    assert echo.unpublished() is None  # nothing changed on Amazon: nothing new for the topic


def test_stock_and_price_pending_together_are_claimed_and_answered_together() -> None:
    """A claim carries the pending fields; the answer marks exactly those as sent, not a newer value."""
    state = ListingState(KEY).want(quantity(5, 1)).want(price("9.99", 2))
    claimed = state.claimed("a", T0)
    assert {claimed.sending_quantity, claimed.sending_price} == {
        Stamped(5, stamp(1)),
        Stamped(Price(Decimal("9.99"), "USD"), stamp(2)),
    }
    newer = claimed.want(quantity(8, 3))
    answered = newer.answered("a", T0, rejected=None)
    assert answered.sent_quantity == Stamped(5, stamp(1))
    assert answered.pending() == (Field.QUANTITY,)
    assert answered.claim is None


def test_an_answer_for_someone_elses_claim_changes_nothing() -> None:
    """Only the claim's owner records the answer (another instance may have taken over an old claim)."""
    claimed = ListingState(KEY).want(quantity(5, 1)).claimed("a", T0)
    assert claimed.answered("b", T0, rejected=None) == claimed


def test_a_refused_quantity_is_sent_but_never_published() -> None:
    """INVALID marks the value sent (it is not retried as it is) and leaves nothing for the topic."""
    refused = (
        ListingState(KEY).want(quantity(-1, 1)).claimed("a", T0).answered("a", T0, rejected="4000001: bad")
    )
    accepted = ListingState(KEY).want(quantity(4, 1)).claimed("a", T0).answered("a", T0, rejected=None)
    assert refused.pending() == ()
    assert refused.unpublished() is None
    assert accepted.unpublished() == Stamped(4, stamp(1))


def test_a_claim_is_someone_elses_only_while_its_lease_lasts() -> None:
    """A claim left behind by a crash stops counting after the lease."""
    claimed = ListingState(KEY).want(quantity(5, 1)).claimed("a", T0)
    lease = timedelta(minutes=2)
    assert claimed.claimed_by_other("b", T0 + timedelta(seconds=30), lease)
    assert not claimed.claimed_by_other("a", T0, lease)
    assert not claimed.claimed_by_other("b", T0 + timedelta(minutes=3), lease)


def test_a_resync_asked_while_a_send_is_under_way_waits_for_the_next_send() -> None:
    """The claim's answer settles only the resync it carried; one asked after the claim stays pending."""
    sent = ListingState(KEY).want(quantity(5, 1)).claimed("a", T0).answered("a", T0, rejected=None)
    first = replace(quantity(5, 1), resync_of=T0 + timedelta(seconds=10))
    claimed = sent.want(first).claimed("a", T0)
    assert claimed.sending_quantity == Stamped(5, stamp(1))  # the same value, sent again
    later = replace(quantity(5, 1), resync_of=T0 + timedelta(seconds=20))
    answered = claimed.want(later).answered("a", T0, rejected=None)
    assert answered.resync_answered(T0 + timedelta(seconds=10))
    assert not answered.resync_answered(T0 + timedelta(seconds=20))
    assert answered.pending() == (Field.QUANTITY,)
    again = answered.claimed("a", T0).answered("a", T0, rejected=None)
    assert again.pending() == ()
    assert again.want(later) == again  # a redelivered resync message asks nothing more
