"""Feeds API 2021-06-30 in the SP-API emulator: the JSON_LISTINGS_FEED round trip and its processing report."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.spapi_emulator_support import Running, emulator_fixtures, error_of

pytestmark = pytest.mark.sockets

US = "ATVPDKIKX0DER"
FEEDS = "/feeds/2021-06-30"
JSON_TYPE = "application/json; charset=UTF-8"


def seed_catalog(running: Running) -> None:
    running.emulator.listings.seed_catalog([US], quantity=25)


emu_server, emu = emulator_fixtures(seed_catalog)


def feed_document(emu: Running, messages: list[dict[str, Any]], **header: Any) -> dict[str, Any]:
    return {"header": {"sellerId": emu.emulator.seller_id, "version": "2.0", **header}, "messages": messages}


def quantity_patch(message_id: int, sku: str, quantity: Any, product_type: str = "BOTTLE") -> dict[str, Any]:
    return {
        "messageId": message_id,
        "sku": sku,
        "operationType": "PATCH",
        "productType": product_type,
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
            }
        ],
    }


def upload(emu: Running, content: bytes, content_type: str = JSON_TYPE) -> tuple[str, httpx.Response]:
    created = emu.seller.post(f"{FEEDS}/documents", json={"contentType": content_type})
    assert created.status_code == 201
    document = created.json()
    put = emu.http.put(document["url"], content=content, headers={"Content-Type": content_type})
    return document["feedDocumentId"], put


def submit(emu: Running, document: dict[str, Any] | bytes) -> str:
    content = document if isinstance(document, bytes) else json.dumps(document).encode()
    document_id, put = upload(emu, content)
    assert put.status_code == 200
    created = emu.seller.post(
        f"{FEEDS}/feeds",
        json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US], "inputFeedDocumentId": document_id},
    )
    assert created.status_code == 202
    feed_id: str = created.json()["feedId"]
    return feed_id


def processing_report(emu: Running, feed_id: str) -> dict[str, Any]:
    feed = emu.seller.get(f"{FEEDS}/feeds/{feed_id}").json()
    document = emu.seller.get(f"{FEEDS}/documents/{feed['resultFeedDocumentId']}").json()
    report: dict[str, Any] = emu.http.get(document["url"]).json()
    return report


def test_a_feed_moves_from_in_queue_to_done_over_emulated_time(emu: Running) -> None:
    """createFeed answers 202; getFeed shows IN_QUEUE, IN_PROGRESS after 30 s, DONE with a result document after 90 s."""
    feed_id = submit(emu, feed_document(emu, [quantity_patch(1, "HB-BOTTLE-750-BLK", 3)]))

    statuses = []
    for seconds in (0, 30, 60):
        emu.clock.advance(seconds=seconds)
        statuses.append(emu.seller.get(f"{FEEDS}/feeds/{feed_id}").json())

    assert [s["processingStatus"] for s in statuses] == ["IN_QUEUE", "IN_PROGRESS", "DONE"]
    assert "resultFeedDocumentId" not in statuses[1]
    assert statuses[2]["resultFeedDocumentId"]
    assert statuses[2]["processingEndTime"] == "2025-06-02T12:01:30Z"
    assert emu.emulator.listings.quantity("HB-BOTTLE-750-BLK") == 3


def test_messages_apply_to_listings_and_the_report_counts_them(emu: Running) -> None:
    """A valid and an invalid message: one applied, the report lists the invalid one by messageId and counts both."""
    feed_id = submit(
        emu,
        feed_document(
            emu,
            [
                quantity_patch(1, "HB-BOTTLE-750-BLK", 12),
                quantity_patch(2, "KT-SILMAT-2PK", -4, "BAKING_MAT"),
            ],
        ),
    )
    emu.emulator.feeds.finish_now(feed_id)

    report = processing_report(emu, feed_id)

    assert report["header"] == {"sellerId": emu.emulator.seller_id, "version": "2.0", "feedId": feed_id}
    assert report["summary"] == {
        "errors": 1,
        "warnings": 0,
        "messagesProcessed": 2,
        "messagesAccepted": 1,
        "messagesInvalid": 1,
    }
    [issue] = report["issues"]
    assert issue["messageId"] == 2
    assert issue["sku"] == "KT-SILMAT-2PK"
    assert issue["attributeName"] == "fulfillment_availability"
    assert emu.emulator.listings.quantity("HB-BOTTLE-750-BLK") == 12
    assert emu.emulator.listings.quantity("KT-SILMAT-2PK") == 25


def test_update_partial_update_and_delete_operations(emu: Running) -> None:
    """UPDATE replaces all attributes, PARTIAL_UPDATE only the given ones, DELETE removes the listing."""
    title = [{"value": "Bottle", "language_tag": "en_US", "marketplace_id": US}]
    stock = [{"fulfillment_channel_code": "DEFAULT", "quantity": 40}]
    messages = [
        {
            "messageId": 1,
            "sku": "NEW-SKU-1",
            "operationType": "UPDATE",
            "productType": "BOTTLE",
            "attributes": {"item_name": title, "fulfillment_availability": stock},
        },
        {
            "messageId": 2,
            "sku": "HB-BOTTLE-750-BLK",
            "operationType": "PARTIAL_UPDATE",
            "productType": "BOTTLE",
            "attributes": {"fulfillment_availability": stock},
        },
        {"messageId": 3, "sku": "KT-SILMAT-2PK", "operationType": "DELETE"},
    ]
    feed_id = submit(emu, feed_document(emu, messages))
    emu.emulator.feeds.finish_now(feed_id)
    listings = emu.emulator.listings

    assert processing_report(emu, feed_id)["summary"]["messagesAccepted"] == 3
    assert listings.quantity("NEW-SKU-1") == 40
    assert listings.quantity("HB-BOTTLE-750-BLK") == 40
    assert listings.price("HB-BOTTLE-750-BLK", US) is not None  # PARTIAL_UPDATE kept the price
    assert listings.get("KT-SILMAT-2PK") is None


@pytest.mark.parametrize(
    "message",
    [
        {"messageId": 1, "sku": "A", "operationType": "PATCH", "patches": []},
        {"messageId": 1, "sku": "A", "operationType": "PATCH", "productType": "BOTTLE"},
        {"messageId": 1, "sku": "A", "operationType": "DELETE", "productType": "BOTTLE"},
        {
            "messageId": 1,
            "sku": "A",
            "operationType": "UPDATE",
            "productType": "BOTTLE",
            "patches": [],
            "attributes": {"a": [{}]},
        },
        {"messageId": 0, "sku": "A", "operationType": "DELETE"},
        {"messageId": 1, "sku": "", "operationType": "DELETE"},
        {"messageId": 1, "sku": "A", "operationType": "REMOVE"},
    ],
    ids=[
        "patch-without-type",
        "patch-without-patches",
        "delete-with-type",
        "update-with-patches",
        "message-id-0",
        "empty-sku",
        "bad-operation",
    ],
)
def test_messages_breaking_the_schema_rules_are_invalid(emu: Running, message: dict[str, Any]) -> None:
    """Each operationType's required and forbidden fields, messageId >= 1, a non-empty sku: else the message is invalid."""
    feed_id = submit(emu, feed_document(emu, [message]))
    emu.emulator.feeds.finish_now(feed_id)

    report = processing_report(emu, feed_id)

    assert report["summary"]["messagesInvalid"] == 1
    assert report["issues"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (
            json.dumps(
                {"header": {"sellerId": "A2SANDBOXSELLR", "version": "1.0"}, "messages": [{}]}
            ).encode(),
            "version",
        ),
        (
            json.dumps({"header": {"sellerId": "SOMEONEELSE", "version": "2.0"}, "messages": [{}]}).encode(),
            "sellerId",
        ),
        (
            json.dumps({"header": {"sellerId": "A2SANDBOXSELLR", "version": "2.0"}, "messages": []}).encode(),
            "1 to 25000",
        ),
    ],
    ids=["not-json", "wrong-version", "other-seller", "no-messages"],
)
def test_feeds_that_cannot_be_processed_end_fatal(emu: Running, content: bytes, reason: str) -> None:
    """Not JSON, version other than 2.0, another seller or no messages: FATAL, a report with the reason, nothing applied."""
    feed_id = submit(emu, content)
    emu.emulator.feeds.finish_now(feed_id)

    feed = emu.seller.get(f"{FEEDS}/feeds/{feed_id}").json()
    report = processing_report(emu, feed_id)

    assert feed["processingStatus"] == "FATAL"
    assert reason in report["issues"][0]["message"]
    assert emu.emulator.listings.submissions == []


