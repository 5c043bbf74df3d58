"""python-amazon-sp-api's ListingsItems and Feeds clients against the emulator over real sockets: stock and
price changes one SKU at a time and in bulk through a JSON_LISTINGS_FEED."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from sp_api.api import Feeds, ListingsItems

from sandbox.spapi_emulator import SpApiEmulator
from tests.spapi_emulator_support import library, library_fixtures

pytestmark = pytest.mark.sockets

US = "ATVPDKIKX0DER"
SKU = "KT-POUROVER-02-WHT"


def seed_catalog(emulator: SpApiEmulator) -> None:
    emulator.listings.seed_catalog([US], quantity=5)


server, emulator = library_fixtures(seed_catalog)


def stock_patch(quantity: int) -> dict[str, object]:
    return {
        "op": "replace",
        "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
    }


def test_the_library_reads_and_patches_a_listing(emulator: SpApiEmulator) -> None:
    """get_listings_item shows the productType; patch_listings_item changes stock and price (ACCEPTED)."""
    price = {
        "op": "replace",
        "path": "/attributes/purchasable_offer",
        "value": [
            {
                "marketplace_id": US,
                "currency": "USD",
                "our_price": [{"schedule": [{"value_with_tax": 19.99}]}],
            }
        ],
    }
    with library(ListingsItems, emulator) as client:
        item = client.get_listings_item(
            emulator.seller_id, SKU, marketplaceIds=[US], includedData=["summaries", "offers"]
        ).payload
        answer = client.patch_listings_item(
            emulator.seller_id,
            SKU,
            marketplaceIds=[US],
            body={"productType": item["summaries"][0]["productType"], "patches": [stock_patch(11), price]},
        ).payload

    assert item["summaries"][0]["productType"] == "COFFEE_MAKER"
    assert answer["status"] == "ACCEPTED"
    assert emulator.listings.quantity(SKU) == 11
    assert emulator.listings.price(SKU, US) == (Decimal("19.99"), "USD")


def test_the_library_gets_invalid_answers_not_exceptions_for_bad_values(emulator: SpApiEmulator) -> None:
    """A negative quantity is a 200 INVALID with issues: the library returns it, it does not raise."""
    with library(ListingsItems, emulator) as client:
        answer = client.patch_listings_item(
            emulator.seller_id,
            SKU,
            marketplaceIds=[US],
            body={"productType": "COFFEE_MAKER", "patches": [stock_patch(-2)]},
        ).payload

    assert answer["status"] == "INVALID"
    assert answer["issues"][0]["severity"] == "ERROR"
    assert emulator.listings.quantity(SKU) == 5


def test_the_library_uploads_a_listings_feed_and_reads_its_report(emulator: SpApiEmulator) -> None:
    """create_feed_document uploads the JSON (PUT to the presigned URL), create_feed queues it, the report says it applied."""
    feed = {
        "header": {"sellerId": emulator.seller_id, "version": "2.0"},
        "messages": [
            {
                "messageId": 1,
                "sku": SKU,
                "operationType": "PATCH",
                "productType": "COFFEE_MAKER",
                "patches": [stock_patch(30)],
            },
            {
                "messageId": 2,
                "sku": "KT-SILMAT-2PK",
                "operationType": "PATCH",
                "productType": "BAKING_MAT",
                "patches": [stock_patch(-1)],
            },
        ],
    }
    with library(Feeds, emulator) as client:
        document = client.create_feed_document(
            io.StringIO(json.dumps(feed)), "application/json; charset=UTF-8"
        ).payload
        feed_id = client.create_feed(
            "JSON_LISTINGS_FEED", document["feedDocumentId"], marketplaceIds=[US]
        ).payload["feedId"]
        emulator.feeds.finish_now(feed_id)
        done = client.get_feed(feed_id).payload
        report = json.loads(client.get_feed_result_document(done["resultFeedDocumentId"]))

    assert done["processingStatus"] == "DONE"
    assert report["summary"]["messagesAccepted"] == 1
    assert [issue["messageId"] for issue in report["issues"]] == [2]
    assert emulator.listings.quantity(SKU) == 30
