"""Listings Items API 2021-08-01 in the SP-API emulator: reading listings and patching stock and price."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.spapi_emulator_support import Running, emulator_fixtures, error_of

pytestmark = pytest.mark.sockets

US, DE = "ATVPDKIKX0DER", "A1PA6795UKMFR9"
SKU = "HB-BOTTLE-750-BLK"


def seed_catalog(running: Running) -> None:
    running.emulator.listings.seed_catalog([US, DE], quantity=25)


emu_server, emu = emulator_fixtures(seed_catalog)


def item_path(emu: Running, sku: str = SKU, seller_id: str | None = None) -> str:
    return f"/listings/2021-08-01/items/{seller_id or emu.emulator.seller_id}/{quote(sku, safe='')}"


def patch(
    emu: Running,
    patches: list[dict[str, Any]],
    *,
    sku: str = SKU,
    product_type: str | None = "BOTTLE",
    **params: str,
) -> httpx.Response:
    body: dict[str, Any] = {"patches": patches}
    if product_type is not None:
        body["productType"] = product_type
    return emu.seller.patch(item_path(emu, sku), params={"marketplaceIds": US, **params}, json=body)


def stock(quantity: Any) -> dict[str, Any]:
    return {
        "op": "replace",
        "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
    }


def price(amount: Any, currency: str = "USD", marketplace_id: str = US) -> dict[str, Any]:
    offer = {
        "marketplace_id": marketplace_id,
        "currency": currency,
        "audience": "ALL",
        "our_price": [{"schedule": [{"value_with_tax": amount}]}],
    }
    return {"op": "replace", "path": "/attributes/purchasable_offer", "value": [offer]}


def test_get_listings_item_returns_summaries_by_default_with_the_product_type(emu: Running) -> None:
    """Without includedData only summaries come back, one per asked marketplace, with productType and status."""
    response = emu.seller.get(item_path(emu), params={"marketplaceIds": US})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"sku", "summaries"}
    [summary] = body["summaries"]
    assert summary["productType"] == "BOTTLE"
    assert summary["marketplaceId"] == US
    assert summary["status"] == ["BUYABLE", "DISCOVERABLE"]
    assert response.headers["x-amzn-RateLimit-Limit"] == "5.0"


def test_included_data_adds_offers_availability_attributes_and_issues(emu: Running) -> None:
    """includedData=offers,fulfillmentAvailability,attributes,issues returns those datasets in the model's shapes."""
    response = emu.seller.get(
        item_path(emu),
        params={
            "marketplaceIds": f"{US},{DE}",
            "includedData": "offers,fulfillmentAvailability,attributes,issues",
        },
    )

    body = response.json()
    assert set(body) == {"sku", "offers", "fulfillmentAvailability", "attributes", "issues"}
    assert {o["marketplaceId"]: o["price"] for o in body["offers"]} == {
        US: {"currencyCode": "USD", "amount": "24.99"},
        DE: {"currencyCode": "EUR", "amount": "23.99"},
    }
    assert body["fulfillmentAvailability"] == [{"fulfillmentChannelCode": "DEFAULT", "quantity": 25}]
    assert body["attributes"]["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 25}
    ]
    assert body["issues"] == []


def test_get_listings_item_refuses_unknown_skus_sellers_and_datasets(emu: Running) -> None:
    """Unknown SKU: 404; another sellerId: 403; includedData outside the enum or no marketplaceIds: 400."""
    unknown = emu.seller.get(item_path(emu, "NO-SUCH-SKU"), params={"marketplaceIds": US})
    other_seller = emu.seller.get(item_path(emu, seller_id="A3OTHERSELLER"), params={"marketplaceIds": US})
    bad_dataset = emu.seller.get(item_path(emu), params={"marketplaceIds": US, "includedData": "price"})
    no_marketplace = emu.seller.get(item_path(emu))

    assert unknown.status_code == 404
    assert error_of(unknown)["code"] == "NOT_FOUND"
    assert other_seller.status_code == 403
    assert [bad_dataset.status_code, no_marketplace.status_code] == [400, 400]


def test_patch_replaces_the_merchant_quantity(emu: Running) -> None:
    """A replace on /attributes/fulfillment_availability is ACCEPTED and the new quantity is what Amazon holds."""
    response = patch(emu, [stock(7)])

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ACCEPTED"
    assert body["sku"] == SKU
    assert body["issues"] == []
    assert body["submissionId"]
    assert emu.emulator.listings.quantity(SKU) == 7


def test_patch_replaces_the_price(emu: Running) -> None:
    """A replace on /attributes/purchasable_offer changes the marketplace's price and nothing else."""
    response = patch(emu, [price(21.5)])

    assert response.json()["status"] == "ACCEPTED"
    assert emu.emulator.listings.price(SKU, US) == (Decimal("21.5"), "USD")
    assert emu.emulator.listings.quantity(SKU) == 25


