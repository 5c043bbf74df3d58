"""The emulator's Notifications API and the notification builders against ``notifications.json`` and the
notification schemas (REPORT_PROCESSING_FINISHED, FBA_INVENTORY_AVAILABILITY_CHANGES, every type's name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator

from sandbox.fba_stock import Stock
from sandbox.notification_samples import (
    fba_inventory_availability_notification,
    report_processing_finished_notification,
)
from sandbox.spapi_emulator.notifications import (
    AGGREGATION_PERIODS,
    EVENT_FILTERS,
    NOTIFICATION_TYPES,
    ORDER_CHANGE_TYPES,
)
from tests.contract.spapi_model_checks import MODELS, conformance_problems, load_json, response_schema
from tests.spapi_emulator_support import NOW, Running, emulator_fixtures

SCHEMAS = "schemas/notifications"
ARN = "arn:aws:sqs:eu-west-1:123456789012:amazon"
# The schema's enum spells the payload's type with a D; subscriptions use Amazon's type name without it.
SCHEMA_TYPE_ALIASES = {"LISTINGS_ITEM_STATUS_CHANGED": "LISTINGS_ITEM_STATUS_CHANGE"}


@pytest.fixture(scope="module")
def model(spapi_models_dir: Path) -> dict[str, Any]:
    return load_json(spapi_models_dir, MODELS["notifications"])


emu_server, emu = emulator_fixtures()


def schema_validator(models_dir: Path, name: str) -> Draft7Validator:
    return Draft7Validator(json.loads((models_dir / SCHEMAS / name).read_text(encoding="utf-8")))


def responses_of_every_operation(emu: Running) -> dict[str, tuple[int, httpx.Response]]:
    """operationId -> (expected status, response) for successes and the errors each operation documents."""
    grantless, seller = emu.grantless, emu.seller
    sqs = grantless.post(
        "/notifications/v1/destinations", json={"name": "q", "resourceSpecification": {"sqs": {"arn": ARN}}}
    )
    destination_id = sqs.json()["payload"]["destinationId"]
    bridge = grantless.post(
        "/notifications/v1/destinations",
        json={
            "name": "bus",
            "resourceSpecification": {"eventBridge": {"region": "us-east-1", "accountId": "123456789012"}},
        },
    )
    subscribed = seller.post(
        "/notifications/v1/subscriptions/ORDER_CHANGE",
        json={
            "payloadVersion": "1.0",
            "destinationId": destination_id,
            "processingDirective": {
                "eventFilter": {"eventFilterType": "ORDER_CHANGE", "marketplaceIds": ["ATVPDKIKX0DER"]}
            },
        },
    )
    subscription_id = subscribed.json()["payload"]["subscriptionId"]
    by_id = f"/notifications/v1/subscriptions/ORDER_CHANGE/{subscription_id}"
    return {
        "createDestination": (200, sqs),
        "createDestination(eventBridge)": (200, bridge),
        "createDestination(409)": (
            409,
            grantless.post(
                "/notifications/v1/destinations",
                json={"name": "q", "resourceSpecification": {"sqs": {"arn": ARN}}},
            ),
        ),
        "createDestination(400)": (400, grantless.post("/notifications/v1/destinations", json={"name": "q"})),
        "getDestinations": (200, grantless.get("/notifications/v1/destinations")),
        "getDestination": (200, grantless.get(f"/notifications/v1/destinations/{destination_id}")),
        "getDestination(404)": (404, grantless.get("/notifications/v1/destinations/nope")),
        "getDestinations(403)": (403, seller.get("/notifications/v1/destinations")),
        "createSubscription": (200, subscribed),
        "createSubscription(409)": (
            409,
            seller.post(
                "/notifications/v1/subscriptions/ORDER_CHANGE",
                json={"payloadVersion": "1.0", "destinationId": destination_id},
            ),
        ),
        "getSubscription": (200, seller.get("/notifications/v1/subscriptions/ORDER_CHANGE")),
        "getSubscription(404)": (404, seller.get("/notifications/v1/subscriptions/ANY_OFFER_CHANGED")),
        "getSubscriptions": (
            200,
            seller.get("/notifications/v1/subscriptions", params={"notificationTypes": "ORDER_CHANGE"}),
        ),
        "getSubscriptionById": (200, seller.get(by_id)),
        "deleteDestination(403)": (403, grantless.delete(f"/notifications/v1/destinations/{destination_id}")),
        "deleteSubscriptionById": (200, seller.delete(by_id)),
        "deleteSubscriptionById(404)": (404, seller.delete(by_id)),
        "deleteDestination": (200, grantless.delete(f"/notifications/v1/destinations/{destination_id}")),
    }


def test_every_response_conforms_to_the_definition_its_status_declares(
    model: dict[str, Any], emu: Running
) -> None:
    """Successes and errors of all nine operations match the model's response definition for that status."""
    problems = {}
    for name, (status, response) in responses_of_every_operation(emu).items():
        assert response.status_code == status, (name, response.text)
        definition = response_schema(model, name.split("(")[0], status)
        found = conformance_problems(model, definition, response.json())
        if found:
            problems[name] = found

    assert problems == {}


