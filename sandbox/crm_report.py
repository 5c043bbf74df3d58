"""What the demo's Dynamics -> Amazon part printed: what reached Amazon, what reached Dynamics, what the
inventory topic's subscribers got, the dead letters of the events queue, and what it cost."""

from __future__ import annotations

from collections import Counter

from sandbox.crm_pipeline import SUBSCRIPTIONS
from sandbox.crm_scenario import UK, CrmScenarioLog
from sandbox.harness import Sandbox

OPERATIONS = ("getListingsItem", "patchListingsItem", "confirmShipment", "getOrder")


def print_crm_to_amazon(sandbox: Sandbox, log: CrmScenarioLog) -> None:
    listings = sandbox.spapi.listings
    print("What reached Amazon:")
    print(
        f"  listing {log.stock_sku}: merchant quantity {log.before['quantity']} -> {listings.quantity(log.stock_sku)} "
        f"(every marketplace); UK price {_money(log.before['uk_price'])} -> {_money(listings.price(log.stock_sku, UK))}"
    )
    for confirmation in sandbox.spapi.shipments.confirmations:
        items = ", ".join(f"{item} x{quantity}" for item, quantity in confirmation.items)
        print(
            f"  confirmShipment {confirmation.order_id} package {confirmation.package_reference_id}: "
            f"{confirmation.carrier_code} {confirmation.tracking_number} ({items})"
        )
    print("What reached Dynamics (Amazon FBA Stock, a row per product and marketplace):")
    for row in sorted(sandbox.dataverse.records("new_amazonfbastocks"), key=lambda r: r["new_name"]):
        print(
            f"  {row['new_name']:<40} fulfillable {row['new_fulfillablequantity']:>4}  (linked to the product)"
        )
    assert sandbox.crm_pipeline is not None
    print("Published to the inventory-changes topic, per subscription:")
    for name, correlation in SUBSCRIPTIONS.items():
        changes = sandbox.crm_pipeline.inventory_changes(name)
        what = f"source = {correlation['source']}" if correlation else "every change"
        summary = ", ".join(f"{c['sku']}@{c['marketplaceId']}={c['quantity']}" for c in changes)
        print(f"  {name:<16} ({what}): {len(changes)}  {summary}")
    dead = sandbox.crm_pipeline.dead_letters()
    print(f"Dead letters of dataverse-events: {len(dead)}")
    for view in dead:
        print(f"  {view.dead_letter_reason}: {view.dead_letter_error_description}")
    runtime = sandbox.runtime()
    calls = Counter(
        {name: count for name, count in sandbox.spapi.requests.snapshot().items() if name in OPERATIONS}
    )
    events = runtime.dataverse_events.totals
    changes = sum(events.values())
    print("What it cost:")
    print(f"  Dataverse events handled: {changes} ({dict(events)})")
    print(f"  SP-API calls for them: {sum(calls.values())} ({dict(calls)}); getOrder is order sync's")
    print(f"  FBA stock rows: {dict(runtime.fba_inventory.totals)}")


def _money(price: object) -> str:
    if not isinstance(price, tuple):
        return "none"
    amount, currency = price
    return f"{amount} {currency}"