@pytest.mark.parametrize(
    ("patches", "category"),
    [
        ([stock(-1)], "INVALID_ATTRIBUTE"),
        ([stock(2.5)], "INVALID_ATTRIBUTE"),
        ([price(0)], "INVALID_PRICE"),
        ([price(-3)], "INVALID_PRICE"),
        ([price(19.99, currency="EUR")], "INVALID_PRICE"),
    ],
    ids=["negative-quantity", "fractional-quantity", "zero-price", "negative-price", "foreign-currency"],
)
def test_bad_values_are_invalid_with_issues_and_change_nothing(
    emu: Running, patches: list[dict[str, Any]], category: str
) -> None:
    """Negative or fractional stock, a price <= 0 or another currency: 200 INVALID, an ERROR issue, state unchanged."""
    before = emu.emulator.listings.get(SKU)

    response = patch(emu, patches)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "INVALID"
    [issue] = body["issues"]
    assert issue["severity"] == "ERROR"
    assert issue["categories"] == [category]
    assert issue["attributeNames"]
    assert issue["code"] == "4000001"
    assert emu.emulator.listings.get(SKU) == before


def test_a_product_type_other_than_the_listings_is_invalid(emu: Running) -> None:
    """patchListingsItem needs the listing's own productType: another one is INVALID (code 4000003)."""
    response = patch(emu, [stock(3)], product_type="LUGGAGE")

    assert response.json()["status"] == "INVALID"
    assert response.json()["issues"][0]["code"] == "4000003"
    assert emu.emulator.listings.quantity(SKU) == 25


@pytest.mark.parametrize(
    "body",
    [
        {"patches": [stock(3)]},
        {"productType": "BOTTLE"},
        {"productType": "BOTTLE", "patches": []},
        {"productType": "BOTTLE", "patches": [{"op": "move", "path": "/attributes/x", "value": [{}]}]},
        {"productType": "BOTTLE", "patches": [{"op": "replace", "path": "/attributes/x", "value": {"a": 1}}]},
    ],
    ids=["no-product-type", "no-patches", "empty-patches", "unknown-op", "value-not-a-list"],
)
def test_unreadable_patch_bodies_are_400(emu: Running, body: dict[str, Any]) -> None:
    """A body Amazon cannot read (no productType, no patches, unknown op, value not a list) is 400 InvalidInput."""
    response = emu.seller.patch(item_path(emu), params={"marketplaceIds": US}, json=body)

    assert response.status_code == 400
    assert error_of(response)["code"] == "InvalidInput"


def test_nested_attribute_paths_are_invalid(emu: Running) -> None:
    """Only top-level attributes can be patched: /attributes/a/b is INVALID."""
    response = patch(
        emu,
        [{"op": "replace", "path": "/attributes/fulfillment_availability/0/quantity", "value": [{"x": 1}]}],
    )

    assert response.json()["status"] == "INVALID"


def test_patching_an_unknown_sku_is_accepted_as_an_offer_only_listing(emu: Running) -> None:
    """Amazon accepts a patch for a SKU it has no item for; reading it later shows it is not buyable."""
    response = patch(emu, [stock(4)], sku="NOT-IN-CATALOG", product_type="PRODUCT")
    read = emu.seller.get(
        item_path(emu, "NOT-IN-CATALOG"), params={"marketplaceIds": US, "includedData": "summaries,issues"}
    )

    assert response.json()["status"] == "ACCEPTED"
    assert emu.emulator.listings.quantity("NOT-IN-CATALOG") == 4
    body = read.json()
    assert body["summaries"][0]["status"] == []
    assert body["issues"][0]["categories"] == ["MISSING_ATTRIBUTE"]


def test_delete_and_merge_operations(emu: Running) -> None:
    """delete removes the attribute; merge updates the entry with the same channel code."""
    merge = {
        "op": "merge",
        "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 9}],
    }

    merged = patch(emu, [merge])
    quantity_after_merge = emu.emulator.listings.quantity(SKU)
    deleted = patch(emu, [{"op": "delete", "path": "/attributes/purchasable_offer"}])

    assert merged.json()["status"] == deleted.json()["status"] == "ACCEPTED"
    assert quantity_after_merge == 9
    assert emu.emulator.listings.price(SKU, US) is None


def test_validation_preview_validates_without_applying(emu: Running) -> None:
    """mode=VALIDATION_PREVIEW answers VALID (or INVALID) with identifiers and leaves the listing as it was."""
    valid = patch(emu, [stock(1)], mode="VALIDATION_PREVIEW", includedData="identifiers,issues")
    invalid = patch(emu, [stock(-1)], mode="VALIDATION_PREVIEW")
    identifiers_without_preview = patch(emu, [stock(1)], includedData="identifiers")

    assert valid.json()["status"] == "VALID"
    assert valid.json()["identifiers"] == [{"marketplaceId": US, "asin": "B0C7K4ZQ1M"}]
    assert invalid.json()["status"] == "INVALID"
    assert identifiers_without_preview.status_code == 400
    assert emu.emulator.listings.quantity(SKU) == 25
    assert emu.emulator.listings.submissions == []


def test_skus_with_reserved_characters_are_addressed_percent_encoded(emu: Running) -> None:
    """A SKU with a slash travels as %2F in the path and is found."""
    response = patch(emu, [stock(2)], sku="EL-USBC-2M/100W", product_type="ELECTRONIC_CABLE")

    assert response.json()["status"] == "ACCEPTED"
    assert emu.emulator.listings.quantity("EL-USBC-2M/100W") == 2


def test_every_submission_is_recorded(emu: Running) -> None:
    """listings.submissions keeps each accepted or invalid patch with its source."""
    patch(emu, [stock(3)])
    patch(emu, [stock(-3)])

    assert [(s.sku, s.status, s.source) for s in emu.emulator.listings.submissions] == [
        (SKU, "ACCEPTED", "patchListingsItem"),
        (SKU, "INVALID", "patchListingsItem"),
    ]
