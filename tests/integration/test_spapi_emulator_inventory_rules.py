"""FBA Inventory getInventorySummaries and Sellers getMarketplaceParticipations in the SP-API emulator."""

from __future__ import annotations

import pytest

from sandbox.amazon_samples import CATALOG
from sandbox.notification_samples import fba_inventory_availability_notification
from tests.spapi_emulator_support import NOW, Running, emulator_fixtures, error_of

pytestmark = pytest.mark.sockets

US, UK = "ATVPDKIKX0DER", "A1F83G8C2ARO7P"
SUMMARIES = "/fba/inventory/v1/summaries"
MARKETPLACE = {"granularityType": "Marketplace", "granularityId": US, "marketplaceIds": US}


emu_server, emu = emulator_fixtures()


def stock_catalog(emu: Running, count: int, marketplace_id: str = US) -> None:
    for index in range(count):
        product = CATALOG[index % len(CATALOG)]
        emu.emulator.inventory.set_stock(
            f"{product.seller_sku}-{index}",
            marketplace_id,
            asin=product.asin,
            product_name=product.title,
            fulfillable=index,
        )


def test_summaries_with_details_report_every_quantity(emu: Running) -> None:
    """details=true adds inventoryDetails; totalQuantity adds fulfillable, inbound, reserved and unfulfillable units."""
    emu.emulator.inventory.set_stock(
        "HB-BOTTLE-750-BLK", US, asin="B0C7K4ZQ1M", product_name="Bottle", fulfillable=40, inbound_shipped=10,
        pending_customer_order=3, unfulfillable=2,
    )  # fmt: skip

    response = emu.seller.get(SUMMARIES, params={**MARKETPLACE, "details": "true"})

    assert response.status_code == 200
    payload = response.json()["payload"]
    assert payload["granularity"] == {"granularityType": "Marketplace", "granularityId": US}
    [summary] = payload["inventorySummaries"]
    details = summary["inventoryDetails"]
    assert details["fulfillableQuantity"] == 40
    assert details["inboundShippedQuantity"] == 10
    assert details["reservedQuantity"]["pendingCustomerOrderQuantity"] == 3
    assert details["unfulfillableQuantity"]["totalUnfulfillableQuantity"] == 2
    assert summary["totalQuantity"] == 55
    assert summary["lastUpdatedTime"] == "2025-06-02T12:00:00Z"
    assert response.headers["x-amzn-RateLimit-Limit"] == "2.0"


def test_without_details_there_are_no_inventory_details(emu: Running) -> None:
    """details omitted: summaries only (sku, asin, fnSku, totals), no inventoryDetails."""
    stock_catalog(emu, 1)

    [summary] = emu.seller.get(SUMMARIES, params=MARKETPLACE).json()["payload"]["inventorySummaries"]

    assert "inventoryDetails" not in summary
    assert summary["sellerSku"].startswith(CATALOG[0].seller_sku)


def test_seller_skus_and_marketplace_select_summaries(emu: Running) -> None:
    """sellerSkus picks those SKUs; stock of another marketplace never shows."""
    stock_catalog(emu, 4)
    stock_catalog(emu, 2, marketplace_id=UK)
    wanted = [f"{CATALOG[1].seller_sku}-1", f"{CATALOG[3].seller_sku}-3"]

    response = emu.seller.get(SUMMARIES, params={**MARKETPLACE, "sellerSkus": ",".join(wanted)})

    assert [s["sellerSku"] for s in response.json()["payload"]["inventorySummaries"]] == wanted


def test_start_date_time_returns_what_changed_and_ignores_seller_skus(emu: Running) -> None:
    """With startDateTime only SKUs changed since then come back, whatever sellerSkus says."""
    stock_catalog(emu, 3)
    emu.clock.advance(minutes=40)
    changed = emu.emulator.inventory.set_stock(
        f"{CATALOG[2].seller_sku}-2", US, asin="x", product_name="x", fulfillable=0
    )

    response = emu.seller.get(
        SUMMARIES,
        params={
            **MARKETPLACE,
            "startDateTime": "2025-06-02T12:30:00Z",
            "sellerSkus": f"{CATALOG[0].seller_sku}-0",
        },
    )

    assert response.status_code == 200, response.text
    assert [s["sellerSku"] for s in response.json()["payload"]["inventorySummaries"]] == [changed.seller_sku]


