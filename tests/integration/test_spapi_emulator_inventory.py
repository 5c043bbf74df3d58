"""python-amazon-sp-api's Inventories and Sellers clients against the emulator over real sockets."""

from __future__ import annotations

import pytest
from sp_api.api import Inventories, Sellers
from sp_api.base.exceptions import SellingApiBadRequestException

from sandbox.amazon_samples import CATALOG
from sandbox.spapi_emulator import SpApiEmulator
from tests.spapi_emulator_support import library, library_fixtures

pytestmark = pytest.mark.sockets

US = "ATVPDKIKX0DER"


server, emulator = library_fixtures()


def test_the_library_reads_fba_stock_with_details_and_pages(emulator: SpApiEmulator) -> None:
    """get_inventory_summary_marketplace(details=True) returns fulfillable quantities, 50 per page, then the rest."""
    for index in range(60):
        product = CATALOG[index % len(CATALOG)]
        emulator.inventory.set_stock(
            f"{product.seller_sku}-{index}",
            US,
            asin=product.asin,
            product_name=product.title,
            fulfillable=index,
        )
    with library(Inventories, emulator) as client:
        first = client.get_inventory_summary_marketplace(details=True, marketplaceIds=[US])
        second = client.get_inventory_summary_marketplace(
            details=True, marketplaceIds=[US], nextToken=first.next_token
        )

    summaries = first.payload["inventorySummaries"] + second.payload["inventorySummaries"]
    assert len(first.payload["inventorySummaries"]) == 50
    assert second.next_token is None
    assert sum(s["inventoryDetails"]["fulfillableQuantity"] for s in summaries) == sum(range(60))


def test_the_library_asks_for_chosen_skus(emulator: SpApiEmulator) -> None:
    """sellerSkus as a list reaches the emulator as Amazon's comma-separated parameter."""
    for sku in ("A-1", "B-2", "C-3"):
        emulator.inventory.set_stock(sku, US, asin="B0", product_name=sku, fulfillable=1)
    with library(Inventories, emulator) as client:
        found = client.get_inventory_summary_marketplace(
            marketplaceIds=[US], sellerSkus=["A-1", "C-3"]
        ).payload

    assert [s["sellerSku"] for s in found["inventorySummaries"]] == ["A-1", "C-3"]


def test_the_library_gets_a_bad_request_for_an_old_start_date(emulator: SpApiEmulator) -> None:
    """startDateTime older than 18 months is a 400 the library raises."""
    with library(Inventories, emulator) as client, pytest.raises(SellingApiBadRequestException):
        client.get_inventory_summary_marketplace(marketplaceIds=[US], startDateTime="2020-01-01T00:00:00Z")


def test_the_library_checks_credentials_with_marketplace_participations(emulator: SpApiEmulator) -> None:
    """Sellers.get_marketplace_participation lists the seller's marketplaces: the cheapest proof that login works."""
    with library(Sellers, emulator) as client:
        participations = client.get_marketplace_participation().payload

    assert {p["marketplace"]["id"] for p in participations} == set(emulator.ctx.marketplace_ids)
    assert emulator.requests.snapshot() == {"lwa.token": 1, "getMarketplaceParticipations": 1}
