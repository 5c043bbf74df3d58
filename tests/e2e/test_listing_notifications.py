"""Amazon's listing notifications over the deployed path: SQS (moto server) -> sqs_bridge -> Service Bus (AMQP
stand-in) -> amazon_notifications, routed by NotificationType into the listing state rows; the CRM's stock reaches
a listing Amazon did not have when the stock changed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.amazon_samples import CATALOG
from sandbox.harness import Sandbox, SandboxOptions
from sandbox.spapi_emulator.listing_store import PRODUCT_TYPES
from shared.model.listings import ListingKey
from tests.crm_support import SKU, US, dead_letters, patches, set_stock
from tests.sandbox_support import FAST_RETRY

pytestmark = [pytest.mark.sockets, pytest.mark.slow]


@pytest.fixture
def sandbox(azurite) -> Iterator[Sandbox]:
    options = SandboxOptions(retry=FAST_RETRY, crm_events=True, pipeline="amazon")
    with Sandbox(options, azurite=azurite) as running:
        yield running


def list_on_amazon(sandbox: Sandbox, sku: str) -> None:
    """The seller creates the listing in Seller Central, with no stock yet."""
    product = next(product for product in CATALOG if product.seller_sku == sku)
    sandbox.spapi.listings.put(
        sku,
        product_type=PRODUCT_TYPES[sku],
        marketplace_ids=[US],
        title=product.title,
        asin=product.asin,
        quantity=0,
    )


def test_a_listing_that_appears_gets_the_crms_stock_it_could_not_take_before(sandbox: Sandbox) -> None:
    """Stock set in the CRM for a SKU Amazon has no listing for is not sent (no patch would be buyable); Amazon's
    LISTINGS_ITEM_STATUS_CHANGE for the new listing, through SQS and the bridge, brings the CRM's quantity to it."""
    listings = sandbox.spapi.listings
    listings.delete(SKU)
    set_stock(sandbox, SKU, 12)
    sandbox.deliver_crm_events()
    assert patches(sandbox) == 0
    assert listings.get(SKU) is None

    list_on_amazon(sandbox, SKU)
    sandbox.publish(listings.status_notification(SKU, US))
    sandbox.deliver()

    assert listings.quantity(SKU) == 12
    assert patches(sandbox) == 1
    state = sandbox.runtime().listing_sender.store.get(ListingKey(SKU, US))
    assert (state.rejected, state.not_listed_until, state.amazon_status) == (
        None,
        None,
        frozenset({"DISCOVERABLE"}),
    )
    assert sandbox.dead_letters() == []
    assert dead_letters(sandbox) == []


def test_amazons_own_quantity_change_is_published_and_not_sent_back(sandbox: Sandbox) -> None:
    """A sale on Amazon lowers the merchant quantity: the CRM's value is not pushed back over it, and the change
    is published to the inventory topic as amazon-mfn; the quantity we sent coming back publishes nothing."""
    set_stock(sandbox, SKU, 10)
    sandbox.deliver_crm_events()
    assert sandbox.spapi.listings.quantity(SKU) == 10
    sandbox.publish(sandbox.spapi.listings.mfn_quantity_notification(SKU))  # our own 10: an echo
    sandbox.deliver()
    before = patches(sandbox)
    list_on_amazon(sandbox, SKU)  # Seller Central: the listing now shows 0
    sandbox.publish(sandbox.spapi.listings.mfn_quantity_notification(SKU))
    sandbox.deliver()

    assert patches(sandbox) == before
    assert sandbox.spapi.listings.quantity(SKU) == 0
    assert sandbox.crm_pipeline is not None
    published = sandbox.crm_pipeline.inventory_changes("from-amazon-mfn")
    assert sorted({(change["quantity"], change["source"]) for change in published}) == [(0, "amazon-mfn")]
    assert sandbox.dead_letters() == []
