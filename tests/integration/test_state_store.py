"""State on Azurite (real Table Storage protocol): dedupe rows and ETag-guarded order checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.state.store import ConcurrentUpdate, StateStore

pytestmark = pytest.mark.sockets


def test_notifications_are_remembered_once_marked(state_store: StateStore) -> None:
    """Marked notification ids are reported as seen; others are not."""
    assert state_store.seen_notifications(["a", "b"]) == set()
    state_store.mark_notifications({"a": "113-1", "c": "113-2"})
    assert state_store.seen_notifications(["a", "b", "c"]) == {"a", "c"}


def test_many_notifications_are_marked_in_partitioned_transactions(state_store: StateStore) -> None:
    """Hundreds of ids are written in transactions of at most 100 rows per partition."""
    ids = {f"notification-{index}": "113-1" for index in range(450)}
    state_store.mark_notifications(ids)
    assert state_store.seen_notifications(ids) == set(ids)


@pytest.mark.parametrize("order_id", ["113-1234567-1234567", "A/B#C?D\\E%F", "Ünïcødé 'quoted'"])
def test_checkpoints_round_trip_any_order_id(state_store: StateStore, order_id: str) -> None:
    """Order ids with characters Table Storage forbids in keys are stored and read back unchanged."""
    claimed = state_store.claim(None, order_id, content_hash="h1", owner="m1")
    updated = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    state_store.commit(
        claimed, applied_updated=updated, status="UNSHIPPED", content_hash="h1", statecode=1, statuscode=3
    )
    checkpoint = state_store.get_order(order_id)
    assert checkpoint is not None
    assert checkpoint.order_id == order_id
    assert checkpoint.applied_updated == updated
    assert (checkpoint.status, checkpoint.statecode, checkpoint.statuscode) == ("UNSHIPPED", 1, 3)
    assert not checkpoint.is_pending


def test_a_claim_marks_the_write_as_pending_with_its_owner(state_store: StateStore) -> None:
    """Between claim and commit the checkpoint says who is writing and since when."""
    state_store.claim(None, "113-1", content_hash="h1", owner="message-1")
    checkpoint = state_store.get_order("113-1")
    assert checkpoint is not None
    assert checkpoint.is_pending
    assert checkpoint.pending_owner == "message-1"
    assert checkpoint.pending_since is not None


def test_two_instances_cannot_claim_the_same_new_order(state_store: StateStore) -> None:
    """Both saw no checkpoint; the second create loses with ConcurrentUpdate."""
    state_store.claim(None, "113-1", content_hash="h1", owner="a")
    with pytest.raises(ConcurrentUpdate):
        state_store.claim(None, "113-1", content_hash="h2", owner="b")


def test_two_instances_cannot_update_from_the_same_version(state_store: StateStore) -> None:
    """Both read the same ETag; only the first conditional update wins."""
    first = state_store.claim(None, "113-1", content_hash="h1", owner="a")
    state_store.commit(first, content_hash="h1")
    seen = state_store.get_order("113-1")
    assert seen is not None
    state_store.claim(seen, "113-1", content_hash="h2", owner="b")
    with pytest.raises(ConcurrentUpdate):
        state_store.claim(seen, "113-1", content_hash="h3", owner="c")


def test_commit_with_a_stale_claim_fails(state_store: StateStore) -> None:
    """A commit carries the claim's ETag: if someone changed the row since, the commit is refused."""
    claimed = state_store.claim(None, "113-1", content_hash="h1", owner="a")
    other = state_store.get_order("113-1")
    assert other is not None
    state_store.release(other)
    with pytest.raises(ConcurrentUpdate):
        state_store.commit(claimed, content_hash="h1")


def test_release_clears_the_claim(state_store: StateStore) -> None:
    """A released claim leaves the checkpoint not pending."""
    claimed = state_store.claim(None, "113-1", content_hash="h1", owner="a")
    state_store.release(claimed)
    checkpoint = state_store.get_order("113-1")
    assert checkpoint is not None
    assert not checkpoint.is_pending
