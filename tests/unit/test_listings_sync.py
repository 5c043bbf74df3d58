"""Listings sync over in-memory fakes (Amazon, Table Storage with ETags, the topic): who sends what, when."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared.amazon.listings import ListingIssue, Submission
from shared.errors import SyncError, TransientError
from shared.flows.inventory_publish import InventoryPublisher, PublishFailed
from shared.flows.listing_sender import ListingRejected, ListingSender
from shared.flows.listings_sync import Done, ListingsOptions, ListingsSync, Wait, combine
from shared.messaging import InboundMessage
from shared.model.crm_events import VersionStamp
from shared.model.listings import Field, Lane, ListingChange, ListingKey, ListingState, Price
from shared.resilience import RateLimited
from shared.state.store import ConcurrentUpdate

KEY = ListingKey("MUG-1", "ATVPDKIKX0DER")
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=3)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeStore:
    """ListingStore semantics in memory: conditional writes by ETag."""

    def __init__(self) -> None:
        self.rows: dict[ListingKey, ListingState] = {}
        self._version = 0

    def get_many(self, keys: Iterable[ListingKey]) -> dict[ListingKey, ListingState]:
        return {key: self.get(key) for key in keys}

    def get(self, key: ListingKey) -> ListingState:
        return self.rows.get(key, ListingState(key))

    def save(self, state: ListingState) -> ListingState:
        stored = self.rows.get(state.key)
        if (stored.etag if stored else None) != state.etag:
            raise ConcurrentUpdate("changed")
        self._version += 1
        saved = replace(state, etag=str(self._version))
        self.rows[state.key] = saved
        return saved

    def in_lane(self, lane: Lane) -> Iterator[ListingState]:
        return iter([state for state in self.rows.values() if state.lane is lane])


@dataclass
class FakeListings:
    answer: str = "ACCEPTED"
    fail: SyncError | None = None

    def __post_init__(self) -> None:
        self.patches: list[tuple[ListingKey, int | None, Price | None]] = []
        self.reads = 0

    def product_type(self, key: ListingKey) -> str | None:
        self.reads += 1
        return "MUG"

    def patch(
        self, key: ListingKey, product_type: str, *, quantity: int | None = None, price: Price | None = None
    ) -> Submission:
        if self.fail is not None:
            raise self.fail
        self.patches.append((key, quantity, price))
        issues = (ListingIssue("4000001", "The provided value for 'Quantity' is invalid", "ERROR"),)
        return Submission(self.answer, "sub-1", issues if self.answer == "INVALID" else ())  # type: ignore[arg-type]


class FakeTopic:
    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.fail = False

    def send(self, messages: Any, *, timeout: float) -> Any:
        from shared.servicebus.sender import SendResult

        if self.fail:
            return SendResult(error=None)
        self.sent += list(messages)
        return SendResult(accepted=tuple(range(len(messages))))

    def close(self) -> None:
        pass


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def amazon() -> FakeListings:
    return FakeListings()


@pytest.fixture
def topic() -> FakeTopic:
    return FakeTopic()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def sync(amazon: FakeListings, store: FakeStore, topic: FakeTopic, clock: Clock) -> ListingsSync:
    sender = ListingSender(amazon, store, InventoryPublisher(topic), clock=clock)  # type: ignore[arg-type]
    return ListingsSync(sender, options=ListingsOptions(coalesce=WINDOW), clock=clock)


def change(value: int, second: int, field: Field = Field.QUANTITY) -> tuple[InboundMessage, ListingChange]:
    message = InboundMessage(f"m-{value}-{second}", b"{}")
    return message, ListingChange(KEY, field, value, VersionStamp(T0 + timedelta(seconds=second)))


def run(
    sync: ListingsSync, *items: tuple[InboundMessage, ListingChange], owner: str = "me"
) -> dict[InboundMessage, Any]:
    return {message: combine(results) for message, results in sync.apply(items, owner=owner).items()}


def test_the_first_change_of_a_quiet_listing_is_sent_at_once_and_published(sync, amazon, topic) -> None:
    """Leading edge: one patch with the value, and the applied quantity goes to the topic."""
    message, item = change(5, 1)
    assert run(sync, (message, item)) == {message: Done.SENT}
    assert amazon.patches == [(KEY, 5, None)]
    assert len(topic.sent) == 1


def test_changes_within_the_window_wait_and_the_newest_value_goes_out_once(sync, amazon, clock) -> None:
    """After a send, a burst waits: one message carries the duty, the rest complete; the duty sends the last value."""
    run(sync, change(1, 1))
    clock.advance(1)
    burst = [change(value, 10 + value) for value in range(2, 12)]
    results = run(sync, *burst)
    waits = [result for result in results.values() if isinstance(result, Wait)]
    assert len(waits) == 1
    assert waits[0].seconds == pytest.approx(2.0)
    assert sum(result is Done.COALESCED for result in results.values()) == 9
    clock.advance(2)
    duty = next(message for message, result in results.items() if isinstance(result, Wait))
    assert run(sync, (duty, burst[-1][1])) == {duty: Done.SENT}
    assert [patch[1] for patch in amazon.patches] == [1, 11]


def test_an_older_event_after_a_newer_one_is_stale_and_costs_nothing(sync, amazon) -> None:
    """Out of order: the older value never overwrites the newer one."""
    run(sync, change(9, 20))
    message, older = change(4, 10)
    assert run(sync, (message, older)) == {message: Done.STALE}
    assert [patch[1] for patch in amazon.patches] == [9]


def test_a_repeated_delivery_and_an_echo_cost_no_call(sync, amazon, clock) -> None:
    """The same event twice is covered; the same quantity saved again later is unchanged."""
    message, item = change(5, 1)
    run(sync, (message, item))
    clock.advance(10)
    assert run(sync, (message, item)) == {message: Done.COVERED}
    echo, same = change(5, 30)
    assert run(sync, (echo, same)) == {echo: Done.UNCHANGED}
    assert len(amazon.patches) == 1


def test_a_listing_claimed_by_another_instance_is_left_to_it_until_its_lease_ends(
    sync, amazon, store, clock
) -> None:
    """A fresh claim makes the newer value wait for the next window; a claim older than the lease is taken over."""
    claimed = ListingState(KEY).want(change(1, 1)[1]).claimed("other", T0)
    store.save(claimed)
    message, item = change(2, 2)
    assert isinstance(run(sync, (message, item))[message], Wait)
    assert amazon.patches == []
    clock.advance(300)
    assert run(sync, (message, item)) == {message: Done.SENT}
    assert amazon.patches == [(KEY, 2, None)]


def test_an_invalid_answer_dead_letters_the_newest_change_with_amazons_issue(
    sync, amazon, store, clock
) -> None:
    """INVALID: the message whose value was refused goes to the dead-letter queue with the issue code and message;
    the values it superseded complete, and the refused value is not sent again."""
    amazon.answer = "INVALID"
    older, newest = change(-2, 1), change(-3, 2)
    results = run(sync, older, newest)
    assert results[older[0]] is Done.COALESCED
    error = results[newest[0]]
    assert isinstance(error, ListingRejected)
    assert "4000001: The provided value for 'Quantity' is invalid" in str(error)
    clock.advance(10)
    assert isinstance(run(sync, newest)[newest[0]], ListingRejected)
    assert len(amazon.patches) == 1


def test_passing_trouble_releases_the_claim_and_the_message_comes_back(sync, amazon, store) -> None:
    """A 503 after retries: the message is rescheduled and the listing is free for its next delivery."""
    amazon.fail = TransientError("SP-API answered 503")
    message, item = change(5, 1)
    result = run(sync, (message, item))[message]
    assert isinstance(result, TransientError)
    assert store.get(KEY).claim is None
    amazon.fail = None
    assert run(sync, (message, item)) == {message: Done.SENT}


def test_a_spent_usage_plan_moves_the_listing_to_the_backlog_and_the_message_waits(
    sync, amazon, store
) -> None:
    """RateLimited: no reschedule storm; the backlog timer sends it and the message polls for the answer."""
    amazon.fail = RateLimited("rate limit", retry_after=30)
    message, item = change(5, 1)
    result = run(sync, (message, item))[message]
    assert isinstance(result, Wait)
    assert result.reason == "InBacklog"
    assert store.get(KEY).lane is Lane.BACKLOG
    assert store.get(KEY).claim is None


def test_a_failed_publish_is_repeated_on_the_next_delivery_without_a_second_patch(
    sync, amazon, topic, clock
) -> None:
    """The topic refused the change: the message comes back, finds the listing sent, and publishes only."""
    topic.fail = True
    message, item = change(5, 1)
    assert isinstance(run(sync, (message, item))[message], PublishFailed)
    topic.fail = False
    clock.advance(10)
    assert run(sync, (message, item)) == {message: Done.COVERED}
    assert len(amazon.patches) == 1
    assert len(topic.sent) == 1


def test_stock_and_price_of_one_listing_in_one_batch_share_one_patch(sync, amazon) -> None:
    """Two fields wanted at once are one patchListingsItem."""
    stock = change(5, 1)
    message = InboundMessage("price", b"{}")
    price = ListingChange(KEY, Field.PRICE, Price(Decimal("9.99"), "USD"), VersionStamp(T0))
    run(sync, stock, (message, price))
    assert len(amazon.patches) == 1
    assert amazon.patches[0][1:] == (5, Price(Decimal("9.99"), "USD"))


# --- a resync (POST /api/resync by SKU) -----------------------------------------------------------------------
def resync_change(value: int, second: int, asked_second: int) -> tuple[InboundMessage, ListingChange]:
    message = InboundMessage(f"r-{value}-{second}-{asked_second}", b"{}")
    version = VersionStamp(T0 + timedelta(seconds=second))
    return message, ListingChange(KEY, Field.QUANTITY, value, version, T0 + timedelta(seconds=asked_second))


def test_a_resync_sends_the_value_again_even_when_amazon_was_sent_it_before(sync, amazon, clock) -> None:
    """Amazon may have drifted: the resync costs one patch of the same value; its redelivery costs none."""
    run(sync, change(5, 1))
    clock.advance(10)
    message, item = resync_change(5, 1, asked_second=10)
    assert run(sync, (message, item)) == {message: Done.SENT}
    assert [patch[1] for patch in amazon.patches] == [5, 5]
    clock.advance(10)
    assert run(sync, (message, item)) == {message: Done.COVERED}
    assert len(amazon.patches) == 2


def test_a_resync_never_overwrites_a_newer_crm_value(sync, amazon, clock) -> None:
    """The resync read 5 (version 1); the CRM's 9 (version 20) is newer: the resync re-sends 9, not 5."""
    run(sync, change(9, 20))
    clock.advance(10)
    message, item = resync_change(5, 1, asked_second=25)
    assert run(sync, (message, item)) == {message: Done.SENT}
    assert [patch[1] for patch in amazon.patches] == [9, 9]


def test_a_resync_within_the_window_waits_and_the_duty_sends_it(sync, amazon, clock) -> None:
    """Right after a send the resync waits for the window like any change, then is sent."""
    run(sync, change(5, 1))
    clock.advance(1)
    message, item = resync_change(5, 1, asked_second=1)
    assert isinstance(run(sync, (message, item))[message], Wait)
    clock.advance(3)
    assert run(sync, (message, item)) == {message: Done.SENT}
    assert [patch[1] for patch in amazon.patches] == [5, 5]


def test_a_resync_refused_by_amazon_fails_with_its_issues(sync, amazon, clock) -> None:
    run(sync, change(5, 1))
    clock.advance(10)
    amazon.answer = "INVALID"
    message, item = resync_change(5, 1, asked_second=10)
    result = run(sync, (message, item))[message]
    assert isinstance(result, ListingRejected)
    assert "4000001" in str(result)
