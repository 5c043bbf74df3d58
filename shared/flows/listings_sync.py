"""Listings sync: CRM stock and price changes -> Amazon listings, coalesced per SKU and marketplace.

    changes -> group by listing -> want (newest wins) -> decide who sends -> send -> record -> publish

Coalescing, so a burst of edits costs a handful of calls and the last value wins:
- every change is stamped with the version of the CRM change (operation time, then RowVersion); a change not
  newer than what the listing already wants or was sent is stale (events arrive twice and out of order);
- a value equal to the one last sent costs no call (an echo, e.g. a form saved without a change);
- the first change of a quiet listing is sent at once (leading edge). Changes within LISTINGS_COALESCE_SECONDS
  of the last send wait: one message carries the duty to come back when the window ends and sends whatever
  is wanted then; the others are complete, their value is superseded or carried by that message;
- a listing being sent by another instance (an ETag-guarded claim in its state row) is left to it; a newer
  value than the claim carries makes one message wait for the next window;
- when Amazon's usage plan is spent (a burst of many SKUs), listings go to the backlog: the backlog timer sends
  them, as one JSON_LISTINGS_FEED where that costs fewer calls (see listings_backlog.py); one message per
  listing waits for the outcome so an INVALID answer is still dead-lettered with Amazon's issues.

Each message gets one result per listing it touched; `combine` makes the message's settlement of them.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from shared.errors import SyncError
from shared.flows.listing_sender import ListingRejected, ListingSender, Sent
from shared.messaging import InboundMessage
from shared.model.listings import NOT_LISTED, Lane, ListingChange, ListingKey, ListingState
from shared.timeutil import utc_now

log = logging.getLogger(__name__)


class Done(StrEnum):
    """How a message's change ended without an error."""

    SENT = "sent"  # this delivery's patch carried it
    COVERED = "covered"  # Amazon already has this value or a newer one
    STALE = "stale"  # older than a value already wanted or sent
    UNCHANGED = "unchanged"  # equal to the value last sent: no call
    COALESCED = "coalesced"  # superseded, or carried by the message that has the duty
    NOT_LISTED = "not_listed"  # Amazon has no listing for the SKU in that marketplace


@dataclass(frozen=True)
class Wait:
    """The message comes back after `seconds` (it carries the duty to send what is wanted then)."""

    seconds: float
    reason: str


Result = Done | Wait | SyncError


class _Plan(StrEnum):
    NOTHING = "nothing"
    SEND = "send"
    DUTY = "duty"  # the newest message waits for the window
    LEFT_TO_OTHERS = "left_to_others"
    BACKLOG = "backlog"  # the newest message waits for the backlog's answer
    NOT_LISTED = "not_listed"


@dataclass(frozen=True)
class ListingsOptions:
    coalesce: timedelta = timedelta(seconds=3)  # LISTINGS_COALESCE_SECONDS
    claim_lease: timedelta = timedelta(minutes=2)  # a claim older than this was left by a crash
    backlog_poll: timedelta = timedelta(seconds=60)  # how often a message waiting for the backlog looks


Item = tuple[InboundMessage, ListingChange]


