"""The emulator's Listings Items and Feeds APIs against ``listingsItems_2021-08-01.json``, ``feeds_2021-06-30.json``
and the JSON listings feed schemas (``schemas/feeds/``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from sandbox.spapi_emulator.feeds import FORBIDDEN_FIELDS, OPERATION_TYPES, REQUIRED_FIELDS
from sandbox.spapi_emulator.listing_rules import PATCH_OPS
from sandbox.spapi_emulator.listing_store import GET_INCLUDED_DATA
from sandbox.spapi_emulator.listings import PATCH_INCLUDED_DATA
from tests.contract.spapi_model_checks import (
    MODELS,
    conformance_problems,
    load_json,
    query_parameters,
    response_schema,
)
from tests.spapi_emulator_support import Running, emulator_fixtures

US = "ATVPDKIKX0DER"
FEEDS = "/feeds/2021-06-30"


@pytest.fixture(scope="module")
def listings_model(spapi_models_dir: Path) -> dict[str, Any]:
    return load_json(spapi_models_dir, MODELS["listings"])


@pytest.fixture(scope="module")
def feeds_model(spapi_models_dir: Path) -> dict[str, Any]:
    return load_json(spapi_models_dir, MODELS["feeds"])


@pytest.fixture(scope="module")
def feed_schema(spapi_models_dir: Path) -> dict[str, Any]:
    return load_json(spapi_models_dir, "schemas/feeds/listings-feed-schema-v2.json")


def seed_listings(running: Running) -> None:
    """The catalog (MFN) plus one FBA listing."""
    running.emulator.listings.seed_catalog([US], quantity=10)
    running.emulator.listings.put(
        "FBA-BOTTLE", product_type="BOTTLE", marketplace_ids=[US], title="Bottle", asin="B0C7K4ZQ1M", quantity=0,
        fulfilled_by_amazon=True,
    )  # fmt: skip


emu_server, emu = emulator_fixtures(seed_listings)


def process_feed(emu: Running, content: bytes) -> str:
    """Upload `content`, create a JSON_LISTINGS_FEED from it and let it finish; the feedId."""
    document = emu.seller.post(f"{FEEDS}/documents", json={"contentType": "application/json"}).json()
    emu.http.put(document["url"], content=content, headers={"Content-Type": "application/json"})
    body = {
        "feedType": "JSON_LISTINGS_FEED",
        "marketplaceIds": [US],
        "inputFeedDocumentId": document["feedDocumentId"],
    }
    feed_id: str = emu.seller.post(f"{FEEDS}/feeds", json=body).json()["feedId"]
    emu.emulator.feeds.finish_now(feed_id)
    return feed_id


def item_path(emu: Running, sku: str) -> str:
    return f"/listings/2021-08-01/items/{emu.emulator.seller_id}/{sku}"


def test_get_listings_item_conforms_with_every_dataset(listings_model: dict[str, Any], emu: Running) -> None:
    """MFN, FBA and offer-only listings with all included datasets match Item."""
    emu.seller.patch(
        item_path(emu, "OFFER-ONLY"),
        params={"marketplaceIds": US},
        json={
            "productType": "PRODUCT",
            "patches": [
                {
                    "op": "add",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}],
                }
            ],
        },
    )
    params = {"marketplaceIds": US, "includedData": ",".join(GET_INCLUDED_DATA)}

    bodies = {
        sku: emu.seller.get(item_path(emu, sku), params=params).json()
        for sku in ("HB-BOTTLE-750-BLK", "FBA-BOTTLE", "OFFER-ONLY")
    }

    assert {sku: conformance_problems(listings_model, "Item", body) for sku, body in bodies.items()} == {
        sku: [] for sku in bodies
    }
    assert bodies["FBA-BOTTLE"]["summaries"][0]["fnSku"]


def test_patch_answers_conform_for_accepted_invalid_and_valid(
    listings_model: dict[str, Any], emu: Running
) -> None:
    """ACCEPTED, INVALID (with issues) and VALID (preview with identifiers) answers match ListingsItemSubmissionResponse."""

    def patch(quantity: int, **params: str) -> dict[str, Any]:
        body = {
            "productType": "BOTTLE",
            "patches": [
                {
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
                }
            ],
        }
        response: dict[str, Any] = emu.seller.patch(
            item_path(emu, "HB-BOTTLE-750-BLK"), params={"marketplaceIds": US, **params}, json=body
        ).json()
        return response

    answers = [patch(3), patch(-3), patch(4, mode="VALIDATION_PREVIEW", includedData="identifiers,issues")]

    assert [a["status"] for a in answers] == ["ACCEPTED", "INVALID", "VALID"]
    for answer in answers:
        assert conformance_problems(listings_model, "ListingsItemSubmissionResponse", answer) == []


def test_listing_errors_conform_to_error_list(listings_model: dict[str, Any], emu: Running) -> None:
    """404 (unknown SKU) and 400 (unreadable patch) bodies are the model's ErrorList."""
    missing = emu.seller.get(item_path(emu, "NOPE"), params={"marketplaceIds": US})
    unreadable = emu.seller.patch(
        item_path(emu, "HB-BOTTLE-750-BLK"), params={"marketplaceIds": US}, json={"patches": []}
    )

    assert (missing.status_code, unreadable.status_code) == (404, 400)
    assert conformance_problems(listings_model, "ErrorList", missing.json()) == []
    assert conformance_problems(listings_model, "ErrorList", unreadable.json()) == []


