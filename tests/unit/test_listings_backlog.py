"""The listings backlog over in-memory fakes (Amazon's Listings and Feeds APIs, Table Storage with ETags, the
topic): a listing Amazon reported DELETED is neither in a feed nor patched until Amazon reports it again."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

from shared.amazon.feeds import FeedMessage, FeedReport, FeedStatus
from shared.flows.inventory_publish import InventoryPublisher
from shared.flows.listing_sender import ListingSender
from shared.flows.listings_backlog import BacklogOptions, ListingsBacklog
from shared.model.crm_events import VersionStamp
from shared.model.listings import NOT_LISTED, Lane, ListingKey, ListingState, Stamped
from tests.unit.test_listings_sync import T0, Clock, FakeListings, FakeStore, FakeTopic

US = "ATVPDKIKX0DER"
DELETED_KEY = ListingKey("MUG-GONE", US)


class FakeFeeds:
    """Feeds API: every feed is DONE at its first status read and accepted every message."""

    def __init__(self) -> None:
        self.feeds: dict[str, list[FeedMessage]] = {}

    def submit_listings(self, marketplace_id: str, messages: Sequence[FeedMessage]) -> str:
        feed_id = f"feed-{len(self.feeds) + 1}"
        self.feeds[feed_id] = list(messages)
        return feed_id

    def status(self, feed_id: str) -> FeedStatus:
        return FeedStatus(feed_id, "DONE", f"doc-{feed_id}")

    def report(self, status: FeedStatus) -> FeedReport:
        return FeedReport()

    def sent_skus(self) -> list[str]:
        return [message.key.sku for messages in self.feeds.values() for message in messages]


class Rig:
    def __init__(self, *, feed_threshold: int, store: FakeStore | None = None) -> None:
        self.clock = Clock()
        self.amazon = FakeListings()
        self.store = store or FakeStore()
        self.feeds = FakeFeeds()
        sender = ListingSender(self.amazon, self.store, InventoryPublisher(FakeTopic()), clock=self.clock)  # type: ignore[arg-type]
        self.backlog = ListingsBacklog(
            sender,
            self.feeds,  # type: ignore[arg-type]
            options=BacklogOptions(feed_threshold=feed_threshold),
            clock=self.clock,
        )

    def waiting(self, key: ListingKey, quantity: int, *, deleted: bool = False) -> None:
        """A listing in the backlog wanting `quantity`; Amazon reported it DELETED before, if `deleted`."""
        state = ListingState(
            key,
            want_quantity=Stamped(quantity, VersionStamp(T0)),
            product_type="MUG",
            lane=Lane.BACKLOG,
        )
        if deleted:
            state = state.with_amazon_status(frozenset({"DELETED"}), T0 - timedelta(minutes=5))
        self.store.save(state)

    def reappears(self, key: ListingKey) -> None:
        """Amazon's status notification: the listing exists again."""
        self.store.save(self.store.get(key).with_amazon_status(frozenset({"BUYABLE"}), T0))


def test_the_feed_leaves_out_a_listing_amazon_deleted_and_answers_it_as_not_listed() -> None:
    rig = Rig(feed_threshold=2)
    rig.waiting(ListingKey("MUG-1", US), 5)
    rig.waiting(ListingKey("MUG-2", US), 6)
    rig.waiting(DELETED_KEY, 7, deleted=True)

    counts = rig.backlog.run()

    assert rig.feeds.sent_skus() == ["MUG-1", "MUG-2"]
    deleted = rig.store.get(DELETED_KEY)
    assert deleted.rejected == NOT_LISTED
    assert deleted.lane is Lane.LIVE
    assert not deleted.pending()
    assert (counts["not_listed"], counts["in_feed"]) == (1, 2)


def test_a_patch_is_never_sent_to_a_listing_amazon_deleted() -> None:
    rig = Rig(feed_threshold=100)
    rig.waiting(ListingKey("MUG-1", US), 5)
    rig.waiting(DELETED_KEY, 7, deleted=True)

    counts = rig.backlog.run()

    assert [key.sku for key, _, _ in rig.amazon.patches] == ["MUG-1"]
    assert rig.amazon.reads == 0  # not even its product type is asked for
    assert rig.store.get(DELETED_KEY).rejected == NOT_LISTED
    assert (counts["not_listed"], counts["accepted"]) == (1, 1)


def test_a_deleted_listing_that_reappears_before_the_run_is_sent_in_the_feed() -> None:
    rig = Rig(feed_threshold=1)
    rig.waiting(DELETED_KEY, 7, deleted=True)
    rig.reappears(DELETED_KEY)

    rig.backlog.run()

    assert rig.feeds.sent_skus() == ["MUG-GONE"]
    assert rig.feeds.feeds["feed-1"][0].quantity == 7


class RacingStore(FakeStore):
    """The listing reappears on Amazon right after the backlog read the listings waiting to be sent."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def in_lane(self, lane: Lane) -> Iterator[ListingState]:
        states = list(super().in_lane(lane))
        self.reads += 1
        if self.reads == 2:  # the run's second read: the one it sends from (the first finishes feeds)
            self.save(self.rows[DELETED_KEY].with_amazon_status(frozenset({"BUYABLE"}), T0))
        return iter(states)


def test_a_listing_that_reappears_during_the_run_keeps_its_send_for_the_next_run() -> None:
    rig = Rig(feed_threshold=1, store=RacingStore())
    rig.waiting(DELETED_KEY, 7, deleted=True)

    rig.backlog.run()

    state = rig.store.get(DELETED_KEY)
    assert rig.feeds.sent_skus() == []
    assert state.rejected is None
    assert state.lane is Lane.BACKLOG
    assert state.pending()
    rig.backlog.run()
    assert rig.feeds.sent_skus() == ["MUG-GONE"]
