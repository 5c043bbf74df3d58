"""State on Azurite (real Table Storage protocol): dedupe rows and ETag-guarded order checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.model.applied import AppliedOrder
from shared.model.crm import CrmState
from shared.model.order import OrderStatus
from shared.state.store import (
    ORDER_PARTITIONS,
    Claim,
    ConcurrentUpdate,
    NotificationRef,
    OrderCheckpoint,
    StateStore,
)

pytestmark = pytest.mark.sockets


DAY = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def applied(content_hash: str, updated: datetime = DAY) -> AppliedOrder:
    return AppliedOrder(updated, OrderStatus.UNSHIPPED, content_hash, CrmState(1, 3))


def commit(
    store: StateStore, claimed: OrderCheckpoint, written: AppliedOrder
) -> OrderCheckpoint | ConcurrentUpdate:
    return store.commit_all([(claimed, written)])[claimed.order_id]


def ref(notification_id: str, day: datetime = DAY) -> NotificationRef:
    return NotificationRef(notification_id, day, "113-1")


def test_notifications_are_remembered_once_marked(state_store: StateStore) -> None:
    """Marked notification ids are reported as seen; others are not."""
    assert state_store.seen_notifications([ref("a"), ref("b")]) == set()
    state_store.mark_notifications([ref("a"), ref("c")])
    assert state_store.seen_notifications([ref("a"), ref("b"), ref("c")]) == {"a", "c"}


def test_dedupe_rows_live_in_the_partition_of_their_event_day(state_store: StateStore) -> None:
    """A redelivered envelope carries the same EventTime, so it finds its row in the same day partition."""
    state_store.mark_notifications([ref("a", DAY)])
    assert state_store.seen_notifications([ref("a", DAY + timedelta(hours=5))]) == {"a"}
    assert state_store.seen_notifications([ref("a", DAY + timedelta(days=1))]) == set()


def test_many_notifications_cost_few_requests(state_store: StateStore) -> None:
    """450 ids: written in transactions of 100, looked up 14 per query, ids with awkward characters included."""
    refs = [ref(f"notification-{index}/#?%") for index in range(450)]
    before = state_store.requests
    state_store.mark_notifications(refs)
    assert state_store.requests - before <= 5 + 1  # 5 transactions (+ table creation check)
    before = state_store.requests
    assert state_store.seen_notifications(refs) == {item.notification_id for item in refs}
    assert state_store.requests - before == 33  # ceil(450 / 14)


def test_checkpoints_of_many_orders_are_claimed_and_committed_in_transactions(
    state_store: StateStore,
) -> None:
    """100 orders: a handful of transactions (one per partition), each row guarded by its own ETag."""
    ids = [f"113-{index:07d}-0000000" for index in range(100)]
    before = state_store.requests
    claimed = state_store.claim_all([Claim(None, order_id, "h", "m") for order_id in ids])
    assert all(not isinstance(result, ConcurrentUpdate) for result in claimed.values())
    committed = state_store.commit_all(
        [(result, applied("h")) for result in claimed.values() if not isinstance(result, ConcurrentUpdate)]
    )
    assert state_store.requests - before <= 2 * ORDER_PARTITIONS + 1
    assert len(committed) == 100
    stored = state_store.get_orders(ids)
    assert set(stored) == set(ids)
    assert not any(checkpoint.is_pending for checkpoint in stored.values())


def test_one_lost_race_does_not_fail_the_other_claims(state_store: StateStore) -> None:
    """When one row of a transaction lost its race, the others are still claimed, one by one."""
    taken = state_store.claim(None, "113-0000001-0000000", content_hash="h", owner="other")
    assert taken.is_pending
    ids = [f"113-{index:07d}-0000000" for index in range(1, 30)]
    results = state_store.claim_all([Claim(None, order_id, "h", "me") for order_id in ids])
    assert isinstance(results["113-0000001-0000000"], ConcurrentUpdate)
    assert all(not isinstance(results[order_id], ConcurrentUpdate) for order_id in ids[1:])


@pytest.mark.parametrize("order_id", ["113-1234567-1234567", "A/B#C?D\\E%F", "Ünïcødé 'quoted'"])
def test_checkpoints_round_trip_any_order_id(state_store: StateStore, order_id: str) -> None:
    """Order ids with characters Table Storage forbids in keys are stored and read back unchanged."""
    claimed = state_store.claim(None, order_id, content_hash="h1", owner="m1")
    updated = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    commit(state_store, claimed, applied("h1", updated))
    checkpoint = state_store.get_order(order_id)
    assert checkpoint is not None
    assert checkpoint.order_id == order_id
    assert checkpoint.applied == applied("h1", updated)
    assert not checkpoint.is_pending


def test_a_claim_marks_the_write_as_pending_with_its_owner(state_store: StateStore) -> None:
    """Between claim and commit the checkpoint says who is writing and since when."""
    state_store.claim(None, "113-1", content_hash="h1", owner="message-1")
    checkpoint = state_store.get_order("113-1")
    assert checkpoint is not None
    assert checkpoint.is_pending
    assert checkpoint.pending is not None
    assert checkpoint.pending.owner == "message-1"
    assert checkpoint.pending.since is not None


def test_two_instances_cannot_claim_the_same_new_order(state_store: StateStore) -> None:
    """Both saw no checkpoint; the second create loses with ConcurrentUpdate."""
    state_store.claim(None, "113-1", content_hash="h1", owner="a")
    with pytest.raises(ConcurrentUpdate):
        state_store.claim(None, "113-1", content_hash="h2", owner="b")


def test_two_instances_cannot_update_from_the_same_version(state_store: StateStore) -> None:
    """Both read the same ETag; only the first conditional update wins."""
    first = state_store.claim(None, "113-1", content_hash="h1", owner="a")
    commit(state_store, first, applied("h1"))
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
    assert isinstance(commit(state_store, claimed, applied("h1")), ConcurrentUpdate)


def test_release_clears_the_claim(state_store: StateStore) -> None:
    """A released claim leaves the checkpoint not pending."""
    claimed = state_store.claim(None, "113-1", content_hash="h1", owner="a")
    state_store.release(claimed)
    checkpoint = state_store.get_order("113-1")
    assert checkpoint is not None
    assert not checkpoint.is_pending


class KeyLimitedTable:
    """A TableClient that refuses keys over 1 KiB, as Azure Table Storage does (Azurite does not check)."""

    LIMIT = 1024

    def __init__(self, table) -> None:
        self._table = table

    def __getattr__(self, name: str):
        return getattr(self._table, name)

    def _check(self, entity) -> None:
        for name in ("PartitionKey", "RowKey"):
            if len(str(entity.get(name, "")).encode("utf-16-le")) > self.LIMIT * 2:
                raise ValueError(f"{name} longer than 1 KiB")

    def create_entity(self, entity, **kwargs):
        self._check(entity)
        return self._table.create_entity(entity, **kwargs)

    def update_entity(self, entity, **kwargs):
        self._check(entity)
        return self._table.update_entity(entity, **kwargs)

    def submit_transaction(self, operations, **kwargs):
        for operation in operations:
            self._check(operation[1])
        return self._table.submit_transaction(operations, **kwargs)

    def query_entities(self, query_filter, *, parameters=None, **kwargs):
        for value in (parameters or {}).values():
            if len(str(value)) > self.LIMIT:
                raise ValueError("a key in the filter is longer than 1 KiB")
        return self._table.query_entities(query_filter, parameters=parameters, **kwargs)


def test_long_ids_still_dedupe_with_azures_key_limit_enforced(azurite, table_name) -> None:
    """Ids far over Table Storage's 1 KiB key limit are stored under their hash: marked once, seen again,
    and two different long ids stay different."""
    from azure.data.tables import TableServiceClient

    table = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(table_name)
    store = StateStore(KeyLimitedTable(table))  # type: ignore[arg-type]
    long_id = "n" * 5000
    other = "n" * 4999 + "m"
    store.mark_notifications([ref(long_id)])
    assert store.seen_notifications([ref(long_id), ref(other)]) == {long_id}
    claimed = store.claim(None, "o" * 3000, content_hash="h", owner="me")
    assert commit(store, claimed, applied("h")) is not None
    checkpoint = store.get_order("o" * 3000)
    assert checkpoint is not None
    assert checkpoint.order_id == "o" * 3000
    store.close()
