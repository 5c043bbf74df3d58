"""Orders API v0 confirmShipment in the SP-API emulator: what it accepts, refuses, and does to the order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from sandbox.amazon_samples import OrderFactory, iso
from tests.spapi_emulator_support import NOW, Running, emulator_fixtures, error_of

pytestmark = pytest.mark.sockets

US = "ATVPDKIKX0DER"


emu_server, emu = emulator_fixtures()


def stored_order(emu: Running, **options: Any) -> dict[str, Any]:
    options.setdefault("status", "UNSHIPPED")
    options.setdefault("fulfilled_by", "MERCHANT")
    options.setdefault("marketplace_id", US)
    options.setdefault("created_time", NOW - timedelta(hours=10))
    order = OrderFactory(seed=options.pop("seed", 11)).order(**options).to_api()
    emu.emulator.put_order(order)
    return order


def confirm(
    emu: Running, order: dict[str, Any], items: list[tuple[str, int]] | None = None, **detail: Any
) -> httpx.Response:
    lines = (
        items
        if items is not None
        else [(i["orderItemId"], i["quantityOrdered"]) for i in order["orderItems"]]
    )
    package = {
        "packageReferenceId": "1",
        "carrierCode": "UPS",
        "trackingNumber": "1Z999AA10123456784",
        "shipDate": iso(NOW - timedelta(hours=1)),
        "orderItems": [{"orderItemId": item_id, "quantity": quantity} for item_id, quantity in lines],
        **detail,
    }
    body = {"marketplaceId": order["salesChannel"]["marketplaceId"], "packageDetail": package}
    return emu.seller.post(f"/orders/v0/orders/{order['orderId']}/shipmentConfirmation", json=body)


def test_confirming_every_unit_answers_204_and_ships_the_order(emu: Running) -> None:
    """All units confirmed: 204 with no body, the v2026 order becomes SHIPPED with a package and a new lastUpdatedTime."""
    order = stored_order(emu, item_count=2)
    emu.clock.advance(minutes=5)

    response = confirm(emu, order)

    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["x-amzn-RateLimit-Limit"] == "2.0"
    updated = emu.emulator.get_stored_order(order["orderId"])
    assert updated is not None
    assert updated["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert {i["fulfillment"]["quantityUnfulfilled"] for i in updated["orderItems"]} == {0}
    assert updated["lastUpdatedTime"] == iso(NOW + timedelta(minutes=5))
    assert updated["packages"][-1]["trackingNumber"] == "1Z999AA10123456784"
    assert updated["packages"][-1]["packageItems"] == [
        {"orderItemId": i["orderItemId"], "quantity": i["quantityOrdered"]} for i in order["orderItems"]
    ]


def test_confirming_part_of_the_units_makes_the_order_partially_shipped(emu: Running) -> None:
    """One of two items confirmed: PARTIALLY_SHIPPED; the second package completes it."""
    order = stored_order(emu, item_count=2)
    first, second = order["orderItems"]

    partial = confirm(emu, order, [(first["orderItemId"], first["quantityOrdered"])])
    after_first = emu.emulator.get_stored_order(order["orderId"])
    rest = confirm(emu, order, [(second["orderItemId"], second["quantityOrdered"])], packageReferenceId="2")
    after_second = emu.emulator.get_stored_order(order["orderId"])

    assert (partial.status_code, rest.status_code) == (204, 204)
    assert after_first is not None
    assert after_first["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    assert after_second is not None
    assert after_second["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert len(after_second["packages"]) == 2


def test_confirming_the_same_units_twice_is_refused_and_logged(emu: Running) -> None:
    """The second confirmation of already shipped units is 400; the log shows one accepted call for the order."""
    order = stored_order(emu)

    first = confirm(emu, order)
    second = confirm(emu, order, packageReferenceId="2")

    assert first.status_code == 204
    assert second.status_code == 400
    shipments = emu.emulator.shipments
    assert [(a.order_id, a.status) for a in shipments.attempts] == [
        (order["orderId"], 204),
        (order["orderId"], 400),
    ]
    assert len(shipments.confirmations) == 1
    assert shipments.confirmed_quantities(order["orderId"]) == {
        i["orderItemId"]: i["quantityOrdered"] for i in order["orderItems"]
    }


def test_an_amazon_fulfilled_order_cannot_be_confirmed(emu: Running) -> None:
    """FBA (AFN) orders ship through Amazon: confirmShipment is 400 and the order is untouched."""
    order = stored_order(emu, fulfilled_by="AMAZON")

    response = confirm(emu, order)

    assert response.status_code == 400
    assert "fulfilled by Amazon" in error_of(response)["message"]
    assert emu.emulator.get_stored_order(order["orderId"]) == order


def test_quantities_above_what_is_left_to_ship_are_refused(emu: Running) -> None:
    """Confirming more units than remain unshipped is 400 and changes nothing."""
    order = stored_order(emu)
    item = order["orderItems"][0]

    response = confirm(emu, order, [(item["orderItemId"], item["quantityOrdered"] + 1)])

    assert response.status_code == 400
    assert "exceeds" in error_of(response)["message"]
    assert emu.emulator.get_stored_order(order["orderId"]) == order


def test_unknown_order_item_ids_are_refused(emu: Running) -> None:
    """An orderItemId the order does not have is 400."""
    order = stored_order(emu)

    response = confirm(emu, order, [("99999999999999", 1)])

    assert response.status_code == 400
    assert "99999999999999" in error_of(response)["message"]


@pytest.mark.parametrize("status", ["PENDING", "CANCELLED", "SHIPPED"])
def test_orders_with_nothing_to_ship_are_refused(emu: Running, status: str) -> None:
    """Pending, cancelled and shipped orders have no units left to ship: 400."""
    order = stored_order(emu, status=status, seed=12)

    assert confirm(emu, order).status_code == 400


def test_an_unknown_order_is_404(emu: Running) -> None:
    """confirmShipment for an order Amazon does not know is 404 NotFound."""
    order = stored_order(emu)
    emu.emulator.remove_order(order["orderId"])

    response = confirm(emu, order)

    assert response.status_code == 404
    assert error_of(response)["code"] == "NotFound"


@pytest.mark.parametrize(
    "detail",
    [
        {"packageReferenceId": "abc"},
        {"shipDate": "02/21/2022"},
        {"carrierCode": "Other"},
        {"trackingNumber": None},
        {"orderItems": []},
    ],
    ids=["non-numeric-reference", "not-iso-date", "other-without-name", "no-tracking", "no-items"],
)
def test_malformed_package_details_are_400(emu: Running, detail: dict[str, Any]) -> None:
    """A non-numeric packageReferenceId, a non-ISO shipDate, carrier Other without name, missing fields: 400."""
    order = stored_order(emu)
    items: list[tuple[str, int]] | None = [] if detail.get("orderItems") == [] else None
    detail = {k: v for k, v in detail.items() if k != "orderItems"}

    response = confirm(emu, order, items, **detail)

    assert response.status_code == 400
    assert emu.emulator.shipments.confirmations == []


def test_a_marketplace_other_than_the_orders_is_refused(emu: Running) -> None:
    """The body's marketplaceId must be the order's marketplace."""
    order = stored_order(emu)
    body = {
        "marketplaceId": "A1PA6795UKMFR9",
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": "UPS",
            "trackingNumber": "1Z",
            "shipDate": iso(NOW),
            "orderItems": [{"orderItemId": order["orderItems"][0]["orderItemId"], "quantity": 1}],
        },
    }

    response = emu.seller.post(f"/orders/v0/orders/{order['orderId']}/shipmentConfirmation", json=body)

    assert response.status_code == 400
