"""Faults: a hostile network, crashes half-way and two instances racing. Every order lands exactly once."""

from __future__ import annotations

import threading
import uuid

import pytest

from sandbox.amazon_samples import OrderFactory, SampleOrder, order_change_notification
from sandbox.harness import Sandbox, SandboxOptions
from sandbox.http_emulator import Fault, FaultPlan
from shared.state.store import StateStore
from tests.sandbox_support import FAST_RETRY, crm_lines, crm_orders, lifecycle, send

pytestmark = [pytest.mark.sockets, pytest.mark.slow]

STATE = {"SHIPPED": (3, 100001), "CANCELLED": (2, 4), "UNSHIPPED": (1, 3)}


def _queue_lifecycles(sandbox: Sandbox, factory: OrderFactory, count: int) -> dict[str, SampleOrder]:
    finals: dict[str, SampleOrder] = {}
    for index in range(count):
        order = factory.order(status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT")
        versions = lifecycle(order, "CANCELLED" if index % 3 == 0 else "SHIPPED")
        sandbox.spapi.put_order(versions[-1].to_api())
        for version in versions:
            send(sandbox, order_change_notification(version))
        finals[order.order_id] = versions[-1]
    return finals


def _assert_landed_once(sandbox: Sandbox, finals: dict[str, SampleOrder]) -> None:
    orders = crm_orders(sandbox)  # raises if any order was written twice
    assert set(orders) == set(finals)
    for order_id, final in finals.items():
        assert (orders[order_id]["statecode"], orders[order_id]["statuscode"]) == STATE[final.status]
        assert len(crm_lines(sandbox, order_id)) == len(final.items)


def test_twenty_percent_of_calls_failing_still_lands_every_order_once(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """429s, 503s and dropped connections on 20% of SP-API and Dataverse calls: every order once, final state."""
    sandbox.spapi.faults = FaultPlan(rate=0.2, kinds=(Fault.THROTTLE, Fault.UNAVAILABLE, Fault.DROP), seed=11)
    sandbox.dataverse.faults = FaultPlan(
        rate=0.2, kinds=(Fault.THROTTLE, Fault.UNAVAILABLE, Fault.DROP), seed=12, retry_after_seconds=0
    )
    finals = _queue_lifecycles(sandbox, factory, 30)
    sandbox.deliver()
    _assert_landed_once(sandbox, finals)
    assert sandbox.queue.dead_letters == []
    faults = {**sandbox.spapi.requests.faults(), **sandbox.dataverse.requests.faults()}
    assert sum(faults.values()) > 0, "the fault plan injected nothing"


def test_lost_dataverse_answers_after_commit_do_not_write_twice(azurite, factory: OrderFactory) -> None:
    """Dataverse commits the $batch, then the connection dies (half the batches): re-read, nothing doubled,
    no order cancelled or fulfilled twice."""
    with Sandbox(SandboxOptions(retry=FAST_RETRY, max_batch=4), azurite=azurite) as sandbox:
        sandbox.dataverse.faults = FaultPlan(operations=frozenset({"batch"}))
        sandbox.dataverse.faults.script(*[Fault.LOST_RESPONSE] * 4)
        finals = _queue_lifecycles(sandbox, factory, 15)
        sandbox.deliver()
        _assert_landed_once(sandbox, finals)
        assert sandbox.queue.dead_letters == []
        assert sandbox.dataverse.requests.faults() == {"lost_response": 4}


def test_a_crash_after_writing_and_before_the_checkpoint_is_repaired_by_the_next_delivery(
    sandbox: Sandbox, factory: OrderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies after Dataverse committed an order's cancellation but before the checkpoint: the
    redelivered message repairs it (reads the CRM, sees it cancelled) instead of cancelling twice."""
    unshipped, cancelled = lifecycle(
        factory.order(
            status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT", item_count=2
        ),
        "CANCELLED",
    )
    sandbox.spapi.put_order(unshipped.to_api())
    sandbox.publish(order_change_notification(unshipped))
    sandbox.deliver()

    original_commit = StateStore.commit_all
    crashes: list[str] = []

    def crash_once(self: StateStore, commits):
        if not crashes:
            crashes.extend(claimed.order_id for claimed, _ in commits)
            raise RuntimeError("worker process killed")
        return original_commit(self, commits)

    monkeypatch.setattr(StateStore, "commit_all", crash_once)
    sandbox.spapi.put_order(cancelled.to_api())
    sandbox.publish(order_change_notification(cancelled))
    stats = sandbox.deliver()

    assert crashes == [cancelled.order_id]
    assert stats.failed_invocations == 1
    row = crm_orders(sandbox)[cancelled.order_id]
    assert (row["statecode"], row["statuscode"]) == (2, 4)
    assert len(crm_lines(sandbox, cancelled.order_id)) == 2
    assert sandbox.queue.dead_letters == []
    checkpoint = sandbox.runtime().state.get_order(cancelled.order_id)
    assert checkpoint is not None
    assert not checkpoint.is_pending
    assert checkpoint.applied is not None
    assert checkpoint.applied.crm_state == (2, 4)


def test_an_order_written_without_its_lines_is_completed_on_the_next_delivery(
    sandbox: Sandbox, factory: OrderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between writing the order and its lines (an order in the CRM with no lines, the claim still
    pending): once the crashed invocation's lease is over, the next delivery writes the lines to the same
    order. The lease is set to nothing here, so the test does not sit out the real minute."""
    import shared.flows.order_claims as order_claims

    monkeypatch.setattr(order_claims, "PENDING_LEASE", __import__("datetime").timedelta(0))
    order = factory.order(
        status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT", item_count=3
    )
    sandbox.spapi.put_order(order.to_api())
    [existing_id] = sandbox.dataverse.seed(
        "salesorders", {"name": f"Amazon {order.order_id}", "new_amazonorderid": order.order_id}
    )
    message_id = "message-that-crashed"
    sandbox.runtime().state.claim(None, order.order_id, content_hash="half-written", owner=message_id)

    envelope = order_change_notification(order)
    sandbox.queue.send(__import__("json").dumps(envelope).encode(), message_id=message_id)
    sandbox.deliver()

    [row] = crm_orders(sandbox).values()
    assert row["salesorderid"] == existing_id
    assert len(crm_lines(sandbox, order.order_id)) == 3
    assert (row["statecode"], row["statuscode"]) == (1, 3)
    assert sandbox.dataverse.requests.total(["retrieve:salesorders"]) == 1  # the repair read


def test_a_claim_left_by_a_dead_instance_is_repaired_after_its_lease(
    sandbox: Sandbox, factory: OrderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another instance claimed the order and died; once the lease is over, any delivery repairs it."""
    import shared.flows.order_claims as order_claims

    monkeypatch.setattr(order_claims, "PENDING_LEASE", __import__("datetime").timedelta(0))
    order = factory.order(status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT")
    sandbox.spapi.put_order(order.to_api())
    sandbox.runtime().state.claim(None, order.order_id, content_hash="other", owner="another-instance")
    sandbox.publish(order_change_notification(order))
    sandbox.deliver()
    assert order.order_id in crm_orders(sandbox)
    assert sandbox.queue.dead_letters == []


def test_two_hosts_racing_on_the_same_orders_write_each_once(sandbox: Sandbox, factory: OrderFactory) -> None:
    """Four concurrent hosts (like scaled-out instances) share the queue; ETag claims keep writes single."""
    finals = _queue_lifecycles(sandbox, factory, 12)
    for final in list(finals.values()):
        for _ in range(2):
            send(sandbox, order_change_notification(final, notification_id=str(uuid.uuid4())))
    errors: list[BaseException] = []

    def pump() -> None:
        try:
            sandbox.host().pump(idle_seconds=0.5)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=pump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    sandbox.deliver()  # anything abandoned at the very end
    assert errors == []
    _assert_landed_once(sandbox, finals)
    assert sandbox.queue.dead_letters == []