def test_the_upload_url_refuses_another_content_type(emu: Running) -> None:
    """The presigned PUT is signed for the contentType given to createFeedDocument: another one is S3's 403."""
    _, put = upload(emu, b"{}", content_type=JSON_TYPE)
    created = emu.seller.post(f"{FEEDS}/documents", json={"contentType": JSON_TYPE}).json()

    wrong = emu.http.put(created["url"], content=b"{}", headers={"Content-Type": "text/plain"})

    assert put.status_code == 200
    assert wrong.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in wrong.content


def test_the_upload_url_expires_after_five_minutes(emu: Running) -> None:
    """Five minutes after createFeedDocument the upload URL answers 403 AccessDenied "Request has expired"."""
    created = emu.seller.post(f"{FEEDS}/documents", json={"contentType": JSON_TYPE}).json()
    emu.clock.advance(minutes=5)

    late = emu.http.put(created["url"], content=b"{}", headers={"Content-Type": JSON_TYPE})

    assert late.status_code == 403
    assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in late.content


def test_create_feed_refuses_unknown_documents_types_and_missing_fields(emu: Running) -> None:
    """An unknown inputFeedDocumentId, a feed type the emulator does not process, or no marketplaceIds: 400."""
    document_id, _ = upload(emu, b"{}")

    unknown_document = emu.seller.post(
        f"{FEEDS}/feeds",
        json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [US], "inputFeedDocumentId": "nope"},
    )
    other_type = emu.seller.post(
        f"{FEEDS}/feeds",
        json={"feedType": "POST_PRODUCT_DATA", "marketplaceIds": [US], "inputFeedDocumentId": document_id},
    )
    no_marketplaces = emu.seller.post(
        f"{FEEDS}/feeds", json={"feedType": "JSON_LISTINGS_FEED", "inputFeedDocumentId": document_id}
    )

    assert [r.status_code for r in (unknown_document, other_type, no_marketplaces)] == [400, 400, 400]
    assert error_of(other_type)["code"] == "InvalidInput"


