"""A listings resync by SKU over the deployed path: POST /api/resync {skus} through the host stand-in -> the
resync queue (Service Bus stand-in, AMQP) -> the resync function -> Dataverse (emulator) read -> Listings Items
API (emulator). Amazon is made to differ from the CRM behind the app's back, as a seller editing Seller Central
would; the resync puts the CRM's values back and its job says so."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.amazon_samples import CATALOG
from sandbox.crm_catalog import price_item_id, product_id
from sandbox.dataverse_seed import SAMPLE_STOCK_ON_HAND
from sandbox.harness import MARKETPLACE_IDS
from sandbox.spapi_emulator.listing_store import PRODUCT_TYPES
from tests.crm_support import SKU, UK, US, patches
from tests.ops_support import RESYNC, Ops, seed_listings

pytestmark = [pytest.mark.sockets, pytest.mark.slow]

UNKNOWN_SKU = "NO-SUCH-SKU-1"


def crm_prices(ops: Ops, sku: str) -> dict[str, Decimal]:
    """The CRM's price of `sku` in each marketplace's price list."""
    prices = {}
    for marketplace_id in MARKETPLACE_IDS:
        item = ops.sandbox.dataverse.get_by_key(
            "productpricelevels", productpricelevelid=price_item_id(marketplace_id, sku)
        )
        assert item is not None
        prices[marketplace_id] = Decimal(str(item["amount"]))
    return prices


def drift_on_amazon(ops: Ops, sku: str) -> None:
    """A seller edits the listing in Seller Central: 3 in stock and 1.00 everywhere; the CRM knows nothing."""
    product = next(product for product in CATALOG if product.seller_sku == sku)
    ops.sandbox.spapi.listings.put(
        sku,
        product_type=PRODUCT_TYPES[sku],
        marketplace_ids=MARKETPLACE_IDS,
        title=product.title,
        asin=product.asin,
        quantity=3,
        prices=dict.fromkeys(MARKETPLACE_IDS, Decimal("1.00")),
    )


def test_a_resync_by_sku_puts_the_crms_stock_and_prices_back_on_amazon(ops: Ops) -> None:
    """Amazon drifted from the CRM (and the CRM's stock changed without an event reaching the app): one POST,
    one run of the resync function, and every marketplace shows the CRM's quantity and price; the job reports the
    SKU applied and an unknown SKU failed with its reason, no dead letter."""
    seed_listings(ops.sandbox)
    response = ops.sandbox.crm().patch(f"products({product_id(SKU)})", {"quantityonhand": 42.7})
    assert response.status_code == 204, response.text
    drift_on_amazon(ops, SKU)
    wanted_prices = crm_prices(ops, SKU)
    assert ops.sandbox.spapi.listings.quantity(SKU) == 3

    accepted = ops.call("POST", "resync", json_body={"skus": [SKU, UNKNOWN_SKU, SKU]})
    assert accepted.status == 202, accepted.body
    job = accepted.json
    assert job["queued"] == 2  # a repeated SKU is one
    assert ops.call("GET", f"resync/{job['jobId']}").json["state"] == "queued"
    assert patches(ops.sandbox) == 0  # queued, never done in the request

    ops.run_queue(RESYNC, "resync")

    listings = ops.sandbox.spapi.listings
    assert listings.quantity(SKU) == 42  # rounded down, as the events flow does
    for marketplace_id, amount in wanted_prices.items():
        shown = listings.price(SKU, marketplace_id)
        assert shown is not None
        assert shown[0] == amount, marketplace_id
    assert patches(ops.sandbox) == len(MARKETPLACE_IDS)  # one patch per listing: quantity and price together
    status = ops.call("GET", f"resync/{job['jobId']}").json
    assert (status["kind"], status["state"], status["queued"]) == ("listings", "done", 2)
    assert (status["applied"], status["failed"]) == (1, 1)
    [failure] = status["failures"]
    assert failure["sku"] == UNKNOWN_SKU
    assert failure["reason"].startswith("UnknownSku")
    assert ops.bus.counts(RESYNC)["dead_letter"] == 0


def test_a_second_resync_sends_again_even_though_the_values_are_unchanged(ops: Ops) -> None:
    """After a resync the CRM's values are the ones last sent; Amazon drifts again and a new resync still sends
    them (the state rows only know what Amazon accepted, not what it shows now)."""
    seed_listings(ops.sandbox)
    for _ in range(2):
        drift_on_amazon(ops, SKU)
        job = ops.call("POST", "resync", json_body={"skus": [SKU]}).json
        ops.run_queue(RESYNC, "resync")
        assert ops.sandbox.spapi.listings.quantity(SKU) == int(SAMPLE_STOCK_ON_HAND)
        assert ops.sandbox.spapi.listings.price(SKU, US) != (Decimal("1.00"), "USD")
        assert ops.sandbox.spapi.listings.price(SKU, UK) != (Decimal("1.00"), "GBP")
        status = ops.call("GET", f"resync/{job['jobId']}").json
        assert (status["state"], status["applied"], status["failed"]) == ("done", 1, 0)