def test_event_filter_vocabulary_matches_the_model(model: dict[str, Any]) -> None:
    """eventFilterType values, orderChangeTypes, aggregation periods and filter keys are the model's."""
    definitions = model["definitions"]
    event_filter_types = definitions["EventFilter"]["allOf"][-1]["properties"]["eventFilterType"]["enum"]
    filter_keys = {"eventFilterType"} | {
        key
        for part in definitions["EventFilter"]["allOf"][:-1]
        for key in definitions[part["$ref"].split("/")[-1]]["properties"]
    }

    assert set(EVENT_FILTERS) == set(event_filter_types)
    assert set().union(*EVENT_FILTERS.values()) <= filter_keys
    assert list(ORDER_CHANGE_TYPES) == definitions["OrderChangeTypeEnum"]["enum"]
    assert list(AGGREGATION_PERIODS) == definitions["AggregationTimePeriod"]["enum"]


def test_every_notification_schema_names_a_type_and_version_subscriptions_accept(
    spapi_models_dir: Path,
) -> None:
    """Each schema's notification type can be subscribed to, with the payload version its example shows."""
    refused = {}
    for path in sorted((spapi_models_dir / SCHEMAS).glob("*.json")):
        properties = json.loads(path.read_text(encoding="utf-8")).get("properties", {})
        type_schema = properties.get("NotificationType") or properties.get("notificationType") or {}
        version_schema = properties.get("PayloadVersion") or properties.get("payloadVersion") or {}
        for name in type_schema.get("enum") or type_schema.get("examples") or []:
            name = SCHEMA_TYPE_ALIASES.get(name, name)
            versions = version_schema.get("examples") or []
            if name not in NOTIFICATION_TYPES or not set(versions) <= NOTIFICATION_TYPES[name]:
                refused[path.name] = (name, versions)

    assert refused == {}


@pytest.mark.parametrize("status", ["DONE", "CANCELLED", "FATAL"])
def test_report_processing_finished_builder_conforms_to_its_schema(
    spapi_models_dir: Path, status: str
) -> None:
    """The camelCase REPORT_PROCESSING_FINISHED envelope validates for every final status."""
    envelope = report_processing_finished_notification(
        report_id="54517018502",
        report_type="GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
        processing_status=status,  # type: ignore[arg-type]
        event_time=NOW,
        report_document_id="amzn1.spdoc.1.4.na.x" if status == "DONE" else None,
    )

    validator = schema_validator(spapi_models_dir, "ReportProcessingFinishedNotification.json")
    assert [e.message for e in validator.iter_errors(envelope)] == []
    assert "NotificationMetadata" not in envelope


def test_fba_inventory_builder_conforms_to_its_schema(spapi_models_dir: Path) -> None:
    """The FBA_INVENTORY_AVAILABILITY_CHANGES envelope validates, with one entry per marketplace."""
    stock = [
        Stock(
            "SKU-1",
            "ATVPDKIKX0DER",
            "B0",
            "X001",
            "Bottle",
            fulfillable=5,
            inbound_shipped=3,
            pending_customer_order=1,
        ),
        Stock("SKU-1", "A2EUQ1WTGCTBG2", "B0", "X001", "Bottle", fulfillable=2, unfulfillable=1),
    ]

    envelope = fba_inventory_availability_notification(stock, event_time=NOW)

    validator = schema_validator(spapi_models_dir, "FBAInventoryAvailabilityChangeNotification.json")
    assert [e.message for e in validator.iter_errors(envelope)] == []


def test_a_finished_report_delivers_a_schema_valid_notification(spapi_models_dir: Path, emu: Running) -> None:
    """The envelope the emulator delivers when a report finishes validates against the schema too."""
    destination_id = emu.grantless.post(
        "/notifications/v1/destinations", json={"name": "r", "resourceSpecification": {"sqs": {"arn": ARN}}}
    ).json()["payload"]["destinationId"]
    emu.seller.post(
        "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED",
        json={"payloadVersion": "2020-09-04", "destinationId": destination_id},
    )
    report_id = emu.seller.post(
        "/reports/2021-06-30/reports",
        json={
            "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
            "marketplaceIds": ["ATVPDKIKX0DER"],
        },
    ).json()["reportId"]

    emu.emulator.reports.finish_now(report_id)

    [delivery] = emu.emulator.notifications.outbox
    validator = schema_validator(spapi_models_dir, "ReportProcessingFinishedNotification.json")
    assert [e.message for e in validator.iter_errors(delivery.envelope)] == []
