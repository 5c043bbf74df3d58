"""The Dynamics -> Amazon connectors over real sockets: Listings Items, Feeds, FBA Inventory and Orders v0 against
the SP-API emulator, and the per-listing state rows on Azurite with their ETags."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sandbox.amazon_samples import OrderFactory
from sandbox.spapi_emulator import SpApiEmulator
from shared.amazon.fba_inventory import FbaInventoryApi
from shared.amazon.feeds import FeedMessage, FeedsApi
from shared.amazon.listings import ListingsApi
from shared.amazon.shipments import ShipmentsApi
from shared.model.crm_events import VersionStamp
from shared.model.listings import Field, Lane, ListingChange, ListingKey, ListingState, Price
from shared.model.shipments import Package
from shared.state.listings import ListingStore
from shared.state.store import ConcurrentUpdate
from tests.integration.test_spapi_connector import session_for

pytestmark = pytest.mark.sockets

US = "ATVPDKIKX0DER"
SKU = "KT-POUROVER-02-WHT"


@pytest.fixture
def emulator() -> Iterator[SpApiEmulator]:
    with SpApiEmulator() as running:
        running.listings.seed_catalog([US], quantity=5)
        yield running


def test_the_product_type_is_read_and_an_unknown_sku_is_not_listed(emulator: SpApiEmulator) -> None:
    """getListingsItem gives the listing's productType; a SKU Amazon does not know answers None (404)."""
    listings = ListingsApi(session_for(emulator), emulator.seller_id)
    assert listings.product_type(ListingKey(SKU, US)) == "COFFEE_MAKER"
    assert listings.product_type(ListingKey("NO-SUCH-SKU", US)) is None


def test_one_patch_sets_stock_and_price_and_keeps_the_other_marketplaces_offers(
    emulator: SpApiEmulator,
) -> None:
    """`merge` updates the merchant quantity and this marketplace's offer; an INVALID answer comes back typed."""
    emulator.listings.put(
        "MULTI-1",
        product_type="MUG",
        marketplace_ids=[US, "A1F83G8C2ARO7P"],
        title="Mug",
        quantity=1,
        prices={US: Decimal("5"), "A1F83G8C2ARO7P": Decimal("7")},
    )
    listings = ListingsApi(session_for(emulator), emulator.seller_id)
    accepted = listings.patch(
        ListingKey("MULTI-1", US), "MUG", quantity=9, price=Price(Decimal("6.50"), "USD")
    )
    refused = listings.patch(ListingKey("MULTI-1", US), "MUG", quantity=-1)
    assert accepted.status == "ACCEPTED"
    assert emulator.listings.quantity("MULTI-1") == 9
    assert emulator.listings.price("MULTI-1", US) == (Decimal("6.5"), "USD")
    assert emulator.listings.price("MULTI-1", "A1F83G8C2ARO7P") == (Decimal("7"), "GBP")
    assert refused.status == "INVALID"
    assert refused.errors[0].code == "4000001"


def test_a_listings_feed_is_uploaded_created_and_its_report_names_the_refused_message(
    emulator: SpApiEmulator,
) -> None:
    """createFeedDocument + upload + createFeed; once DONE the report's issues are read by messageId."""
    feeds = FeedsApi(session_for(emulator), emulator.seller_id)
    feed_id = feeds.submit_listings(
        US,
        [
            FeedMessage(1, ListingKey(SKU, US), "COFFEE_MAKER", quantity=30),
            FeedMessage(2, ListingKey("KT-SILMAT-2PK", US), "BAKING_MAT", quantity=-4),
        ],
    )
    assert not feeds.status(feed_id).finished
    emulator.feeds.finish_now(feed_id)
    status = feeds.status(feed_id)
    report = feeds.report(status)
    assert status.status == "DONE"
    assert report.errors_of(1) == ()
    assert [issue.code for issue in report.errors_of(2)] == ["4000001"]
    assert emulator.listings.quantity(SKU) == 30


def test_fba_summaries_are_read_page_after_page_with_fulfillable_quantities(emulator: SpApiEmulator) -> None:
    """60 SKUs come in two pages (50 + 10), each with its fulfillable quantity and time."""
    for index in range(60):
        emulator.inventory.set_stock(f"SKU-{index:02}", US, asin="B0", product_name="x", fulfillable=index)
    quantities = list(FbaInventoryApi(session_for(emulator)).summaries(US))
    assert len(quantities) == 60
    assert sum(q.fulfillable for q in quantities) == sum(range(60))
    assert emulator.requests.snapshot()["getInventorySummaries"] == 2


