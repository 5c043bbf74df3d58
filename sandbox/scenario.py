"""The demo scenario: a realistic day of Amazon orders travelling through the registered function.

Merchant- and Amazon-fulfilled orders with several lines, an order walking Pending -> Unshipped ->
Shipped, a cancellation, a SKU Dynamics does not know, SKUs full of URL-hostile characters, a duplicate
delivery, an out-of-order (older) notification and a message that is not a notification at all. Then the
money side (`run_money_day`): the open orders ship, Amazon's transactions and settlement reports arrive, and
the finance timers turn them into transactions, settlements, invoices and reconciliation findings.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.amazon_samples import CATALOG, OrderFactory, SampleOrder, order_change_notification
from sandbox.finance_ledger import FinanceLedger
from sandbox.harness import Sandbox

UNKNOWN_SKU = "GIFT-CARD-DE-25"  # deliberately not a product in the seeded Dataverse


@dataclass
class ScenarioLog:
    steps: list[str] = field(default_factory=list)
    orders: dict[str, SampleOrder] = field(default_factory=dict)
    waiting_to_ship: list[SampleOrder] = field(default_factory=list)
    ledger: FinanceLedger | None = None


def run_scenario(sandbox: Sandbox, *, say: Callable[[str], None] = lambda _: None) -> ScenarioLog:
    log = ScenarioLog()
    factory = OrderFactory(seed=2026)

    def publish(order: SampleOrder, what: str, **options: Any) -> dict[str, Any]:
        sandbox.spapi.put_order(order.to_api())
        envelope = order_change_notification(order, **options)
        sandbox.publish(envelope)
        log.orders[order.order_id] = order
        log.steps.append(f"{order.order_id}: {what}")
        say(f"  notification  {order.order_id:<21} {what}")
        return envelope

    def deliver(title: str) -> None:
        say(title)
        sandbox.deliver()

    # 1. New orders arrive.
    walker = factory.order(
        status="PENDING", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT", item_count=3
    )
    cancelled = factory.order(
        status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT", item_count=2
    )
    fba = factory.order(
        status="SHIPPED", marketplace_id="A1F83G8C2ARO7P", fulfilled_by="AMAZON", item_count=2
    )
    german = factory.order(
        status="UNSHIPPED", marketplace_id="A1PA6795UKMFR9", fulfilled_by="MERCHANT", item_count=1
    )
    german = _with_unknown_sku(german)
    awkward = _with_awkward_skus(
        factory.order(
            status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT", item_count=8
        )
    )
    say("Amazon sends ORDER_CHANGE notifications (SQS -> Service Bus):")
    publish(walker, "new MFN order, 3 lines, Pending (no prices, no address yet)")
    publish(cancelled, "new MFN order, 2 lines, Unshipped")
    publish(fba, "AFN (FBA) order, 2 lines, Amazon.co.uk, Shipped")
    publish(german, f"MFN order on Amazon.de with SKU {UNKNOWN_SKU} that Dynamics does not know")
    publish(awkward, "MFN order whose SKUs contain ' # & + / ? % and non-ASCII")
    body = b'{"NotificationType": "ORDER_CHANGE", "Payload": '  # cut off: not even JSON
    sandbox.publish_raw(body)
    say("  message       (not JSON)             a truncated message that is not a notification")
    deliver("The function app processes the queue.")

    # 2. Orders move on.
    say("Orders move on:")
    walker = walker.confirm()
    publish(walker, "payment authorised: Pending -> Unshipped (prices and address appear)")
    cancelled = cancelled.cancel()
    publish(cancelled, "buyer cancels: Unshipped -> Canceled")
    sandbox.publish(order_change_notification(fba))  # same NotificationId: Amazon delivered it twice
    log.steps.append(f"{fba.order_id}: duplicate delivery")
    say(f"  notification  {fba.order_id:<21} the Shipped notification again (delivered twice)")
    deliver("The function app processes the queue.")

    # 3. The walker ships, and an old notification turns up late.
    say("Shipping, and a late straggler:")
    unshipped_walker = walker
    walker = walker.ship()
    publish(walker, "shipped: Unshipped -> Shipped")
    deliver("The function app processes the queue.")
    late = order_change_notification(unshipped_walker, notification_id=str(uuid.uuid4()))
    sandbox.publish(late)
    log.steps.append(f"{walker.order_id}: out-of-order Unshipped notification")
    say(f"  notification  {walker.order_id:<21} an older 'Unshipped' notification arrives after 'Shipped'")
    deliver("The function app processes the queue.")
    log.waiting_to_ship = [german, awkward]
    return log


def ship_open_orders(
    sandbox: Sandbox, log: ScenarioLog, *, say: Callable[[str], None] = lambda _: None
) -> None:
    """The day goes on: the orders still open ship."""
    say("The day goes on: the open orders ship.")
    for order in log.waiting_to_ship:
        shipped = order.ship()
        sandbox.spapi.put_order(shipped.to_api())
        sandbox.publish(order_change_notification(shipped))
        log.orders[shipped.order_id] = shipped
        log.steps.append(f"{shipped.order_id}: shipped")
        say(f"  notification  {shipped.order_id:<21} shipped")
    sandbox.deliver()


def run_money_day(sandbox: Sandbox, log: ScenarioLog, *, say: Callable[[str], None] = lambda _: None) -> None:
    """Amazon posts the money (fees, a refund, a monthly fee, three deliberate mistakes), a settlement report
    appears for every payout, and the finance timers bring it all into Dynamics."""
    say(
        "Amazon posts the money: order payments with their fees, a refund, a monthly fee; and, on purpose, a fee"
    )
    say("that differs between report and transaction, an order paid twice and an order Dynamics never had.")
    ledger = sandbox.spapi.finances.ledger_from_orders(seed=2026, discrepancies=True)
    log.ledger = ledger
    say(
        "  timer         finance_sync           transactions -> Dynamics, exchange rates from the ECB stand-in"
    )
    sandbox.run_timer("finance_sync")
    created = datetime.now(UTC) - timedelta(minutes=5)
    for settlement in ledger.settlements():
        sandbox.spapi.reports.add_settlement_report(settlement, created=created)
        say(
            f"  report        settlement {settlement.settlement_id}  {settlement.currency} {settlement.total}"
        )
    say("  timer         settlement_reports     settlements, invoices, reconciliation")
    sandbox.run_timer("settlement_reports")


def _with_unknown_sku(order: SampleOrder) -> SampleOrder:
    item = order.items[0]
    product = dataclasses.replace(
        item.product, seller_sku=UNKNOWN_SKU, title="Geschenkgutschein 25 EUR", asin="B0GIFT0025"
    )
    return dataclasses.replace(order, items=(dataclasses.replace(item, product=product), *order.items[1:]))


def _with_awkward_skus(order: SampleOrder) -> SampleOrder:
    from sandbox.dataverse_seed import PRODUCTS, SPECIAL_SKUS

    items = []
    for item, sku in zip(order.items, SPECIAL_SKUS, strict=False):
        name, price = PRODUCTS[sku]
        product = dataclasses.replace(item.product, seller_sku=sku, title=name)
        items.append(dataclasses.replace(item, product=product, unit_price=Decimal(price)))
    return dataclasses.replace(order, items=tuple(items))


__all__ = ["CATALOG", "UNKNOWN_SKU", "ScenarioLog", "run_money_day", "run_scenario", "ship_open_orders"]