def test_listing_vocabularies_match_the_model(listings_model: dict[str, Any]) -> None:
    """includedData of get and patch and the JSON Patch ops are the model's enums."""
    assert (
        list(GET_INCLUDED_DATA)
        == query_parameters(listings_model, "getListingsItem")["includedData"]["items"]["enum"]
    )
    assert (
        list(PATCH_INCLUDED_DATA)
        == query_parameters(listings_model, "patchListingsItem")["includedData"]["items"]["enum"]
    )
    assert list(PATCH_OPS) == listings_model["definitions"]["PatchOperation"]["properties"]["op"]["enum"]


def test_feed_rules_are_the_schemas_rules(feed_schema: dict[str, Any]) -> None:
    """operationType values and the fields each one requires or forbids are the oneOf branches of the schema."""
    message = feed_schema["properties"]["messages"]["items"]
    branches = {
        branch["properties"]["operationType"]["const"]: (
            tuple(branch.get("required", [])),
            tuple(name for name, rule in branch["properties"].items() if rule is False),
        )
        for branch in message["oneOf"]
    }

    assert list(OPERATION_TYPES) == message["properties"]["operationType"]["enum"]
    assert branches == {op: (REQUIRED_FIELDS[op], FORBIDDEN_FIELDS[op]) for op in OPERATION_TYPES}


def test_amazons_example_feed_is_accepted_and_the_report_conforms(
    spapi_models_dir: Path, feed_schema: dict[str, Any], emu: Running
) -> None:
    """The schema's own example feed is processed; the processing report validates against the report schema."""
    example = load_json(spapi_models_dir, "schemas/feeds/listings-feed-schema-v2.example.json")
    example["header"]["sellerId"] = emu.emulator.seller_id
    assert list(Draft7Validator(feed_schema).iter_errors(example)) == []
    feed_id = process_feed(emu, json.dumps(example).encode())

    report = emu.emulator.feeds.report(feed_id)

    report_schema = load_json(
        spapi_models_dir, "schemas/feeds/listings-feed-processing-report-schema-v2.json"
    )
    assert [e.message for e in Draft7Validator(report_schema).iter_errors(report)] == []
    assert report is not None
    assert report["summary"]["messagesProcessed"] == len(example["messages"])


def test_a_fatal_feeds_report_conforms_too(spapi_models_dir: Path, emu: Running) -> None:
    """The report of a feed that could not be parsed validates against the processing report schema."""
    feed_id = process_feed(emu, b"not json")

    report_schema = load_json(
        spapi_models_dir, "schemas/feeds/listings-feed-processing-report-schema-v2.json"
    )
    assert [
        e.message for e in Draft7Validator(report_schema).iter_errors(emu.emulator.feeds.report(feed_id))
    ] == []


def test_feeds_api_answers_conform(feeds_model: dict[str, Any], emu: Running) -> None:
    """createFeedDocument (201), createFeed (202), getFeed, getFeeds, getFeedDocument and errors match the model."""
    document = emu.seller.post(f"{FEEDS}/documents", json={"contentType": "application/json"})
    emu.http.put(document.json()["url"], content=b"{}", headers={"Content-Type": "application/json"})
    created = emu.seller.post(
        f"{FEEDS}/feeds",
        json={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [US],
            "inputFeedDocumentId": document.json()["feedDocumentId"],
        },
    )
    feed_id = created.json()["feedId"]
    queued = emu.seller.get(f"{FEEDS}/feeds/{feed_id}")
    emu.emulator.feeds.finish_now(feed_id)
    done = emu.seller.get(f"{FEEDS}/feeds/{feed_id}")
    listed = emu.seller.get(f"{FEEDS}/feeds", params={"feedTypes": "JSON_LISTINGS_FEED"})
    result = emu.seller.get(f"{FEEDS}/documents/{done.json()['resultFeedDocumentId']}")
    missing = emu.seller.get(f"{FEEDS}/feeds/0")

    checks = {
        "createFeedDocument": (201, document),
        "createFeed": (202, created),
        "getFeed": (200, done),
        "getFeeds": (200, listed),
        "getFeedDocument": (200, result),
    }
    for operation_id, (status, response) in checks.items():
        assert response.status_code == status
        assert (
            conformance_problems(
                feeds_model, response_schema(feeds_model, operation_id, status), response.json()
            )
            == []
        )
    assert conformance_problems(feeds_model, "Feed", queued.json()) == []
    assert conformance_problems(feeds_model, "ErrorList", missing.json()) == []
