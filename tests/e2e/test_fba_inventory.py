"""Amazon's FBA stock reaches the CRM product (the FBA stock table, per marketplace): from
FBA_INVENTORY_AVAILABILITY_CHANGES notifications routed by type, and from the daily getInventorySummaries sweep."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.crm_catalog import product_id
from sandbox.functions_host import registered_functions
from sandbox.harness import Sandbox
from sandbox.notification_samples import fba_inventory_availability_notification
from tests.crm_support import UK, US, dead_letters

pytestmark = [pytest.mark.sockets, pytest.mark.slow]

BOTTLE = ("HB-BOTTLE-750-BLK", "B0C7K4ZQ1M")
BOARD = ("KT-BAMBOO-BOARD-3PC", "B0B9T2XW8R")


def stock(sandbox: Sandbox, sku_asin: tuple[str, str], marketplace: str, fulfillable: int) -> None:
    sku, asin = sku_asin
    sandbox.spapi.inventory.set_stock(sku, marketplace, asin=asin, product_name=sku, fulfillable=fulfillable)


def notification(sandbox: Sandbox, sku: str, at: datetime) -> dict[str, Any]:
    current = sandbox.spapi.inventory.stock(sku, US)
    assert current is not None
    return fba_inventory_availability_notification(
        [current], event_time=at, seller_id=sandbox.spapi.seller_id
    )


def fba_rows(sandbox: Sandbox) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (row["new_sellersku"], row["new_marketplaceid"]): row
        for row in sandbox.dataverse.records("new_amazonfbastocks")
    }


def sweep(sandbox: Sandbox) -> None:
    import function_app

    registered_functions(function_app.app)["fba_inventory_sweep"](timer=types.SimpleNamespace(past_due=False))


def test_a_notification_puts_fba_stock_on_the_product_per_marketplace_and_publishes_it(
    crm_sandbox: Sandbox,
) -> None:
    """One notification with two marketplaces: two rows linked to the product, two messages on the topic."""
    stock(crm_sandbox, BOTTLE, US, 42)
    stock(crm_sandbox, BOTTLE, UK, 7)
    crm_sandbox.publish(crm_sandbox.spapi.inventory.availability_notification(BOTTLE[0]))
    crm_sandbox.deliver()
    rows = fba_rows(crm_sandbox)
    assert {key: row["new_fulfillablequantity"] for key, row in rows.items()} == {
        (BOTTLE[0], US): 42,
        (BOTTLE[0], UK): 7,
    }
    assert {row["new_productid"] for row in rows.values()} == {product_id(BOTTLE[0])}
    assert crm_sandbox.crm_pipeline is not None
    published = crm_sandbox.crm_pipeline.inventory_changes("from-amazon-fba")
    assert sorted((p["marketplaceId"], p["quantity"], p["source"]) for p in published) == [
        (UK, 7, "amazon-fba"),
        (US, 42, "amazon-fba"),
    ]


def test_an_older_notification_after_a_newer_one_never_overwrites_it(crm_sandbox: Sandbox) -> None:
    """Notifications arrive late and twice: the newest EventTime's quantity stays, repeats write nothing."""
    now = datetime.now(UTC)
    stock(crm_sandbox, BOTTLE, US, 5)
    older = notification(crm_sandbox, BOTTLE[0], now)
    stock(crm_sandbox, BOTTLE, US, 9)
    newer = notification(crm_sandbox, BOTTLE[0], now + timedelta(minutes=5))
    for envelope in (newer, older, newer):
        crm_sandbox.publish(envelope)
    crm_sandbox.deliver()
    assert fba_rows(crm_sandbox)[(BOTTLE[0], US)]["new_fulfillablequantity"] == 9
    assert crm_sandbox.runtime().fba_inventory.totals["written"] == 1


def test_the_daily_sweep_writes_what_changed_and_nothing_on_a_second_run(crm_sandbox: Sandbox) -> None:
    """Every marketplace's summaries are read; a second run finds nothing new and writes nothing."""
    stock(crm_sandbox, BOTTLE, US, 3)
    stock(crm_sandbox, BOARD, US, 11)
    stock(crm_sandbox, BOARD, UK, 0)
    sweep(crm_sandbox)
    rows = fba_rows(crm_sandbox)
    assert {key: row["new_fulfillablequantity"] for key, row in rows.items()} == {
        (BOTTLE[0], US): 3,
        (BOARD[0], US): 11,
        (BOARD[0], UK): 0,
    }
    writes = crm_sandbox.dataverse.requests.snapshot().get("batch", 0)
    sweep(crm_sandbox)
    assert crm_sandbox.dataverse.requests.snapshot().get("batch", 0) == writes
    assert crm_sandbox.runtime().fba_inventory.totals["stale"] == 3


def test_stock_of_a_sku_no_product_has_is_skipped_and_the_message_completed(crm_sandbox: Sandbox) -> None:
    """A SKU the CRM does not know is logged and skipped, not dead-lettered: there is no product to show it on."""
    stock(crm_sandbox, ("NOT-IN-CRM-1", "B000000000"), US, 4)
    crm_sandbox.publish(crm_sandbox.spapi.inventory.availability_notification("NOT-IN-CRM-1"))
    crm_sandbox.deliver()
    assert fba_rows(crm_sandbox) == {}
    assert crm_sandbox.dead_letters() == []
    assert dead_letters(crm_sandbox) == []