def test_a_shipment_is_confirmed_and_the_same_package_again_is_refused(emulator: SpApiEmulator) -> None:
    """confirmShipment answers 204; the same packageReferenceId again is a 400, which is why repeats are safe."""
    from shared.amazon.errors import SpApiPermanentError

    order = OrderFactory(seed=4, start=datetime.now(UTC) - timedelta(days=1)).order(
        status="UNSHIPPED", fulfilled_by="MERCHANT", marketplace_id=US, item_count=1
    )
    api = order.to_api()
    emulator.put_order(api)
    item = api["orderItems"][0]
    package = Package("1", "UPS", None, "1Z999", datetime.now(UTC), ((item["orderItemId"], 1),))
    shipments = ShipmentsApi(session_for(emulator))
    shipments.confirm(order.order_id, US, package)
    with pytest.raises(SpApiPermanentError, match=r"already confirmed|nothing left"):
        shipments.confirm(order.order_id, US, package)
    assert len(emulator.shipments.confirmations) == 1


def test_listing_state_round_trips_and_a_stale_etag_loses(azurite, table_name: str) -> None:
    """Every field survives Table Storage (versions with row versions beyond 32 bits); a second writer with the
    old ETag gets ConcurrentUpdate."""
    from azure.data.tables import TableServiceClient

    table = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(table_name)
    store = ListingStore(table)
    key = ListingKey("SKU/WITH?ODD#CHARS", US)
    version = VersionStamp(datetime(2026, 11, 27, tzinfo=UTC), 2**40)
    state = (
        ListingState(key, product_type="MUG", lane=Lane.BACKLOG)
        .want(ListingChange(key, Field.QUANTITY, 5, version))
        .want(ListingChange(key, Field.PRICE, Price(Decimal("9.99"), "USD"), version))
        .claimed("me", datetime(2026, 11, 27, tzinfo=UTC))
    )
    saved = store.save(state)
    read = store.get(key)
    assert read == saved
    assert [s.key for s in store.in_lane(Lane.BACKLOG)] == [key]
    store.save(read.answered("me", datetime(2026, 11, 27, tzinfo=UTC), rejected=None))
    with pytest.raises(ConcurrentUpdate):
        store.save(read)


def test_listings_amazon_flags_are_found_by_a_bounded_query_and_a_cleared_flag_drops_out(
    azurite, table_name: str
) -> None:
    """DELETED and ERROR-issue rows carry AmazonFlagged; WARNING-only and buyable rows do not. The query finds
    the flagged ones (across partitions), stops at its limit saying there are more, and a listing whose ERROR
    issues are gone drops out once its row is written again. A row written before the column is still read."""
    from azure.data.tables import TableServiceClient

    from shared.model.listings import AmazonProblem
    from shared.state.listings import row_name
    from shared.state.store import row_key

    table = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(table_name)
    store = ListingStore(table)
    at = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    rows = {
        "GONE": ListingState(ListingKey("GONE", US)).with_amazon_status(frozenset({"DELETED"}), at),
        "BAD": ListingState(ListingKey("BAD", US)).with_issues(frozenset({"ERROR", "WARNING"}), at),
        "WARNED": ListingState(ListingKey("WARNED", US)).with_issues(frozenset({"WARNING"}), at),
        "FINE": ListingState(ListingKey("FINE", US)).with_amazon_status(frozenset({"BUYABLE"}), at),
    }
    saved = {sku: store.save(state) for sku, state in rows.items()}
    old = ListingKey("OLD", US)
    table.create_entity(
        {
            "PartitionKey": store.rows.partition(row_name(old)),
            "RowKey": row_key(row_name(old)),
            "Sku": "OLD",
            "MarketplaceId": US,
            "Lane": "live",
            "AmazonStatus": "DELETED",
        }
    )

    flagged, more = store.flagged_by_amazon(10)
    assert {(f.key.sku, f.problems) for f in flagged} == {
        ("GONE", frozenset({AmazonProblem.DELETED})),
        ("BAD", frozenset({AmazonProblem.ERROR})),
    }
    assert not more
    assert len(store.flagged_by_amazon(1)[0]) == 1
    assert store.flagged_by_amazon(1)[1]
    assert store.get(old).deleted_on_amazon  # the old row reads as before; found once written again

    store.save(saved["BAD"].with_issues(frozenset({"WARNING"}), at + timedelta(minutes=1)))
    assert [f.key.sku for f in store.flagged_by_amazon(10)[0]] == ["GONE"]


def test_amazons_word_about_a_listing_round_trips(azurite, table_name: str) -> None:
    """Status (an empty one too: neither buyable nor discoverable), issues and Amazon's quantity with their
    EventTimes survive Table Storage."""
    from azure.data.tables import TableServiceClient

    table = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(table_name)
    store = ListingStore(table)
    at = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    for statuses in (frozenset(), frozenset({"BUYABLE", "DISCOVERABLE"})):
        key = ListingKey(f"SKU-{len(statuses)}", US)
        state = (
            ListingState(key)
            .with_amazon_status(statuses, at)
            .with_issues(frozenset({"ERROR", "WARNING"}), at)
            .with_amazon_quantity(4, at)
        )
        saved = store.save(state)
        assert store.get(key) == saved
        assert store.get(key).amazon_status == statuses
