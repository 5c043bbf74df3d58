"""Dynamics -> Amazon on a hostile network: 20% of Listings and Orders calls throttled, failing, dropped, or
carried out with the answer lost. Every change lands once; no shipment is confirmed twice."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from sandbox.amazon_samples import CATALOG
from sandbox.harness import Sandbox
from sandbox.http_emulator import Fault, FaultPlan
from tests.crm_support import (
    UK,
    amazon_order,
    crm_lines,
    dead_letters,
    fulfil,
    record_shipment,
    set_price,
    set_stock,
)

pytestmark = [pytest.mark.sockets, pytest.mark.slow]

FAULTED = frozenset({"getListingsItem", "patchListingsItem", "confirmShipment", "getOrder"})


def test_twenty_percent_of_listings_and_orders_calls_failing_still_lands_every_change_once(
    crm_sandbox: Sandbox,
) -> None:
    """Stock and price edits end with their last values on Amazon; each shipped order has its units confirmed
    exactly once, one accepted confirmation per package, whatever Amazon's answers did on the way."""
    orders = [amazon_order(crm_sandbox, items=2, seed=seed) for seed in (21, 22, 23)]
    crm_sandbox.spapi.faults = FaultPlan(
        rate=0.2,
        kinds=(Fault.THROTTLE, Fault.UNAVAILABLE, Fault.DROP, Fault.LOST_RESPONSE),
        operations=FAULTED,
        seed=7,
        retry_after_seconds=0,
    )
    skus = [product.seller_sku for product in CATALOG[:6]]
    for round_ in range(1, 4):
        for sku in skus:
            set_stock(crm_sandbox, sku, 10 * round_)
            set_price(crm_sandbox, UK, sku, 20 + round_)
    for index, order in enumerate(orders):
        record_shipment(crm_sandbox, order.order_id, f"1Z00{index}")
        fulfil(crm_sandbox, order.order_id)
    crm_sandbox.deliver_crm_events(timeout=300)

    assert {sku: crm_sandbox.spapi.listings.quantity(sku) for sku in skus} == dict.fromkeys(skus, 30)
    assert {sku: crm_sandbox.spapi.listings.price(sku, UK) for sku in skus} == dict.fromkeys(
        skus, (Decimal(23), "GBP")
    )
    for order in orders:
        ordered = {
            line["new_amazonorderitemid"]: int(line["quantity"])
            for line in crm_lines(crm_sandbox, order.order_id)
        }
        assert crm_sandbox.spapi.shipments.confirmed_quantities(order.order_id) == ordered
        packages = Counter(
            c.package_reference_id
            for c in crm_sandbox.spapi.shipments.confirmations
            if c.order_id == order.order_id
        )
        assert set(packages.values()) == {1}
    assert dead_letters(crm_sandbox) == []
    assert sum(crm_sandbox.spapi.requests.faults().values()) > 0, "the fault plan injected nothing"
