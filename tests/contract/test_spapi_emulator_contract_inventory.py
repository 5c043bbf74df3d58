"""The emulator's FBA Inventory, Sellers and Orders v0 confirmShipment against ``fbaInventory.json``,
``sellers.json`` and ``ordersV0.json``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.amazon_samples import OrderFactory, iso
from tests.contract.spapi_model_checks import MODELS, conformance_problems, load_json, response_schema
from tests.spapi_emulator_support import NOW, Running, emulator_fixtures

US = "ATVPDKIKX0DER"
SUMMARIES = {"granularityType": "Marketplace", "granularityId": US, "marketplaceIds": US}


@pytest.fixture(scope="module")
def models(spapi_models_dir: Path) -> dict[str, dict[str, Any]]:
    return {
        name: load_json(spapi_models_dir, MODELS[name])
        for name in ("fbaInventory", "sellers", "ordersV0", "orders")
    }


emu_server, emu = emulator_fixtures()


def test_inventory_summaries_conform_with_and_without_details(
    models: dict[str, dict[str, Any]], emu: Running
) -> None:
    """getInventorySummaries pages (details true/false, with pagination) and its 400 match the model."""
    for index in range(55):
        emu.emulator.inventory.set_stock(
            f"SKU-{index:03d}", US, asin="B0C7K4ZQ1M", product_name="Bottle", fulfillable=index, researching=1
        )
    model = models["fbaInventory"]

    detailed = emu.seller.get("/fba/inventory/v1/summaries", params={**SUMMARIES, "details": "true"}).json()
    plain = emu.seller.get("/fba/inventory/v1/summaries", params=SUMMARIES).json()
    bad = emu.seller.get("/fba/inventory/v1/summaries", params={**SUMMARIES, "granularityType": "Country"})

    assert "pagination" in detailed
    for body in (detailed, plain, bad.json()):
        assert conformance_problems(model, "GetInventorySummariesResponse", body) == []


def test_marketplace_participations_conform(models: dict[str, dict[str, Any]], emu: Running) -> None:
    """getMarketplaceParticipations and its 403 match GetMarketplaceParticipationsResponse."""
    model = models["sellers"]

    ok = emu.seller.get("/sellers/v1/marketplaceParticipations")
    denied = emu.grantless.get("/sellers/v1/marketplaceParticipations")

    assert conformance_problems(model, "GetMarketplaceParticipationsResponse", ok.json()) == []
    assert conformance_problems(model, "GetMarketplaceParticipationsResponse", denied.json()) == []


def test_confirm_shipment_takes_the_models_request_and_answers_its_errors(
    models: dict[str, dict[str, Any]], emu: Running
) -> None:
    """A body valid for ConfirmShipmentRequest is accepted (204); 400 and 404 bodies match ConfirmShipmentErrorResponse."""
    model = models["ordersV0"]
    order = (
        OrderFactory(seed=20)
        .order(
            status="UNSHIPPED",
            fulfilled_by="MERCHANT",
            marketplace_id=US,
            created_time=NOW - timedelta(hours=5),
        )
        .to_api()
    )
    emu.emulator.put_order(order)
    package: dict[str, Any] = {
        "packageReferenceId": "1",
        "carrierCode": "FedEx",
        "carrierName": "FedEx",
        "shippingMethod": "FedEx Ground",
        "trackingNumber": "112345678",
        "shipDate": iso(NOW - timedelta(hours=1)),
        "orderItems": [
            {"orderItemId": i["orderItemId"], "quantity": i["quantityOrdered"]} for i in order["orderItems"]
        ],
    }
    body = {"marketplaceId": US, "packageDetail": package}
    path = f"/orders/v0/orders/{order['orderId']}/shipmentConfirmation"

    assert conformance_problems(model, "ConfirmShipmentRequest", body) == []
    accepted = emu.seller.post(path, json=body)
    again = emu.seller.post(path, json={**body, "packageDetail": {**package, "packageReferenceId": "2"}})
    unknown = emu.seller.post("/orders/v0/orders/111-0000000-0000000/shipmentConfirmation", json=body)

    assert accepted.status_code == 204
    assert (again.status_code, unknown.status_code) == (400, 404)
    for status, response in ((400, again), (404, unknown)):
        assert (
            conformance_problems(model, response_schema(model, "confirmShipment", status), response.json())
            == []
        )


def test_a_confirmed_order_still_conforms_to_the_v2026_order(
    models: dict[str, dict[str, Any]], emu: Running
) -> None:
    """After confirmShipment the stored order (new package, quantities, status) is still a valid v2026 Order."""
    order = (
        OrderFactory(seed=21)
        .order(status="UNSHIPPED", fulfilled_by="MERCHANT", marketplace_id=US, item_count=2)
        .to_api()
    )
    emu.emulator.put_order(order)
    item = order["orderItems"][0]
    emu.seller.post(
        f"/orders/v0/orders/{order['orderId']}/shipmentConfirmation",
        json={
            "marketplaceId": US,
            "packageDetail": {
                "packageReferenceId": "7",
                "carrierCode": "USPS",
                "trackingNumber": "9400100000000000000000",
                "shipDate": iso(NOW),
                "orderItems": [{"orderItemId": item["orderItemId"], "quantity": item["quantityOrdered"]}],
            },
        },
    )

    updated = emu.emulator.get_stored_order(order["orderId"])

    assert updated is not None
    assert updated["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    assert conformance_problems(models["orders"], "Order", updated) == []
