"""The SP-API emulator and the sample builders, checked against Amazon's published models.

Reads (never copies) ``orders_2026-01-01.json``, ``OrderChangeNotification.json`` and ``rate_limits.json``
through the ``spapi_models_dir`` fixture; ``spapi_model_checks`` explains how responses are checked.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator

from sandbox.amazon_samples import (
    FACTORY_STATUSES,
    MARKETPLACES,
    FulfilledBy,
    FulfillmentStatus,
    OrderChangeType,
    OrderFactory,
    order_change_notification,
    pii_values,
)
from sandbox.http_emulator import Fault
from sandbox.spapi_emulator import (
    DEFAULT_RATE_LIMITS,
    FULFILLED_BY,
    FULFILLMENT_STATUSES,
    INCLUDED_DATA,
    LIBRARY_MARKETPLACE_PARAMETERS,
    SEARCH_PARAMETERS,
    SpApiEmulator,
)
from tests.contract.spapi_model_checks import conformance_problems, operation

pytestmark = pytest.mark.sockets

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
ORDERS = "/orders/2026-01-01/orders"
ORDERS_MODEL = "models/orders-api-model/orders_2026-01-01.json"
TLS = ssl.create_default_context()  # shared: building one per httpx client costs ~80 ms


# --- model access ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def orders_model(spapi_models_dir: Path) -> dict[str, Any]:
    model: dict[str, Any] = json.loads((spapi_models_dir / ORDERS_MODEL).read_text(encoding="utf-8"))
    return model


@pytest.fixture(scope="module")
def notification_schema(spapi_models_dir: Path) -> dict[str, Any]:
    path = spapi_models_dir / "schemas" / "notifications" / "OrderChangeNotification.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


# --- emulator fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[SpApiEmulator]:
    with SpApiEmulator(now=lambda: NOW) as emu:
        yield emu


@pytest.fixture
def api(emulator: SpApiEmulator) -> Iterator[httpx.Client]:
    emulator.reset()
    headers = {"x-amz-access-token": emulator.issue_access_token()}
    with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=5, verify=TLS) as client:
        yield client


def every_kind_of_order() -> list[dict[str, Any]]:
    """Each factory status x fulfilment channel x marketplace, plus business and promotion variants."""
    factory = OrderFactory(seed=2024, start=NOW - timedelta(days=5))
    by_options: tuple[FulfilledBy, ...] = ("MERCHANT", "AMAZON")
    orders = [
        factory.order(status=status, fulfilled_by=by, marketplace_id=marketplace)
        for status in FACTORY_STATUSES
        for by in by_options
        for marketplace in MARKETPLACES
    ]
    orders.append(factory.order(status="SHIPPED", fulfilled_by="MERCHANT", business=True, promotion=True))
    orders.append(factory.order(status="UNSHIPPED", fulfilled_by="MERCHANT").request_cancellation())
    return [order.to_api() for order in orders]


# --- the order factory --------------------------------------------------------------------------------


def test_factory_orders_conform_to_the_order_definition(orders_model: dict[str, Any]) -> None:
    """Every kind of factory order validates against Order, declares no extra field and uses documented values."""
    orders = every_kind_of_order()

    problems = {o["orderId"]: conformance_problems(orders_model, "Order", o) for o in orders}

    assert {order_id: found for order_id, found in problems.items() if found} == {}


def test_conformance_check_catches_each_kind_of_deviation(orders_model: dict[str, Any]) -> None:
    """The checker used above flags bad dates, wrong types, undeclared fields and undocumented values."""
    order = OrderFactory(seed=1).order(
        status="SHIPPED", fulfilled_by="MERCHANT", marketplace_id="ATVPDKIKX0DER"
    )
    broken = order.to_api()
    broken["createdTime"] = "2025-13-01T00:00:00Z"
    broken["isPrime"] = True
    broken["fulfillment"]["fulfilledBy"] = "MFN"
    broken["orderItems"][0]["quantityOrdered"] = "2"
    broken["orderItems"][0]["tax"]["taxCollections"][0]["model"] = "MarketplaceFacilitator"

    problems = conformance_problems(orders_model, "Order", broken)

    assert len(problems) == 5
    for fragment in ("createdTime", "/isPrime", "/fulfillment/fulfilledBy", "quantityOrdered", "/model"):
        assert any(fragment in problem for problem in problems), fragment


def test_factory_statuses_and_channels_are_in_the_model_enums(orders_model: dict[str, Any]) -> None:
    """The statuses the factory builds and the emulator filters by are the model's FulfillmentStatus enum."""
    enum = set(orders_model["definitions"]["FulfillmentStatus"]["enum"])

    assert set(FACTORY_STATUSES) <= enum
    assert enum == FULFILLMENT_STATUSES


# --- emulator responses -------------------------------------------------------------------------------


