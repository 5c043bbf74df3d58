"""Hostile and broken input, through the registered function over real sockets: one poison message never
sinks its batch, and every case ends completed or dead-lettered with a reason, never raised or written."""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict

import pytest

from sandbox.amazon_samples import OrderFactory, order_change_notification
from sandbox.harness import Sandbox, SandboxOptions
from tests.e2e.hostile_corpus import corpus
from tests.sandbox_support import crm_orders

pytestmark = pytest.mark.sockets


@pytest.mark.parametrize(
    "poison",
    [
        b'{"a":' * 2000 + b"1" + b"}" * 2000,  # RecursionError in the JSON parser
        json.dumps(
            {"NotificationMetadata": {"NotificationId": "n" * 70_000}}
        ).encode(),  # a Table key of 70 KB
        b"\xff" * 300_000,  # bigger than any message Amazon sends
    ],
    ids=["nested-2000", "id-70000", "body-300k"],
)
def test_one_poison_message_never_takes_its_batch(azurite, factory: OrderFactory, poison: bytes) -> None:
    """A poison message delivered in one batch with 30 valid notifications: the 30 orders land on their
    first delivery, the poison message alone is dead-lettered with a reason."""
    with Sandbox(SandboxOptions(max_batch=100), azurite=azurite) as sandbox:
        orders = factory.orders(30, status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
        for order in orders[:15]:
            sandbox.spapi.put_order(order.to_api())
            sandbox.publish(order_change_notification(order))
        sandbox.publish_raw(poison, "poison")
        for order in orders[15:]:
            sandbox.spapi.put_order(order.to_api())
            sandbox.publish(order_change_notification(order))
        stats = sandbox.deliver()

        assert stats.invocations == 1  # one batch, settled in one go
        assert set(crm_orders(sandbox)) == {order.order_id for order in orders}
        [letter] = sandbox.queue.dead_letters
        assert letter.message.message_id == "poison"
        assert letter.reason == "MalformedNotification"
        assert letter.message.delivery_count == 0  # dead-lettered on its first delivery
        assert sandbox.queue.completed == 30


def test_every_hostile_message_is_completed_or_dead_lettered_with_a_reason(azurite, capsys) -> None:
    """~400 malformed, oversized, deeply nested, unicode-edge, injection and near-miss bodies: each ends
    completed or dead-lettered with a reason on its first delivery; no invocation fails, nothing is
    abandoned, nothing reaches the CRM."""
    cases = corpus()
    assert len(cases) >= 390
    with Sandbox(SandboxOptions(max_batch=32), azurite=azurite) as sandbox:
        # Well-formed cases of orders Amazon does not know cost a getOrder each (404): a raised plan keeps the
        # test from waiting on Amazon's default quota, which another test covers.
        sandbox.runtime().spapi.use_plan("getOrder", 100.0, 200)
        ids: dict[str, tuple[str, str]] = {}
        for kind, name, body in cases:
            message_id = str(uuid.uuid4())
            ids[message_id] = (kind, name)
            sandbox.publish_raw(body, message_id)
        stats = sandbox.deliver(timeout=300)

        assert stats.failed_invocations == 0
        assert crm_orders(sandbox) == {}
        letters = {letter.message.message_id: letter for letter in sandbox.queue.dead_letters}
        assert all(letter.reason and letter.description for letter in letters.values())
        assert all(letter.message.delivery_count == 0 for letter in letters.values())  # never retried
        assert sandbox.queue.completed + len(letters) == len(cases)  # each settled exactly once
        assert sandbox.queue.active_count == 0

        outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        for message_id, (kind, _) in ids.items():
            letter = letters.get(message_id)
            outcomes[kind][(letter.reason or "?") if letter else "completed"] += 1
    with capsys.disabled():  # the closing note of the hardening issue quotes these figures
        print(f"\nhostile corpus: {len(cases)} cases")
        for kind, counts in outcomes.items():
            print(f"  {kind:<12} {sum(counts.values()):>4}: {dict(counts)}")