def test_get_feeds_lists_by_type_newest_first(emu: Running) -> None:
    """getFeeds needs feedTypes (or a nextToken alone) and lists the newest feed first."""
    first = submit(emu, feed_document(emu, [quantity_patch(1, "HB-BOTTLE-750-BLK", 1)]))
    emu.clock.advance(seconds=5)
    second = submit(emu, feed_document(emu, [quantity_patch(1, "HB-BOTTLE-750-BLK", 2)]))

    listed = emu.seller.get(f"{FEEDS}/feeds", params={"feedTypes": "JSON_LISTINGS_FEED"})
    without_types = emu.seller.get(f"{FEEDS}/feeds")

    assert [f["feedId"] for f in listed.json()["feeds"]] == [second, first]
    assert without_types.status_code == 400


def test_included_data_in_the_header_adds_items_to_the_report(emu: Running) -> None:
    """header.report.includedData makes the report carry the listings as getListingsItem returns them."""
    document = feed_document(
        emu,
        [quantity_patch(1, "HB-BOTTLE-750-BLK", 6)],
        report={"includedData": ["fulfillmentAvailability"], "apiVersion": "2021-08-01"},
    )
    feed_id = submit(emu, document)
    emu.emulator.feeds.finish_now(feed_id)

    report = processing_report(emu, feed_id)

    assert report["items"] == [
        {
            "sku": "HB-BOTTLE-750-BLK",
            "fulfillmentAvailability": [{"fulfillmentChannelCode": "DEFAULT", "quantity": 6}],
        }
    ]
    assert report["summary"]["itemSummary"] == {"items": 1, "errors": 0, "warnings": 0}
