"""python-amazon-sp-api's Orders v0 confirm_shipment against the emulator over real sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sp_api.api import Orders
from sp_api.base.exceptions import SellingApiBadRequestException

from sandbox.amazon_samples import OrderFactory
from sandbox.spapi_emulator import SpApiEmulator
from tests.spapi_emulator_support import library, library_fixtures

pytestmark = pytest.mark.sockets

US = "ATVPDKIKX0DER"


server, emulator = library_fixtures()


def package(order: dict[str, Any], reference: str = "1") -> dict[str, Any]:
    return {
        "packageReferenceId": reference,
        "carrierCode": "UPS",
        "trackingNumber": "1Z999AA10123456784",
        "shipDate": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "orderItems": [
            {"orderItemId": i["orderItemId"], "quantity": i["quantityOrdered"]} for i in order["orderItems"]
        ],
    }


def test_the_library_confirms_a_shipment_and_the_order_becomes_shipped(emulator: SpApiEmulator) -> None:
    """confirm_shipment (v0) answers 204, which the library reports as status_code 204; v2026 shows SHIPPED."""
    order = (
        OrderFactory(seed=2, start=datetime.now(UTC) - timedelta(days=1))
        .order(status="UNSHIPPED", fulfilled_by="MERCHANT", marketplace_id=US)
        .to_api()
    )
    emulator.put_order(order)
    with library(Orders, emulator, version="v0") as client:
        answer = client.confirm_shipment(order["orderId"], marketplaceId=US, packageDetail=package(order))

    assert answer.payload == {"status_code": 204}
    stored = emulator.get_stored_order(order["orderId"])
    assert stored is not None
    assert stored["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert [c.order_id for c in emulator.shipments.confirmations] == [order["orderId"]]


def test_the_library_raises_when_an_fba_order_is_confirmed(emulator: SpApiEmulator) -> None:
    """Amazon fulfils AFN orders: the 400 reaches the library as SellingApiBadRequestException."""
    order = OrderFactory(seed=3).order(status="UNSHIPPED", fulfilled_by="AMAZON", marketplace_id=US).to_api()
    emulator.put_order(order)
    with library(Orders, emulator, version="v0") as client, pytest.raises(SellingApiBadRequestException):
        client.confirm_shipment(order["orderId"], marketplaceId=US, packageDetail=package(order))

    assert emulator.shipments.confirmations == []
