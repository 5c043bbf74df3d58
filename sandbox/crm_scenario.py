"""The demo's other direction: a person works in Dynamics, Amazon's FBA stock moves, and both reach the other side.

Sam Seller (a Dynamics user, not the integration) changes a product's stock twice in a row and its UK price,
ships a merchant-fulfilled Amazon order with a UPS tracking number and fulfils it; Amazon reports new FBA stock
of another product. The registered steps post each change to the dataverse-events queue, `dataverse_events`
patches the listings and confirms the shipment, `amazon_notifications` writes the FBA stock into Dynamics, and
every applied stock change is published to the inventory-changes topic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sandbox.amazon_samples import OrderFactory, order_change_notification
from sandbox.crm_catalog import price_item_id, product_id
from sandbox.dataverse_emulator.webapi_client import order_close
from sandbox.harness import Sandbox

US, UK = "ATVPDKIKX0DER", "A1F83G8C2ARO7P"
STOCK_SKU = "KT-POUROVER-02-WHT"
FBA_SKU = ("HB-BOTTLE-750-BLK", "B0C7K4ZQ1M")


@dataclass
class CrmScenarioLog:
    stock_sku: str
    fba_sku: str
    shipped_order_id: str
    before: dict[str, object]


def run_crm_scenario(sandbox: Sandbox, *, say: Callable[[str], None] = lambda _: None) -> CrmScenarioLog:
    crm = sandbox.crm()
    before: dict[str, object] = {
        "quantity": sandbox.spapi.listings.quantity(STOCK_SKU),
        "uk_price": sandbox.spapi.listings.price(STOCK_SKU, UK),
    }
    say(
        "Sam Seller works in Dynamics (each change -> a registered step -> Service Bus queue dataverse-events):"
    )
    for quantity in (18, 12):
        _ok(crm.patch(f"products({product_id(STOCK_SKU)})", {"quantityonhand": quantity}))
        say(f"  product {STOCK_SKU}: stock on hand -> {quantity}")
    _ok(crm.patch(f"productpricelevels({price_item_id(UK, STOCK_SKU)})", {"amount": 24.99}))
    say(f"  price list 'Amazon UK', {STOCK_SKU}: 24.99 GBP")

    order = OrderFactory(seed=77, start=datetime.now(UTC) - timedelta(hours=5)).order(
        status="UNSHIPPED", marketplace_id=US, fulfilled_by="MERCHANT", item_count=2
    )
    sandbox.spapi.put_order(order.to_api())
    sandbox.publish(order_change_notification(order))
    sandbox.deliver()
    salesorder = sandbox.dataverse.get_by_key("salesorders", new_amazonorderid=order.order_id)
    assert salesorder is not None
    shipment = {"new_carrier": "UPS", "new_trackingnumber": "1Z999AA10123456784", "new_shipdate": _iso_now()}
    _ok(crm.patch(f"salesorders({salesorder['salesorderid']})", shipment))
    _ok(crm.post("FulfillSalesOrder", order_close(salesorder["salesorderid"])))
    say(
        f"  order {order.order_id} (merchant-fulfilled, 2 lines): shipped with UPS 1Z999AA10123456784, fulfilled"
    )

    sku, asin = FBA_SKU
    sandbox.spapi.inventory.set_stock(sku, US, asin=asin, product_name=sku, fulfillable=140)
    sandbox.spapi.inventory.set_stock(sku, UK, asin=asin, product_name=sku, fulfillable=35)
    sandbox.publish(sandbox.spapi.inventory.availability_notification(sku))
    say(f"Amazon sends FBA_INVENTORY_AVAILABILITY_CHANGES for {sku} (140 in the US, 35 in the UK) via SQS.")
    say("The function app processes both queues.")
    sandbox.deliver()
    sandbox.deliver_crm_events()
    return CrmScenarioLog(STOCK_SKU, sku, order.order_id, before)


def _ok(response: object) -> None:
    status = getattr(response, "status_code", None)
    if status not in (200, 201, 204):
        raise RuntimeError(f"Dataverse refused the demo's change ({status})")


def _iso_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