@pytest.mark.parametrize("included", ["", ",".join(INCLUDED_DATA)], ids=["no-datasets", "all-datasets"])
def test_get_order_responses_conform_to_get_order_response(
    orders_model: dict[str, Any], emulator: SpApiEmulator, api: httpx.Client, included: str
) -> None:
    """getOrder bodies for every kind of order match GetOrderResponse, with and without datasets."""
    orders = every_kind_of_order()
    emulator.put_orders(orders)
    params = {"includedData": included} if included else {}

    problems: dict[str, list[str]] = {}
    for order in orders:
        response = api.get(f"{ORDERS}/{order['orderId']}", params=params)
        assert response.status_code == 200
        problems[order["orderId"]] = conformance_problems(orders_model, "GetOrderResponse", response.json())

    assert {order_id: found for order_id, found in problems.items() if found} == {}


def test_search_orders_pages_conform_to_search_orders_response(
    orders_model: dict[str, Any], emulator: SpApiEmulator, api: httpx.Client
) -> None:
    """Every searchOrders page, the paginated ones included, matches SearchOrdersResponse."""
    emulator.put_orders(every_kind_of_order())
    params = {
        "createdAfter": "2025-05-01T00:00:00Z",
        "maxResultsPerPage": "7",
        "includedData": ",".join(INCLUDED_DATA),
    }

    pages = []
    while True:
        body = api.get(ORDERS, params=params).json()
        pages.append(body)
        if "pagination" not in body:
            break
        params = {**params, "paginationToken": body["pagination"]["nextToken"]}

    assert len(pages) > 1
    assert sum(len(p["orders"]) for p in pages) == len(emulator.orders)
    for body in pages:
        assert conformance_problems(orders_model, "SearchOrdersResponse", body) == []


def test_error_responses_conform_to_error_list(orders_model: dict[str, Any], emulator: SpApiEmulator) -> None:
    """400, 403, 404, 429, 500 and 503 bodies all match the model's ErrorList."""
    with SpApiEmulator(
        now=lambda: NOW, enforce_rate_limits=True, rate_limits={"getOrder": (0.5, 1)}
    ) as limited:
        token = {"x-amz-access-token": limited.issue_access_token()}
        with httpx.Client(base_url=limited.base_url, headers=token, timeout=5, verify=TLS) as api:
            responses = {
                "404": api.get(f"{ORDERS}/111-0000000-0000000"),
                "429": api.get(f"{ORDERS}/111-0000000-0000000"),
                "400": api.get(ORDERS, params={"lastUpdatedAfter": "not a date"}),
                "403": api.get(
                    ORDERS,
                    params={"lastUpdatedAfter": "2025-01-01T00:00:00Z"},
                    headers={"x-amz-access-token": ""},
                ),
            }
            limited.faults.script(Fault.SERVER_ERROR, Fault.UNAVAILABLE)
            responses["500"] = api.get(ORDERS)
            responses["503"] = api.get(ORDERS)

    assert {name: r.status_code for name, r in responses.items()} == {name: int(name) for name in responses}
    for response in responses.values():
        assert conformance_problems(orders_model, "ErrorList", response.json()) == []
        assert response.headers["x-amzn-RequestId"]


def test_documented_error_statuses_are_the_ones_the_emulator_uses(orders_model: dict[str, Any]) -> None:
    """The model lists 400, 403, 404, 429, 500 and 503 (all ErrorList) for both operations."""
    for operation_id in ("getOrder", "searchOrders"):
        responses = operation(orders_model, operation_id)["responses"]
        for status in ("400", "403", "404", "429", "500", "503"):
            assert responses[status]["schema"] == {"$ref": "#/definitions/ErrorList"}


# --- parameters and usage plans ------------------------------------------------------------------------------


def test_included_data_enum_matches_the_model(orders_model: dict[str, Any]) -> None:
    """The emulator's includedData values are exactly the model's enum, for getOrder and searchOrders."""
    for operation_id in ("getOrder", "searchOrders"):
        (param,) = [
            p for p in operation(orders_model, operation_id)["parameters"] if p["name"] == "includedData"
        ]
        assert list(INCLUDED_DATA) == param["items"]["enum"]


def test_search_parameters_match_the_model(orders_model: dict[str, Any]) -> None:
    """searchOrders accepts the model's query parameters (plus the library's marketplace extras) with its enums."""
    params = {
        p["name"]: p for p in operation(orders_model, "searchOrders")["parameters"] if p["in"] == "query"
    }

    assert set(params) == SEARCH_PARAMETERS
    assert not LIBRARY_MARKETPLACE_PARAMETERS & set(params)
    assert set(params["fulfillmentStatuses"]["items"]["enum"]) == FULFILLMENT_STATUSES
    assert set(params["fulfilledBy"]["items"]["enum"]) == FULFILLED_BY
    assert params["marketplaceIds"]["maxItems"] == 50