class ListingsSync:
    def __init__(
        self,
        sender: ListingSender,
        *,
        options: ListingsOptions | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sender = sender
        self._store = sender.store
        self._options = options or ListingsOptions()
        self._clock = clock
        self.totals: Counter[str] = Counter()
        self._lock = threading.Lock()

    def apply(self, items: Sequence[Item], *, owner: str) -> dict[InboundMessage, list[Result]]:
        """Results per message (one per listing its changes touch)."""
        by_key: dict[ListingKey, list[Item]] = defaultdict(list)
        for item in items:
            by_key[item[1].key].append(item)
        results: dict[InboundMessage, list[Result]] = defaultdict(list)
        try:
            states = self._store.get_many(by_key)
        except SyncError as exc:
            for message, _ in items:
                results[message].append(exc)
            return results
        counts: Counter[str] = Counter()
        for key, key_items in by_key.items():
            for message, result in self._sync(states[key], key_items, owner).items():
                results[message].append(result)
                counts[result.value if isinstance(result, Done) else type(result).__name__] += 1
        with self._lock:
            self.totals.update(counts)
        return results

    # --- one listing ---------------------------------------------------------------------------------------
    def _sync(self, state: ListingState, items: list[Item], owner: str) -> dict[InboundMessage, Result]:
        items = sorted(
            items, key=lambda item: item[1].version
        )  # the newest message last: it may carry the duty
        now = self._clock()
        before = state
        try:
            state, plan = self._sender.update(state, lambda s: self._decide(s, items, owner, now))
        except SyncError as exc:
            return {message: exc for message, _ in items}
        verdicts: dict[InboundMessage, Result] = {}
        waiting = []
        for message, change in items:
            verdict = _verdict(before, state, change)
            if verdict is None:
                waiting.append(message)
            else:
                verdicts[message] = verdict
        if plan is _Plan.SEND:
            state, plan = self._send(state, owner, waiting, verdicts)
        if plan in (_Plan.DUTY, _Plan.BACKLOG) and waiting:
            verdicts.update(dict.fromkeys(waiting[:-1], Done.COALESCED))
            verdicts[waiting[-1]] = self._wait(state, plan, now)
        elif plan is not _Plan.SEND:
            verdicts.update(dict.fromkeys(waiting, _UNSENT[plan]))
        self._publish(state, owner, verdicts)
        return verdicts

    def _decide(
        self, state: ListingState, items: list[Item], owner: str, now: datetime
    ) -> tuple[ListingState, _Plan]:
        """The state wanting the items' values, and who sends them. Pure: it runs again after a lost race."""
        for _, change in items:
            state = state.want(change)
        state = state.without_echoes()
        if not state.pending():
            return state, _Plan.NOTHING
        window = self._options.coalesce
        if state.claimed_by_other(owner, now, self._options.claim_lease):
            assert state.claim is not None
            if state.duty_until is not None and now < state.duty_until:
                return state, _Plan.LEFT_TO_OTHERS
            return replace(state, duty_until=max(state.claim.since + window, now)), _Plan.DUTY
        if state.lane is Lane.BACKLOG:
            return state, _Plan.BACKLOG
        if state.duty_until is not None and now < state.duty_until:
            return state, _Plan.LEFT_TO_OTHERS
        if state.last_sent_at is not None and now - state.last_sent_at < window:
            return replace(state, duty_until=state.last_sent_at + window), _Plan.DUTY
        if state.believed_unlisted(now):  # a 404 within the hour, or deleted on Amazon
            return state.claimed(owner, now).answered(owner, now, rejected=NOT_LISTED), _Plan.NOT_LISTED
        return state.claimed(owner, now), _Plan.SEND

    def _send(
        self,
        state: ListingState,
        owner: str,
        waiting: list[InboundMessage],
        verdicts: dict[InboundMessage, Result],
    ) -> tuple[ListingState, _Plan]:
        """Send the claimed values; the waiting messages' results, and BACKLOG if the usage plan was spent."""
        try:
            state, sent = self._sender.send(state, owner)
        except ListingRejected as exc:
            # Amazon refused the newest value; the older ones it superseded were never sent on their own.
            verdicts.update(dict.fromkeys(waiting[:-1], Done.COALESCED))
            verdicts.update(dict.fromkeys(waiting[-1:], exc))
            return state, _Plan.SEND
        except SyncError as exc:
            verdicts.update(dict.fromkeys(waiting, exc))
            return state, _Plan.SEND
        if sent is Sent.TO_BACKLOG:
            return state, _Plan.BACKLOG
        done = Done.SENT if sent is Sent.ACCEPTED else Done.NOT_LISTED
        verdicts.update(dict.fromkeys(waiting, done))
        return state, _Plan.SEND

    def _publish(self, state: ListingState, owner: str, verdicts: dict[InboundMessage, Result]) -> None:
        """Publish a sent quantity not yet published (also on a later delivery, if publishing failed before)."""
        if state.unpublished() is None or state.claimed_by_other(
            owner, self._clock(), self._options.claim_lease
        ):
            return
        try:
            self._sender.publish(state)
        except SyncError as exc:
            for message, result in verdicts.items():
                if not isinstance(result, SyncError) or result.transient:
                    verdicts[message] = exc

    def _wait(self, state: ListingState, plan: _Plan, now: datetime) -> Wait:
        if plan is _Plan.BACKLOG or state.duty_until is None:
            return Wait(self._options.backlog_poll.total_seconds(), "InBacklog")
        return Wait(max(0.0, (state.duty_until - now).total_seconds()), "Coalescing")


def _verdict(before: ListingState, after: ListingState, change: ListingChange) -> Result | None:
    """A message's result when its change needs no send from this delivery; None when it waits for the plan
    (sent now, carried by the message with the duty, or left to the instance sending the listing)."""
    if change.resync_of is not None:
        # A resync waits for a send answered after it asked, even of a value Amazon was sent before.
        return _answered(after, change) if after.resync_answered(change.resync_of) else None
    if not after.covers(change):
        return None
    if not before.covers(change):
        return Done.UNCHANGED  # covered only because it equals the value last sent
    sent = after.sent(change.field)
    assert sent is not None
    if sent.version != change.version:
        return Done.STALE
    return _answered(after, change)


def _answered(after: ListingState, change: ListingChange) -> Result:
    """The result of a change Amazon answered for (a redelivery, or the message that waited for the backlog)."""
    if after.rejected == NOT_LISTED:
        return Done.NOT_LISTED
    if after.rejected:  # this very change was refused
        return ListingRejected(
            f"Amazon refused the listing update of SKU {change.key.sku} in {change.key.marketplace_id}: "
            f"{after.rejected}"
        )
    return Done.COVERED


_UNSENT: dict[_Plan, Result] = {
    _Plan.NOTHING: Done.COVERED,
    _Plan.LEFT_TO_OTHERS: Done.COALESCED,
    _Plan.NOT_LISTED: Done.NOT_LISTED,
}


def combine(results: Sequence[Result]) -> Result:
    """One message's settlement from its listings' results: a permanent failure dead-letters it, passing
    trouble or a wait brings it back (after the longest wait), otherwise it is done."""
    errors = [result for result in results if isinstance(result, SyncError)]
    permanent = [error for error in errors if not error.transient]
    if permanent:
        return permanent[0]
    waits = [result for result in results if isinstance(result, Wait)]
    if errors:
        return errors[0]
    if waits:
        return max(waits, key=lambda wait: wait.seconds)
    sent = [result for result in results if result is Done.SENT]
    return sent[0] if sent else (results[0] if results else Done.COVERED)
