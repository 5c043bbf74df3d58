"""Two live hosts holding the same message at once (its lock expired while the first still worked) never
both write: claims name the invocation, so the second waits for the first instead of "repairing" it."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from sandbox.amazon_samples import OrderFactory, order_change_notification
from sandbox.harness import Sandbox
from sandbox.http_emulator import Fault, FaultPlan
from shared.messaging import InboundMessage, Outcome
from tests.sandbox_support import crm_lines, crm_orders

pytestmark = [pytest.mark.sockets, pytest.mark.slow]


def test_the_same_message_in_two_live_invocations_is_written_once(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """Invocations A and B run the same ten notifications at the same time, Dataverse answering slowly: each
    order is written by one of them; the other completes it as done or waits for later — nothing fails,
    nothing is dead-lettered, no order is written twice."""
    orders = factory.orders(10, status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
    inbound = []
    for order in orders:
        sandbox.spapi.put_order(order.to_api())
        envelope = order_change_notification(order)
        message_id = envelope["NotificationMetadata"]["NotificationId"]
        inbound.append(InboundMessage(message_id, json.dumps(envelope).encode()))
    # Slow $batch answers keep the first writer's claims pending while the second arrives.
    sandbox.dataverse.faults = FaultPlan(
        rate=1.0, kinds=(Fault.SLOW,), operations=frozenset({"batch"}), slow_seconds=1.5
    )
    sync = sandbox.runtime().order_sync
    reports = []

    def run(invocation: str) -> None:
        reports.append(sync.handle(inbound, invocation_id=invocation))

    threads = [threading.Thread(target=run, args=(name,)) for name in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    outcomes = Counter(s.outcome for report in reports for s in report.settlements)
    assert outcomes[Outcome.DEAD_LETTER] == 0
    assert outcomes[Outcome.ABANDON] == 0
    assert len(reports) == 2
    assert sum(report.counts["written"] for report in reports) == len(orders)  # once each
    assert sandbox.dataverse.requests.total(["batch"]) == 1  # one writer; the other found it done
    landed = crm_orders(sandbox)  # raises if an order was written twice
    assert set(landed) == {order.order_id for order in orders}
    for order in orders:
        assert len(crm_lines(sandbox, order.order_id)) == len(order.items)