def test_rate_limits_match_the_published_usage_plans(
    spapi_models_dir: Path, orders_model: dict[str, Any]
) -> None:
    """Hard-coded rates and bursts equal rate_limits.json and the model's Usage Plan tables."""
    published = json.loads((spapi_models_dir / "rate_limits.json").read_text(encoding="utf-8"))
    plans = {
        entry["operationId"]: (entry["rate_per_second"], entry["burst"])
        for entry in published
        if entry["model"] == ORDERS_MODEL
    }

    assert plans == {operation: DEFAULT_RATE_LIMITS[operation] for operation in ("getOrder", "searchOrders")}
    for operation_id, (rate, burst) in plans.items():
        description = operation(orders_model, operation_id)["description"]
        assert re.search(rf"\|\s*{re.escape(str(rate))}\s*\|\s*{burst}\s*\|", description)


def test_success_headers_report_the_published_rate(emulator: SpApiEmulator, api: httpx.Client) -> None:
    """x-amzn-RateLimit-Limit on 200s carries each operation's published rate."""
    order = every_kind_of_order()[0]
    emulator.put_order(order)

    get_order = api.get(f"{ORDERS}/{order['orderId']}")
    search = api.get(ORDERS, params={"lastUpdatedAfter": "2025-05-01T00:00:00Z"})

    assert float(get_order.headers["x-amzn-RateLimit-Limit"]) == DEFAULT_RATE_LIMITS["getOrder"][0]
    assert float(search.headers["x-amzn-RateLimit-Limit"]) == DEFAULT_RATE_LIMITS["searchOrders"][0]


# --- ORDER_CHANGE notifications ---------------------------------------------------------------------------------


@pytest.mark.parametrize("change_type", ["OrderStatusChange", "BuyerRequestedChange", "DeliveryTipChange"])
def test_order_change_notifications_conform_to_the_schema(
    notification_schema: dict[str, Any], change_type: OrderChangeType
) -> None:
    """Envelopes for every kind of order validate against OrderChangeNotification.json."""
    validator = Draft7Validator(notification_schema)

    problems = {
        order["orderId"]: [
            e.message
            for e in validator.iter_errors(order_change_notification(order, order_change_type=change_type))
        ]
        for order in every_kind_of_order()
    }

    assert {order_id: found for order_id, found in problems.items() if found} == {}


def test_notification_reports_status_channel_and_skus_in_its_own_vocabulary() -> None:
    """Summary uses the notification's enums (PartiallyShipped, MFN) and lists each SKU with its quantities."""
    order = OrderFactory(seed=4).order(status="PARTIALLY_SHIPPED", fulfilled_by="MERCHANT", item_count=2)

    summary = order_change_notification(order)["Payload"]["OrderChangeNotification"]["Summary"]

    assert summary["OrderStatus"] == "PartiallyShipped"
    assert summary["FulfillmentType"] == "MFN"
    assert [i["SellerSKU"] for i in summary["OrderItems"]] == [i.product.seller_sku for i in order.items]
    assert [i["QuantityShipped"] for i in summary["OrderItems"]] == [i.quantity_shipped for i in order.items]
    assert {i["OrderItemStatus"] for i in summary["OrderItems"]} == {"Shipped", "Unshipped"}


@pytest.mark.parametrize("status", FACTORY_STATUSES)
def test_notification_maps_every_status(
    status: FulfillmentStatus, notification_schema: dict[str, Any]
) -> None:
    """Each v2026 fulfillment status maps onto a value of the notification's OrderStatus enum."""
    summary_schema = notification_schema["properties"]["Payload"]["properties"]["OrderChangeNotification"][
        "properties"
    ]["Summary"]["properties"]
    order = OrderFactory(seed=6).order(status=status)

    summary = order_change_notification(order)["Payload"]["OrderChangeNotification"]["Summary"]

    assert summary["OrderStatus"] in summary_schema["OrderStatus"]["enum"]
    assert summary["OrderStatus"].lower().replace("canceled", "cancelled") == status.replace("_", "").lower()


def test_notifications_carry_no_money_and_no_pii() -> None:
    """No notification contains an amount, a currency or any of the order's PII strings."""
    for order in every_kind_of_order():
        text = json.dumps(order_change_notification(order), ensure_ascii=False)
        assert '"amount"' not in text
        assert "currencyCode" not in text
        leaked = {value for value in pii_values(order) if value in text}
        assert leaked == set(), order["orderId"]


def test_notification_id_is_stable_for_the_same_change_and_overridable() -> None:
    """The same change yields the same NotificationId (an SQS redelivery); an explicit id is used verbatim."""
    order = OrderFactory(seed=9).order(status="UNSHIPPED")

    first = order_change_notification(order)["NotificationMetadata"]["NotificationId"]
    again = order_change_notification(order)["NotificationMetadata"]["NotificationId"]
    shipped = order_change_notification(order.ship())["NotificationMetadata"]["NotificationId"]
    chosen = order_change_notification(order, notification_id="n-1")["NotificationMetadata"]["NotificationId"]

    assert first == again
    assert shipped != first
    assert chosen == "n-1"
