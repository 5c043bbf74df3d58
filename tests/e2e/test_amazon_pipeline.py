"""The deployed path on local stand-ins: SQS (moto server) -> sqs_bridge -> Service Bus (AMQP stand-in) ->
amazon_notifications -> Dataverse (emulator), all over real sockets with the unmodified SDKs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.amazon_samples import OrderFactory, order_change_notification
from sandbox.harness import Sandbox, SandboxOptions
from tests.sandbox_support import FAST_RETRY, crm_lines, crm_orders, deliver_with_one_unknown_order

pytestmark = [pytest.mark.sockets, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
RAISED_PLAN = {"getOrder": (200.0, 200)}  # a seller on a raised usage plan: the test is about the pipeline


@pytest.fixture
def pipeline(azurite) -> Iterator[Sandbox]:
    options = SandboxOptions(
        retry=FAST_RETRY, pipeline="amazon", max_batch=100, bridge_seconds=5, spapi_rate_limits=RAISED_PLAN
    )
    with Sandbox(options, azurite=azurite) as sandbox:
        yield sandbox


def test_a_thousand_notifications_on_sqs_become_a_thousand_orders(pipeline: Sandbox) -> None:
    """1,000 notifications published to SQS (while the app runs, as Amazon publishes) end as 1,000 sales
    orders; SQS and Service Bus end empty."""
    orders = OrderFactory(seed=1000).orders(1000, status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
    for order in orders:
        pipeline.spapi.put_order(order.to_api())

    def publish() -> None:
        for order in orders:
            pipeline.publish(order_change_notification(order))

    pipeline.deliver(timeout=600, publisher=publish)
    assert len(crm_orders(pipeline)) == 1000
    assert pipeline.dead_letters() == []
    assert pipeline.pipeline is not None
    assert pipeline.pipeline.sqs_depth() == 0
    counts = pipeline.pipeline.bus.counts(pipeline.pipeline.queue)
    assert (counts["active"], counts["locked"], counts["dead_letter"]) == (0, 0, 0)
    assert pipeline.runtime().order_sync.totals["written"] == 1000


def test_a_poison_message_is_dead_lettered_the_rest_flow_and_a_replay_lands_it_once(
    pipeline: Sandbox,
) -> None:
    """An order Amazon does not know yet is dead-lettered with a reason while the others land; once Amazon
    has it, replaying the dead letter lands it; replaying again (and a late duplicate) applies nothing more."""
    from shared.config import load_settings
    from shared.servicebus.deadletters import DeadLetters

    good, poison = deliver_with_one_unknown_order(pipeline, known=5, seed=77)
    assert set(crm_orders(pipeline)) == {order.order_id for order in good}
    assert [reason for reason, _ in pipeline.dead_letters()] == ["AmazonOrderNotFound"]

    with DeadLetters.from_settings(load_settings()) as dead_letters:
        [listed] = dead_letters.list().messages
        assert listed.reason == "AmazonOrderNotFound"
        assert listed.amazon_order_id == poison.order_id
        pipeline.spapi.put_order(poison.to_api())  # the cause is fixed
        first = dead_letters.replay(reason="AmazonOrderNotFound")
        second = dead_letters.replay(reason="AmazonOrderNotFound")
    assert first.ok
    assert [item.status for item in first.items] == ["replayed"]
    assert second.items == ()
    pipeline.publish(order_change_notification(poison))  # Amazon delivers the same notification again
    pipeline.deliver()

    assert set(crm_orders(pipeline)) == {order.order_id for order in (*good, poison)}
    assert len(crm_lines(pipeline, poison.order_id)) == len(poison.items)
    assert pipeline.dead_letters() == []
    assert pipeline.runtime().order_sync.totals["written"] == 6


def test_the_demo_command_runs_the_whole_pipeline() -> None:
    """`python -m sandbox` (the README's first command) ends with orders in the CRM, their invoices, the
    settlements and the reconciliation mismatches, one dead letter and the costs, then shows Dynamics' changes
    on Amazon and Amazon's FBA stock in Dynamics."""
    result = subprocess.run(
        [sys.executable, "-m", "sandbox"], cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout
    assert "What landed in Dynamics 365 (5 sales orders)" in output
    assert "Fulfilled / Complete" in output
    assert "Canceled / No Money" in output
    assert "write-in" in output
    assert "MalformedNotification" in output
    assert "SP-API calls" in output
    # Every message is accounted for: 13 published, the duplicate dropped by Service Bus, 12 delivered.
    assert "Every message accounted for (13 published to SQS)" in output
    assert "1 dropped by Service Bus as duplicates" in output
    assert "12 delivered to amazon_notifications" in output
    # The day goes on: the money side lands, with the ledger's three deliberate mistakes found.
    assert "invoices (5, 5 Paid), one per settled order" in output
    assert "reconciliation mismatches (3):" in output
    for reason in ("settled_twice", "transactions_differ", "missing_in_crm"):
        assert reason in output
    assert "0 still on the queue" in output
    # The other direction: a person's stock, price and shipment reach Amazon; FBA stock reaches Dynamics.
    assert "merchant quantity 25 -> 12" in output
    assert "UK price 17.99 GBP -> 24.99 GBP" in output
    assert "confirmShipment" in output
    assert "fulfillable  140" in output
    assert "Dead letters of dataverse-events: 0" in output
    assert "ERROR" not in output + result.stderr  # no shutdown noise
