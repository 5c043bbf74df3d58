"""The demo scenario: a realistic day of Amazon orders travelling through the registered function.

Merchant- and Amazon-fulfilled orders with several lines, an order walking Pending -> Unshipped ->
Shipped, a cancellation, a SKU Dynamics does not know, SKUs full of URL-hostile characters, a duplicate
delivery, an out-of-order (older) notification and a message that is not a notification at all.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sandbox.amazon_samples import CATALOG, OrderFactory, SampleOrder, order_change_notification
from sandbox.harness import Sandbox

UNKNOWN_SKU = "GIFT-CARD-DE-25"  # deliberately not a product in the seeded Dataverse


@dataclass
class ScenarioLog:
    steps: list[str] = field(default_factory=list)
    orders: dict[str, SampleOrder] = field(default_factory=dict)


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
    return log


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


__all__ = ["CATALOG", "UNKNOWN_SKU", "ScenarioLog", "run_scenario"]
