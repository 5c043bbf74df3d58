"""The listing notifications against Amazon's schemas: the schemas' own examples parse, and the sandbox's
builders (used by the unit and end-to-end tests) produce envelopes the schemas accept."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from sandbox.listing_notification_samples import (
    listing_issues_notification,
    listing_mfn_quantity_notification,
    listing_status_notification,
)
from shared.amazon.listing_notifications import (
    parse_issues_change,
    parse_mfn_quantity_change,
    parse_status_change,
)
from shared.amazon.notifications import NotificationEnvelope, check_versions, parse_envelope
from tests.spapi_emulator_support import Running, emulator_fixtures

SCHEMAS = "schemas/notifications"
AT = datetime(2026, 11, 28, 9, 30, 15, 250000, tzinfo=UTC)
# The status schema's enum spells the type with a D; its example, the subscription and the deliveries do not.
SCHEMA_TYPE = {"LISTINGS_ITEM_STATUS_CHANGE": "LISTINGS_ITEM_STATUS_CHANGED"}

emu_server, emu = emulator_fixtures()

PARSERS: dict[str, Callable[[NotificationEnvelope], Any]] = {
    "ListingsItemStatusChangeNotification.json": parse_status_change,
    "ListingsItemIssuesChangeNotification.json": parse_issues_change,
    "ListingsItemIssuesChangeNotification_2023-12-13.json": parse_issues_change,
    "ListingsItemMfnQuantityChange.json": parse_mfn_quantity_change,
}


def schema(models_dir: Path, name: str) -> dict[str, Any]:
    path = models_dir / SCHEMAS / name
    if not path.exists():
        pytest.skip(f"{path} is not in SPAPI_MODELS_DIR")
    return dict(json.loads(path.read_text(encoding="utf-8")))


def conforms(document: dict[str, Any], envelope: dict[str, Any]) -> list[str]:
    checked = {
        **envelope,
        "NotificationType": SCHEMA_TYPE.get(envelope["NotificationType"], envelope["NotificationType"]),
    }
    return [error.message for error in Draft7Validator(document).iter_errors(checked)]


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_the_schemas_examples_parse(spapi_models_dir: Path, name: str) -> None:
    """Every example Amazon publishes is read: envelope, versions, and the fields the handler uses."""
    examples = schema(spapi_models_dir, name)["examples"]
    assert examples
    for example in examples:
        envelope = parse_envelope(json.dumps(example))
        check_versions(envelope)
        event = PARSERS[name](envelope)
        assert event.sku == example["Payload"]["Sku"]
        assert event.seller_id == example["Payload"]["SellerId"]


def test_the_status_builder_conforms_to_its_schema(spapi_models_dir: Path) -> None:
    document = schema(spapi_models_dir, "ListingsItemStatusChangeNotification.json")
    for statuses in ((), ("BUYABLE", "DISCOVERABLE"), ("DELETED",)):
        envelope = listing_status_notification(
            "SKU-1", "ATVPDKIKX0DER", statuses, event_time=AT, asin="B0C7K4ZQ1M"
        )
        assert conforms(document, envelope) == []
        assert parse_status_change(parse_envelope(json.dumps(envelope))).statuses == frozenset(statuses)


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("ListingsItemIssuesChangeNotification.json", "1.0"),
        ("ListingsItemIssuesChangeNotification_2023-12-13.json", "2023-12-13"),
    ],
)
def test_the_issues_builder_conforms_to_both_payload_versions(
    spapi_models_dir: Path, name: str, version: str
) -> None:
    document = schema(spapi_models_dir, name)
    for severities in ((), ("ERROR", "WARNING")):
        envelope = listing_issues_notification(
            "SKU-1",
            "ATVPDKIKX0DER",
            severities,
            event_time=AT,
            payload_version=version,
            enforcement_actions=("SEARCH_SUPPRESSED",),
        )
        assert conforms(document, envelope) == []
        assert parse_issues_change(parse_envelope(json.dumps(envelope))).severities == frozenset(
            severities or ("NONE",)
        )


def test_the_mfn_quantity_builder_conforms_to_its_schema(spapi_models_dir: Path) -> None:
    document = schema(spapi_models_dir, "ListingsItemMfnQuantityChange.json")
    envelope = listing_mfn_quantity_notification("SKU-1", 12, event_time=AT)
    assert conforms(document, envelope) == []
    assert parse_mfn_quantity_change(parse_envelope(json.dumps(envelope))).quantity == 12


def test_the_emulators_notifications_about_its_listings_conform(spapi_models_dir: Path, emu: Running) -> None:
    """Status, issues and merchant quantity of a seeded listing, and DELETED once it is gone, as the emulator
    renders them: each passes its schema and the parser."""
    listings = emu.emulator.listings
    listings.seed_catalog(["ATVPDKIKX0DER"], quantity=6)
    sku = listings.skus[0]
    status = listings.status_notification(sku, "ATVPDKIKX0DER")
    issues = listings.issues_notification(sku, "ATVPDKIKX0DER")
    quantity = listings.mfn_quantity_notification(sku)
    listings.delete(sku)
    deleted = listings.status_notification(sku, "ATVPDKIKX0DER")
    for name, envelope in [
        ("ListingsItemStatusChangeNotification.json", status),
        ("ListingsItemIssuesChangeNotification_2023-12-13.json", issues),
        ("ListingsItemMfnQuantityChange.json", quantity),
        ("ListingsItemStatusChangeNotification.json", deleted),
    ]:
        assert conforms(schema(spapi_models_dir, name), envelope) == [], name
        PARSERS[name](parse_envelope(json.dumps(envelope)))
    assert status["Payload"]["Status"] == ["BUYABLE", "DISCOVERABLE"]
    assert quantity["Payload"]["Quantity"] == 6
    assert deleted["Payload"]["Status"] == ["DELETED"]
