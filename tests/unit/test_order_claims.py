"""Claims: who may write an order now, who waits, and who repairs a write that died half-way."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.flows.order_claims import PENDING_LEASE, ClaimDesk, Claimed, ClaimRequest, Covered
from shared.model.applied import AppliedOrder
from shared.model.order import OrderStatus
from shared.state.store import Claim, ConcurrentUpdate, OrderCheckpoint, PendingWrite

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
UPDATED = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)


class FakeState:
    """Checkpoints in a dict with a version number as ETag, like Table Storage's conditional writes."""

    def __init__(self) -> None:
        self.rows: dict[str, OrderCheckpoint] = {}
        self.on_read: list[Any] = []  # callables run on each get_order (to simulate another instance)

    def get_order(self, order_id: str) -> OrderCheckpoint | None:
        for action in self.on_read:
            action()
        return self.rows.get(order_id)

    def claim_all(self, claims: list[Claim]) -> dict[str, OrderCheckpoint | ConcurrentUpdate]:
        return {claim.order_id: self._claim(claim) for claim in claims}

    def claim(
        self, current: OrderCheckpoint | None, order_id: str, *, content_hash: str, owner: str
    ) -> OrderCheckpoint:
        result = self._claim(Claim(current, order_id, content_hash, owner))
        if isinstance(result, ConcurrentUpdate):
            raise result
        return result

    def _claim(self, claim: Claim) -> OrderCheckpoint | ConcurrentUpdate:
        stored = self.rows.get(claim.order_id)
        if (stored.etag if stored else None) != (claim.current.etag if claim.current else None):
            return ConcurrentUpdate("lost the race")
        base = claim.current or OrderCheckpoint(order_id=claim.order_id)
        new = replace(
            base,
            pending=PendingWrite(claim.content_hash, claim.owner, NOW),
            etag=str(int(base.etag or 0) + 1),
        )
        self.rows[claim.order_id] = new
        return new


def desk(state: FakeState) -> ClaimDesk:
    return ClaimDesk(state, clock=lambda: NOW, sleep=lambda _: None)  # type: ignore[arg-type]


def request(
    checkpoint: OrderCheckpoint | None, *, owner: str = "message-1", content_hash: str = "h2"
) -> ClaimRequest:
    return ClaimRequest("113-1", checkpoint, content_hash, owner, UPDATED, OrderStatus.UNSHIPPED)


def applied(content_hash: str, updated: datetime = UPDATED) -> AppliedOrder:
    return AppliedOrder(updated, OrderStatus.UNSHIPPED, content_hash, None)


def pending(content_hash: str, owner: str, since: datetime | None = NOW) -> PendingWrite:
    return PendingWrite(content_hash, owner, since)


def test_an_unclaimed_order_is_claimed_at_once() -> None:
    """No checkpoint yet: the claim creates it, pending, owned by this message; no repair."""
    state = FakeState()
    outcome = desk(state).claim_all([request(None)])["113-1"]
    assert isinstance(outcome, Claimed)
    assert outcome.claimed.pending is not None
    assert outcome.claimed.pending.owner == "message-1"
    assert not outcome.repair


def test_our_own_pending_claim_is_taken_over_as_a_repair() -> None:
    """A redelivery of the message that crashed finds its own claim: it repairs at once, no waiting."""
    state = FakeState()
    state.rows["113-1"] = OrderCheckpoint("113-1", pending=pending("h1", "message-1", NOW), etag="1")
    outcome = desk(state).claim_all([request(state.rows["113-1"])])["113-1"]
    assert isinstance(outcome, Claimed)
    assert outcome.repair


def test_an_expired_claim_of_another_instance_is_repaired() -> None:
    """A claim older than the lease belongs to an instance that died: taken over, as a repair."""
    state = FakeState()
    stale = NOW - PENDING_LEASE - timedelta(seconds=1)
    state.rows["113-1"] = OrderCheckpoint("113-1", pending=pending("h1", "other", stale), etag="1")
    outcome = desk(state).claim_all([request(state.rows["113-1"])])["113-1"]
    assert isinstance(outcome, Claimed)
    assert outcome.repair


def test_a_live_claim_of_another_instance_is_waited_out_then_covered() -> None:
    """Another instance is writing the same change: we wait; when it commits the same content, we are covered."""
    state = FakeState()
    live = OrderCheckpoint("113-1", pending=pending("h2", "other", NOW), etag="1")
    state.rows["113-1"] = live

    def other_commits() -> None:
        state.rows["113-1"] = replace(live, pending=None, applied=applied("h2"), etag="2")

    state.on_read.append(other_commits)
    outcome = desk(state).claim_all([request(live)])["113-1"]
    assert isinstance(outcome, Covered)


def test_a_claim_that_never_clears_ends_in_a_transient_error(monkeypatch) -> None:
    """If the other instance holds its claim past our wait, we give the message back (transient)."""
    import shared.flows.order_claims as order_claims

    monkeypatch.setattr(order_claims, "CONTENTION_WAIT_SECONDS", 0.0)
    state = FakeState()
    state.rows["113-1"] = OrderCheckpoint("113-1", pending=pending("h9", "other", NOW), etag="1")
    outcome = desk(state).claim_all([request(state.rows["113-1"])])["113-1"]
    assert isinstance(outcome, ConcurrentUpdate)
    assert outcome.transient


def test_losing_the_race_rereads_and_claims_over_the_winner() -> None:
    """Our ETag is stale (another write landed since we read): re-read, then claim over the newer row."""
    state = FakeState()
    state.rows["113-1"] = OrderCheckpoint(
        "113-1", applied=applied("h0", UPDATED - timedelta(hours=1)), etag="5"
    )
    seen = OrderCheckpoint("113-1", applied=applied("h-old"), etag="4")
    outcome = desk(state).claim_all([request(seen)])["113-1"]
    assert isinstance(outcome, Claimed)
    assert outcome.basis is not None
    assert outcome.basis.etag == "5"