def test_pages_hold_fifty_and_the_next_token_expires_after_thirty_seconds(emu: Running) -> None:
    """120 SKUs: pages of 50 with pagination.nextToken; a token used 31 s later is 400."""
    stock_catalog(emu, 120)

    first = emu.seller.get(SUMMARIES, params=MARKETPLACE).json()
    token = first["pagination"]["nextToken"]
    second = emu.seller.get(SUMMARIES, params={**MARKETPLACE, "nextToken": token}).json()
    emu.clock.advance(seconds=31)
    expired = emu.seller.get(
        SUMMARIES, params={**MARKETPLACE, "nextToken": second["pagination"]["nextToken"]}
    )

    assert len(first["payload"]["inventorySummaries"]) == 50
    assert len(second["payload"]["inventorySummaries"]) == 50
    assert expired.status_code == 400
    assert "expired" in error_of(expired)["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"granularityId": US, "marketplaceIds": US},
        {"granularityType": "Country", "granularityId": US, "marketplaceIds": US},
        {"granularityType": "Marketplace", "granularityId": US},
        {"granularityType": "Marketplace", "granularityId": UK, "marketplaceIds": US},
        {**MARKETPLACE, "startDateTime": "2022-01-01T00:00:00Z"},
    ],
    ids=[
        "no-granularity-type",
        "wrong-granularity-type",
        "no-marketplace",
        "granularity-mismatch",
        "start-too-old",
    ],
)
def test_required_parameters_and_limits(emu: Running, params: dict[str, str]) -> None:
    """granularityType=Marketplace, a granularityId equal to the one marketplaceId, startDateTime within 18 months."""
    response = emu.seller.get(SUMMARIES, params=params)

    assert response.status_code == 400


def test_set_stock_refuses_unknown_fields_and_negative_quantities(emu: Running) -> None:
    """The test hook catches typos instead of inventing a quantity."""
    inventory = emu.emulator.inventory

    with pytest.raises(ValueError, match="unknown"):
        inventory.set_stock("S", US, asin="A", product_name="P", fulfilable=1)
    with pytest.raises(ValueError, match="negative"):
        inventory.set_stock("S", US, asin="A", product_name="P", fulfillable=-1)


def test_fba_notification_reports_the_stock_per_marketplace() -> None:
    """FBA_INVENTORY_AVAILABILITY_CHANGES carries the SKU once and one inventory entry per marketplace."""
    from sandbox.fba_stock import Stock

    stock = [
        Stock("SKU-1", US, "B0", "X001", "Bottle", fulfillable=5, inbound_receiving=2),
        Stock("SKU-1", UK, "B0", "X001", "Bottle", fulfillable=1),
    ]

    envelope = fba_inventory_availability_notification(stock, event_time=NOW)

    payload = envelope["Payload"]
    assert (payload["SKU"], payload["ASIN"], payload["FNSKU"]) == ("SKU-1", "B0", "X001")
    assert [m["MarketplaceId"] for m in payload["FulfillmentInventoryByMarketplace"]] == [US, UK]
    assert (
        payload["FulfillmentInventoryByMarketplace"][0]["FulfillmentInventory"]["InboundQuantityBreakdown"][
            "Receiving"
        ]
        == 2
    )
    assert (
        envelope["NotificationMetadata"]["NotificationId"]
        == fba_inventory_availability_notification(stock, event_time=NOW)["NotificationMetadata"][
            "NotificationId"
        ]
    )
    with pytest.raises(ValueError, match="one SKU"):
        fba_inventory_availability_notification(
            [stock[0], Stock("SKU-2", US, "B1", "X002", "Mat")], event_time=NOW
        )


def test_marketplace_participations_list_the_sellers_marketplaces(emu: Running) -> None:
    """getMarketplaceParticipations answers one entry per marketplace the seller sells in, with currency and domain."""
    emu.emulator.sellers.suspended_marketplaces.add(UK)

    response = emu.seller.get("/sellers/v1/marketplaceParticipations")

    assert response.status_code == 200
    payload = response.json()["payload"]
    by_id = {p["marketplace"]["id"]: p for p in payload}
    assert set(by_id) == set(emu.emulator.ctx.marketplace_ids)
    assert by_id[US]["marketplace"]["defaultCurrencyCode"] == "USD"
    assert by_id[UK]["participation"] == {"isParticipating": True, "hasSuspendedListings": True}
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.016"


def test_marketplace_participations_refuse_a_grantless_token(emu: Running) -> None:
    """Checking credentials needs the seller's authorization: a grantless token is 403."""
    assert emu.grantless.get("/sellers/v1/marketplaceParticipations").status_code == 403


def test_the_emulator_builds_the_fba_notification_from_its_stock(emu: Running) -> None:
    """inventory.availability_notification(sku) reports the SKU's current stock in every marketplace it has."""
    inventory = emu.emulator.inventory
    inventory.set_stock("SKU-9", US, asin="B9", product_name="Mat", fulfillable=4)
    inventory.set_stock("SKU-9", UK, asin="B9", product_name="Mat", fulfillable=2)

    envelope = inventory.availability_notification("SKU-9")

    by_marketplace = {
        m["MarketplaceId"]: m["FulfillmentInventory"]["Fulfillable"]
        for m in envelope["Payload"]["FulfillmentInventoryByMarketplace"]
    }
    assert by_marketplace == {US: 4, UK: 2}
    assert envelope["Payload"]["SellerId"] == emu.emulator.seller_id
    with pytest.raises(KeyError):
        inventory.availability_notification("NO-STOCK")
