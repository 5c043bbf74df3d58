"""The listings backlog: what arrived while Amazon's Listings usage plan was spent, sent by a timer, as one
JSON_LISTINGS_FEED per marketplace when that costs fewer calls, else patch by patch.

Where the threshold is (LISTINGS_FEED_THRESHOLD, default 100 listings of one marketplace):
- a patch costs one call per listing (patchListingsItem: 5 requests/s, burst 5), and takes effect at once;
- a feed costs about five calls whatever its size (createFeedDocument with its upload, createFeed, getFeed
  once or twice, getFeedDocument), but createFeed allows one request per two minutes after a burst of 15, and
  Amazon takes minutes to process it.
Below the threshold, patches clear the backlog within one timer run (100 patches take 20 s) and the answer is
immediate; above it, the feed saves 95+ calls per marketplace per run, and its few minutes of processing are
less than patching would take (1,000 listings: 200 s of patches).

Each run first reads the answers of feeds sent before (the processing report names each refused message),
then sends what is waiting. A listing keeps the values the feed carries in its state (the claim), so a newer
change that arrives meanwhile is sent by the next run rather than marked sent by this feed's answer. One
message per listing waits for the outcome (see listings_sync), so a refusal is still dead-lettered.

A listing Amazon reported DELETED is neither put in a feed nor patched, by the live path's rule
(ListingState.believed_unlisted): a feed message would create an offer on a listing the seller deleted. Its
values are answered as not listed; once Amazon reports it again, its values are sent as a resync would.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from shared.amazon.feeds import FeedMessage, FeedsApi, FeedStatus
from shared.errors import SyncError
from shared.flows.listing_sender import ListingRejected, ListingSender, Sent
from shared.model.listings import NOT_LISTED, Lane, ListingState
from shared.timeutil import utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacklogOptions:
    feed_threshold: int = 100  # LISTINGS_FEED_THRESHOLD
    budget_seconds: float = 45.0  # the timer fires every minute


class ListingsBacklog:
    def __init__(
        self,
        sender: ListingSender,
        feeds: FeedsApi,
        *,
        options: BacklogOptions | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sender = sender
        self._store = sender.store
        self._feeds = feeds
        self._options = options or BacklogOptions()
        self._clock = clock
        self._monotonic = monotonic
        self.totals: Counter[str] = Counter()

    def run(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        deadline = self._monotonic() + self._options.budget_seconds
        waiting = list(self._store.in_lane(Lane.BACKLOG))
        in_feeds: dict[str, list[ListingState]] = defaultdict(list)
        for state in waiting:
            if state.feed_id is not None:
                in_feeds[state.feed_id].append(state)
        for feed_id, states in in_feeds.items():
            self._finish_feed(feed_id, states, counts)
        ready: dict[str, list[ListingState]] = defaultdict(list)
        now = self._clock()
        for state in self._store.in_lane(Lane.BACKLOG):
            if state.feed_id is not None:
                continue
            if state.pending() and state.believed_unlisted(now):
                self._unlisted(state, counts)  # neither in a feed nor patched: the live path's rule
                continue
            ready[state.key.marketplace_id].append(state)
        for marketplace_id, states in ready.items():
            if self._monotonic() >= deadline:
                break
            if len(states) >= self._options.feed_threshold:
                self._send_feed(marketplace_id, states, counts, deadline)
            else:
                self._patch(states, counts, deadline)
        self.totals.update(counts)
        log.info("Listings backlog: %s", dict(counts))
        return counts

    # --- feeds -------------------------------------------------------------------------------------------------
    def _send_feed(
        self, marketplace_id: str, states: list[ListingState], counts: Counter[str], deadline: float
    ) -> None:
        owner = f"feed-run:{uuid.uuid4().hex[:12]}"
        claimed: list[ListingState] = []
        for state in states:
            if not state.pending():
                self._back_to_live(state)
                continue
            try:
                if state.product_type is None:
                    if self._monotonic() >= deadline:
                        continue  # the next run reads its product type
                    product_type = self._sender.listings.product_type(state.key)
                    if product_type is None:
                        self._not_listed(state, owner, counts)
                        continue
                    state = replace(state, product_type=product_type)
                claimed.append(self._claim(state, owner, lane=Lane.BACKLOG))
            except SyncError as exc:  # a quota or an outage: this listing waits for the next run
                log.info(
                    "Backlog: %s in %s waits for the next run (%s)", state.key.sku, marketplace_id, exc.reason
                )
                counts["deferred"] += 1
        if not claimed:
            return
        messages = [
            FeedMessage(
                index,
                state.key,
                state.product_type or "",
                quantity=state.sending_quantity.value if state.sending_quantity else None,
                price=state.sending_price.value if state.sending_price else None,
            )
            for index, state in enumerate(claimed, start=1)
        ]
        try:
            feed_id = self._feeds.submit_listings(marketplace_id, messages)
        except SyncError as exc:
            log.warning("Backlog feed for %s not sent (%s); the next run tries again", marketplace_id, exc)
            for state in claimed:
                self._sender.update(state, lambda s: (s.released(owner), None))
            counts["feed_failed"] += 1
            return
        for index, state in enumerate(claimed, start=1):
            self._sender.update(state, functools.partial(_in_feed, feed_id=feed_id, message_id=index))
        counts["feeds_sent"] += 1
        counts["in_feed"] += len(claimed)

    def _finish_feed(self, feed_id: str, states: list[ListingState], counts: Counter[str]) -> None:
        try:
            status = self._feeds.status(feed_id)
            if not status.finished:
                counts["feed_in_progress"] += 1
                return
            report = self._feeds.report(status)
        except SyncError as exc:
            log.warning("Feed %s: no answer yet (%s)", feed_id, exc)
            return
        for state in states:
            errors = report.errors_of(state.feed_message_id or 0)
            rejected = "; ".join(str(issue) for issue in errors) or None
            self._answer(state, rejected, counts)
        counts["feeds_finished"] += 1
        self._log_feed(status, len(states))

    def _answer(self, state: ListingState, rejected: str | None, counts: Counter[str]) -> None:
        owner = state.claim.owner if state.claim else ""
        now = self._clock()

        def mutate(s: ListingState) -> tuple[ListingState, None]:
            answered = replace(s.answered(owner, now, rejected=rejected), feed_id=None, feed_message_id=None)
            return replace(answered, lane=Lane.BACKLOG if answered.pending() else Lane.LIVE), None

        state = self._sender.update(state, mutate)[0]
        counts["rejected" if rejected else "accepted"] += 1
        if rejected is None:
            self._publish(state, counts)

    # --- patches ----------------------------------------------------------------------------------------------
    def _patch(self, states: list[ListingState], counts: Counter[str], deadline: float) -> None:
        owner = f"backlog-run:{uuid.uuid4().hex[:12]}"
        for state in states:
            if self._monotonic() >= deadline:
                return
            if not state.pending():
                self._back_to_live(state)
                continue
            claimed = self._claim(state, owner, lane=Lane.LIVE)
            try:
                sent_state, sent = self._sender.send(claimed, owner)
            except ListingRejected:
                counts["rejected"] += 1
                continue
            except SyncError as exc:
                log.warning("Backlog patch of %s failed (%s); it stays in the backlog", state.key.sku, exc)
                self._sender.update(claimed, lambda s: (replace(s, lane=Lane.BACKLOG), None))
                counts["failed"] += 1
                continue
            if sent is Sent.TO_BACKLOG:
                return  # the plan is spent again: the next run goes on
            counts[sent.value] += 1
            self._publish(sent_state, counts)

    # --- helpers ----------------------------------------------------------------------------------------------
    def _claim(self, state: ListingState, owner: str, *, lane: Lane) -> ListingState:
        now = self._clock()
        return self._sender.update(state, lambda s: (replace(s.claimed(owner, now), lane=lane), None))[0]

    def _publish(self, state: ListingState, counts: Counter[str]) -> None:
        try:
            self._sender.publish(state)
        except SyncError:
            counts["publish_pending"] += 1  # the waiting message publishes it when it comes back

    def _back_to_live(self, state: ListingState) -> None:
        self._sender.update(state, lambda s: (replace(s, lane=Lane.LIVE) if not s.pending() else s, None))

    def _not_listed(self, state: ListingState, owner: str, counts: Counter[str]) -> None:
        now = self._clock()
        self._sender.update(
            state,
            lambda s: (
                replace(s.claimed(owner, now).answered(owner, now, rejected=NOT_LISTED), lane=Lane.LIVE),
                None,
            ),
        )
        counts["not_listed"] += 1

    def _unlisted(self, state: ListingState, counts: Counter[str]) -> None:
        """A listing Amazon reported DELETED (or answered 404 for within the hour) gets nothing sent, as on the
        live path: its values are answered as not listed and it goes back to the live lane, where its waiting
        message learns it. The rule is asked again of the row as written: a listing that reappeared meanwhile
        asks to have its values sent, and stays for the next run."""
        owner = f"backlog-run:{uuid.uuid4().hex[:12]}"
        now = self._clock()

        def mutate(s: ListingState) -> tuple[ListingState, bool]:
            if not (s.pending() and s.believed_unlisted(now)) or s.feed_id is not None:
                return s, False
            answered = s.claimed(owner, now).answered(owner, now, rejected=NOT_LISTED)
            return replace(answered, lane=Lane.LIVE), True

        if self._sender.update(state, mutate)[1]:
            counts["not_listed"] += 1

    @staticmethod
    def _log_feed(status: FeedStatus, listings: int) -> None:
        log.info("Feed %s ended %s for %d listings", status.feed_id, status.status, listings)


def _in_feed(state: ListingState, *, feed_id: str, message_id: int) -> tuple[ListingState, None]:
    return replace(state, feed_id=feed_id, feed_message_id=message_id), None
