"""Behaviour of the SP-API / Login-with-Amazon emulator over real sockets (httpx and python-amazon-sp-api)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from http.client import HTTPConnection
from typing import Any

import httpx
import pytest
from sp_api.api import Orders
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base.exceptions import SellingApiForbiddenException, SellingApiRequestThrottledException

from sandbox.amazon_samples import (
    DE_MARKETPLACE_ID,
    UK_MARKETPLACE_ID,
    US_MARKETPLACE_ID,
    FulfilledBy,
    FulfillmentStatus,
    OrderFactory,
    iso,
    order_change_notification,
    pii_values,
)
from sandbox.http_emulator import Fault, FaultPlan
from sandbox.spapi_emulator import SpApiEmulator
from tests.spapi_emulator_support import NOW, TLS, FakeClock, library

pytestmark = pytest.mark.sockets

ORDERS = "/orders/2026-01-01/orders"
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = (
    "sandbox-client-id",
    "sandbox-client-secret",
    "sandbox-refresh-token",
)

# Where each includedData dataset lives: (order-level keys, item-level keys), after the v2026 model.
DATASETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "BUYER": (("buyer",), ()),
    "RECIPIENT": (("recipient",), ()),
    "PROCEEDS": (("proceeds",), ("proceeds",)),
    "EXPENSE": ((), ("expense",)),
    "PROMOTION": ((), ("promotion",)),
    "CANCELLATION": ((), ("cancellation",)),
    "FULFILLMENT": (("fulfillment",), ("fulfillment",)),
    "PACKAGES": (("packages",), ()),
    "TAX": (("tax",), ("tax",)),
    "PAYMENT": (("payment",), ()),
    "FULFILLMENT_ORDERS": (("fulfillmentOrders",), ()),
}
ALWAYS_PRESENT = {"orderId", "createdTime", "lastUpdatedTime", "salesChannel", "orderItems"}


@pytest.fixture(scope="module")
def module_clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def clock(module_clock: FakeClock) -> FakeClock:
    module_clock.moment = NOW
    return module_clock


@pytest.fixture(scope="module")
def shared_emulator(module_clock: FakeClock) -> Iterator[SpApiEmulator]:
    """One server for the module (stopping one costs ~50 ms); each test gets it reset."""
    with SpApiEmulator(now=module_clock) as emu:
        yield emu


@pytest.fixture
def emulator(shared_emulator: SpApiEmulator, clock: FakeClock) -> SpApiEmulator:
    shared_emulator.reset()
    return shared_emulator


@pytest.fixture
def http(emulator: SpApiEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url, timeout=5, verify=TLS) as client:
        yield client


@pytest.fixture
def api(emulator: SpApiEmulator, http: httpx.Client) -> Iterator[httpx.Client]:
    """An SP-API client holding an access token obtained through LWA."""
    token = lwa(http).json()["access_token"]
    with httpx.Client(
        base_url=emulator.base_url, timeout=5, verify=TLS, headers={"x-amz-access-token": token}
    ) as client:
        yield client


def lwa(http: httpx.Client, **overrides: str | None) -> httpx.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **overrides,
    }
    return http.post("/auth/o2/token", data={k: v for k, v in form.items() if v is not None})


def sample_order(seed: int = 3, **options: Any) -> dict[str, Any]:
    options.setdefault("created_time", NOW - timedelta(hours=6))
    options.setdefault("last_updated_time", NOW - timedelta(hours=1))
    return OrderFactory(seed=seed).order(**options).to_api()


def kitchen_sink_order() -> dict[str, Any]:
    """An order carrying every dataset, so filtering can be observed for each includedData value."""
    order = sample_order(
        status="SHIPPED",
        fulfilled_by="MERCHANT",
        marketplace_id=US_MARKETPLACE_ID,
        business=True,
        promotion=True,
    )
    order["payment"] = {
        "paymentExecutions": [{"paymentMethod": "Invoice", "paymentAmount": order["proceeds"]["grandTotal"]}]
    }
    order["tax"] = {"taxInvoicing": {"buyerInvoicePreference": "BUSINESS", "invoiceStatus": "NOT_REQUIRED"}}
    order["fulfillmentOrders"] = [{"fulfillmentOrderId": "LdDv2jxM4"}]
    item = order["orderItems"][0]
    item["expense"] = {"pointsCost": {"pointsGranted": {"pointsNumber": 12}}}
    item["cancellation"] = {
        "cancellationRequest": {"requester": "BUYER", "cancelReason": "Found cheaper somewhere else"}
    }
    return order


def search(api: httpx.Client, **params: Any) -> httpx.Response:
    return api.get(ORDERS, params=params)


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert list(body) == ["errors"]
    assert len(body["errors"]) == 1
    error: dict[str, str] = body["errors"][0]
    return error


# --- Login with Amazon ---------------------------------------------------------------------------------


def test_lwa_issues_a_bearer_token_for_a_valid_refresh_grant(
    emulator: SpApiEmulator, http: httpx.Client
) -> None:
    """A refresh_token grant with the right client returns an Atza| bearer token valid for 3600 s."""
    response = lwa(http)

    assert response.status_code == 200
    body = response.json()
    assert body["access_token"].startswith("Atza|")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token"] == REFRESH_TOKEN
    assert response.headers["x-amzn-RequestId"]
    assert emulator.tokens_issued == 1


def test_lwa_issues_a_distinct_token_per_call_and_counts_them(
    emulator: SpApiEmulator, http: httpx.Client
) -> None:
    """Every successful token call yields a new access token and bumps `tokens_issued`."""
    tokens = {lwa(http).json()["access_token"] for _ in range(3)}

    assert len(tokens) == 3
    assert emulator.tokens_issued == 3


@pytest.mark.parametrize("override", [{"client_id": "someone-else"}, {"client_secret": "wrong-secret"}])
def test_lwa_rejects_a_wrong_client_with_401_invalid_client(
    emulator: SpApiEmulator, http: httpx.Client, override: dict[str, str]
) -> None:
    """A wrong client id or secret is a 401 invalid_client and issues no token."""
    response = lwa(http, **override)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_description"]
    assert emulator.tokens_issued == 0


def test_lwa_rejects_an_unknown_refresh_token_with_400_invalid_grant(http: httpx.Client) -> None:
    """A refresh token the app was not given is a 400 invalid_grant."""
    response = lwa(http, refresh_token="Atzr|revoked")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"refresh_token": None}, "invalid_request"),
        ({"grant_type": None}, "invalid_request"),
        ({"client_secret": None}, "invalid_request"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
    ],
)
def test_lwa_rejects_malformed_requests_with_400(
    http: httpx.Client, override: dict[str, None], error: str
) -> None:
    """Missing form fields are 400 invalid_request; other grant types are 400 unsupported_grant_type."""
    response = lwa(http, **override)

    assert response.status_code == 400
    assert response.json()["error"] == error


def test_lwa_rejects_an_unparseable_body_with_400_invalid_request(http: httpx.Client) -> None:
    """A JSON body that is not an object cannot be a token request."""
    response = http.post("/auth/o2/token", content=b"[1, 2]", headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# --- access tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"x-amz-access-token": "Atza|made-up"}])
def test_sp_api_calls_without_an_issued_token_are_403(
    emulator: SpApiEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    """A missing or unknown x-amz-access-token is a 403 Unauthorized ErrorList, with a request id."""
    emulator.put_order(sample_order())

    response = http.get(ORDERS + "/" + emulator.orders[0]["orderId"], headers=headers)

    assert response.status_code == 403
    assert response.json() == {
        "errors": [
            {"code": "Unauthorized", "message": "Access to requested resource is denied.", "details": ""}
        ]
    }
    assert response.headers["x-amzn-RequestId"]
    assert "x-amzn-RateLimit-Limit" not in response.headers


def test_access_tokens_expire_after_an_hour(
    emulator: SpApiEmulator, api: httpx.Client, clock: FakeClock
) -> None:
    """A token works for 3600 s after issue and is refused afterwards."""
    order = sample_order()
    emulator.put_order(order)
    path = f"{ORDERS}/{order['orderId']}"

    clock.advance(seconds=3599)
    assert api.get(path).status_code == 200
    clock.advance(seconds=1)
    expired = api.get(path)

    assert expired.status_code == 403
    assert error_of(expired)["code"] == "Unauthorized"


def test_grantless_tokens_cannot_read_orders(emulator: SpApiEmulator, http: httpx.Client) -> None:
    """A client_credentials (grantless) token is issued but the Orders API refuses it."""
    response = http.post(
        "/auth/o2/token",
        data={
            "grant_type": "client_credentials",
            "scope": "sellingpartnerapi::notifications",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert response.status_code == 200
    emulator.put_order(sample_order())

    denied = http.get(
        f"{ORDERS}/{emulator.orders[0]['orderId']}",
        headers={"x-amz-access-token": response.json()["access_token"]},
    )

    assert denied.status_code == 403


# --- getOrder ----------------------------------------------------------------------------------------


def test_get_order_returns_the_order_with_items_and_rate_limit_header(
    emulator: SpApiEmulator, api: httpx.Client
) -> None:
    """getOrder answers {"order": ...} with items included and x-amzn-RateLimit-Limit 0.5."""
    order = sample_order()
    emulator.put_order(order)

    response = api.get(f"{ORDERS}/{order['orderId']}")

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["order"]
    assert body["order"]["orderId"] == order["orderId"]
    assert [i["orderItemId"] for i in body["order"]["orderItems"]] == [
        i["orderItemId"] for i in order["orderItems"]
    ]
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert response.headers["x-amzn-RequestId"]


def test_get_order_without_included_data_returns_no_optional_dataset(
    emulator: SpApiEmulator, api: httpx.Client
) -> None:
    """Without includedData only the core order and item fields come back."""
    order = kitchen_sink_order()
    emulator.put_order(order)

    returned = api.get(f"{ORDERS}/{order['orderId']}").json()["order"]

    assert set(returned) <= ALWAYS_PRESENT | {"orderAliases", "programs", "associatedOrders"}
    for item in returned["orderItems"]:
        assert set(item) <= {"orderItemId", "quantityOrdered", "product", "programs", "measurement"}
        assert item["product"]["sellerSku"]


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_included_data_returns_exactly_the_requested_dataset(
    emulator: SpApiEmulator, api: httpx.Client, dataset: str
) -> None:
    """Each includedData value adds its own order / item fields and no other dataset's."""
    order = kitchen_sink_order()
    emulator.put_order(order)

    returned = api.get(f"{ORDERS}/{order['orderId']}", params={"includedData": dataset}).json()["order"]

    order_keys, item_keys = DATASETS[dataset]
    first_item = returned["orderItems"][0]
    for key in order_keys:
        assert returned[key] == order[key]
    for key in item_keys:
        assert first_item[key] == order["orderItems"][0][key]
    for other, (other_order_keys, other_item_keys) in DATASETS.items():
        if other == dataset:
            continue
        assert not set(other_order_keys) - set(order_keys) & set(returned)
        for item in returned["orderItems"]:
            assert not set(other_item_keys) - set(item_keys) & set(item)


@pytest.mark.parametrize(
    "params",
    [
        (("includedData", "BUYER,RECIPIENT,FULFILLMENT"),),
        (("includedData", "BUYER"), ("includedData", "RECIPIENT"), ("includedData", "FULFILLMENT")),
    ],
    ids=["comma-separated", "repeated"],
)
def test_included_data_accepts_comma_separated_and_repeated_values(
    emulator: SpApiEmulator, api: httpx.Client, params: tuple[tuple[str, str], ...]
) -> None:
    """includedData works both as one comma-separated value and as a repeated parameter."""
    order = kitchen_sink_order()
    emulator.put_order(order)

    returned = api.get(f"{ORDERS}/{order['orderId']}", params=params).json()["order"]

    assert {"buyer", "recipient", "fulfillment"} <= set(returned)
    assert "proceeds" not in returned
    assert "fulfillment" in returned["orderItems"][0]
    assert "proceeds" not in returned["orderItems"][0]


@pytest.mark.parametrize("value", ["buyer", "ITEMS", "BUYER,ADDRESS"])
def test_get_order_rejects_included_data_outside_the_model_enum(
    emulator: SpApiEmulator, api: httpx.Client, value: str
) -> None:
    """includedData values must be spelled exactly as the model's enum (upper case), else 400 InvalidInput."""
    order = sample_order()
    emulator.put_order(order)

    response = api.get(f"{ORDERS}/{order['orderId']}", params={"includedData": value})

    assert response.status_code == 400
    assert error_of(response)["code"] == "InvalidInput"
    assert "includedData" in error_of(response)["message"]


def test_get_order_of_an_unknown_order_is_404_not_found(api: httpx.Client) -> None:
    """An order id the store does not hold is a 404 NotFound ErrorList with the rate-limit header."""
    response = api.get(f"{ORDERS}/111-0000000-0000000")

    assert response.status_code == 404
    assert error_of(response)["code"] == "NotFound"
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.5"


def test_get_order_percent_decodes_the_order_id(emulator: SpApiEmulator, api: httpx.Client) -> None:
    """The orderId path segment is percent-decoded before the lookup."""
    order = sample_order(order_id="113-1234567-7654321")
    emulator.put_order(order)
    host, port = emulator.base_url.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(
            "GET",
            f"{ORDERS}/113%2D1234567%2D7654321",
            headers={"x-amz-access-token": str(api.headers["x-amz-access-token"])},
        )
        response = connection.getresponse()
        status, body = response.status, response.read()
    finally:
        connection.close()

    assert status == 200
    assert b"113-1234567-7654321" in body


def test_stale_reads_serve_the_previous_version_once(emulator: SpApiEmulator, api: httpx.Client) -> None:
    """After stale_reads() the next getOrder returns the older version, and the one after the current one."""
    old = sample_order(
        status="UNSHIPPED", fulfilled_by="MERCHANT", last_updated_time=NOW - timedelta(hours=2)
    )
    current = OrderFactory(seed=3).order(
        status="UNSHIPPED",
        fulfilled_by="MERCHANT",
        created_time=NOW - timedelta(hours=6),
        last_updated_time=NOW - timedelta(hours=2),
    )
    current_api = current.ship(NOW - timedelta(minutes=30)).to_api()
    emulator.put_order(current_api)
    emulator.stale_reads(current_api["orderId"], old)
    path = f"{ORDERS}/{current_api['orderId']}"

    first = api.get(path, params={"includedData": "FULFILLMENT"}).json()["order"]
    second = api.get(path, params={"includedData": "FULFILLMENT"}).json()["order"]

    assert first["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    assert second["fulfillment"]["fulfillmentStatus"] == "SHIPPED"


def test_put_order_replaces_and_get_stored_order_returns_a_copy(emulator: SpApiEmulator) -> None:
    """put_order replaces by orderId; callers cannot change stored orders through returned copies."""
    order = sample_order()
    emulator.put_order(order)
    newer = {**order, "lastUpdatedTime": iso(NOW - timedelta(minutes=10))}
    emulator.put_order(newer)

    stored = emulator.get_stored_order(order["orderId"])
    assert stored is not None
    stored["lastUpdatedTime"] = "tampered"

    assert emulator.get_stored_order(order["orderId"]) == newer
    assert len(emulator.orders) == 1
    assert emulator.get_stored_order("999-9999999-9999999") is None


def test_reset_forgets_orders_tokens_counters_and_faults(emulator: SpApiEmulator, api: httpx.Client) -> None:
    """reset() empties the store, revokes issued tokens, zeroes the counters and drops scripted faults."""
    order = sample_order()
    emulator.put_order(order)
    emulator.faults.script(Fault.SERVER_ERROR, Fault.SERVER_ERROR)
    assert api.get(f"{ORDERS}/{order['orderId']}").status_code == 500

    emulator.reset()

    assert emulator.orders == []
    assert emulator.tokens_issued == 0
    assert emulator.requests.snapshot() == {}
    assert api.get(f"{ORDERS}/{order['orderId']}").status_code == 403


# --- searchOrders ------------------------------------------------------------------------------------

AFTER = iso(NOW - timedelta(days=1))


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "Exactly one of createdAfter and lastUpdatedAfter"),
        (
            {"createdAfter": AFTER, "lastUpdatedAfter": AFTER},
            "Exactly one of createdAfter and lastUpdatedAfter",
        ),
        (
            {"lastUpdatedAfter": AFTER, "createdBefore": iso(NOW - timedelta(hours=1))},
            "createdBefore can only",
        ),
        (
            {"createdAfter": AFTER, "lastUpdatedBefore": iso(NOW - timedelta(hours=1))},
            "lastUpdatedBefore can only",
        ),
        (
            {"createdAfter": AFTER, "createdBefore": iso(NOW - timedelta(days=2))},
            "createdBefore must be equal to or after createdAfter",
        ),
        (
            {"lastUpdatedAfter": AFTER, "lastUpdatedBefore": iso(NOW - timedelta(seconds=119))},
            "at least two minutes before",
        ),
        ({"lastUpdatedAfter": "yesterday"}, "lastUpdatedAfter must be an ISO 8601"),
        ({"createdAfter": AFTER, "marketplaceIds": ",".join(["ATVPDKIKX0DER"] * 51)}, "at most 50"),
        ({"createdAfter": AFTER, "maxResultsPerPage": "0"}, "maxResultsPerPage"),
        ({"createdAfter": AFTER, "maxResultsPerPage": "101"}, "maxResultsPerPage"),
        ({"createdAfter": AFTER, "maxResultsPerPage": "ten"}, "maxResultsPerPage"),
        ({"createdAfter": AFTER, "fulfillmentStatuses": "Shipped"}, "fulfillmentStatuses"),
        ({"createdAfter": AFTER, "fulfilledBy": "MFN"}, "fulfilledBy"),
        ({"createdAfter": AFTER, "includedData": "ITEMS"}, "includedData"),
        ({"createdAfter": AFTER, "OrderStatuses": "Shipped"}, "OrderStatuses"),
    ],
    ids=[
        "no-after",
        "both-afters",
        "createdBefore-with-lastUpdatedAfter",
        "lastUpdatedBefore-with-createdAfter",
        "before-earlier-than-after",
        "before-inside-data-lag",
        "malformed-date",
        "51-marketplaces",
        "page-size-0",
        "page-size-101",
        "page-size-not-a-number",
        "status-not-in-enum",
        "fulfilled-by-not-in-enum",
        "included-data-not-in-enum",
        "unknown-parameter",
    ],
)
def test_search_rejects_invalid_parameters_with_400_invalid_input(
    api: httpx.Client, params: dict[str, str], fragment: str
) -> None:
    """Each searchOrders rule violation is a 400 InvalidInput whose message names the problem."""
    response = search(api, **params)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "InvalidInput"
    assert fragment in error["message"]
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.0056"


def test_search_accepts_a_before_exactly_two_minutes_ago_equal_to_nothing_later(
    emulator: SpApiEmulator, api: httpx.Client
) -> None:
    """lastUpdatedBefore of exactly now - 2 min is allowed and echoed back unchanged."""
    before = iso(NOW - timedelta(minutes=2))

    response = search(api, lastUpdatedAfter=AFTER, lastUpdatedBefore=before)

    assert response.status_code == 200
    assert response.json() == {"orders": [], "lastUpdatedBefore": before}


def test_search_filters_by_marketplace_status_and_fulfilled_by(
    emulator: SpApiEmulator, api: httpx.Client
) -> None:
    """marketplaceIds, fulfillmentStatuses and fulfilledBy each narrow the result set."""
    factory = OrderFactory(seed=21)
    created = NOW - timedelta(hours=10)
    combos: list[tuple[str, FulfilledBy, FulfillmentStatus]] = [
        (US_MARKETPLACE_ID, "MERCHANT", "UNSHIPPED"),
        (US_MARKETPLACE_ID, "AMAZON", "SHIPPED"),
        (UK_MARKETPLACE_ID, "MERCHANT", "SHIPPED"),
        (DE_MARKETPLACE_ID, "AMAZON", "CANCELLED"),
        (DE_MARKETPLACE_ID, "MERCHANT", "PENDING"),
    ]
    ids = {}
    for index, (marketplace, by, status) in enumerate(combos):
        order = factory.order(
            marketplace_id=marketplace,
            fulfilled_by=by,
            status=status,
            created_time=created + timedelta(minutes=index),
            last_updated_time=created + timedelta(hours=1, minutes=index),
        ).to_api()
        emulator.put_order(order)
        ids[(marketplace, by, status)] = order["orderId"]

    def found(**params: str) -> set[str]:
        response = search(api, lastUpdatedAfter=AFTER, **params)
        assert response.status_code == 200
        return {o["orderId"] for o in response.json()["orders"]}

    assert found() == set(ids.values())
    assert found(marketplaceIds=f"{UK_MARKETPLACE_ID},{DE_MARKETPLACE_ID}") == {
        ids[k] for k in ids if k[0] != US_MARKETPLACE_ID
    }
    assert found(fulfillmentStatuses="SHIPPED") == {ids[k] for k in ids if k[2] == "SHIPPED"}
    assert found(fulfilledBy="AMAZON") == {ids[k] for k in ids if k[1] == "AMAZON"}
    assert found(marketplaceIds=US_MARKETPLACE_ID, fulfilledBy="MERCHANT") == {
        ids[(US_MARKETPLACE_ID, "MERCHANT", "UNSHIPPED")]
    }


def test_search_filters_datasets_like_get_order(emulator: SpApiEmulator, api: httpx.Client) -> None:
    """searchOrders returns items always and only the datasets named in includedData."""
    emulator.put_order(kitchen_sink_order())

    plain = search(api, lastUpdatedAfter=AFTER).json()["orders"][0]
    with_buyer = search(api, lastUpdatedAfter=AFTER, includedData="BUYER,PROCEEDS").json()["orders"][0]

    assert plain["orderItems"]
    assert not {"buyer", "recipient", "proceeds", "fulfillment", "packages"} & set(plain)
    assert {"buyer", "proceeds"} <= set(with_buyer)
    assert "recipient" not in with_buyer
    assert "proceeds" in with_buyer["orderItems"][0]
    assert "fulfillment" not in with_buyer["orderItems"][0]


def test_search_sorts_by_the_time_field_then_order_id(emulator: SpApiEmulator, api: httpx.Client) -> None:
    """Results come in ascending time order, ties broken by orderId, for createdAfter and lastUpdatedAfter."""
    factory = OrderFactory(seed=5)
    same_update = NOW - timedelta(hours=1)
    orders = [
        factory.order(
            created_time=NOW - timedelta(hours=h),
            last_updated_time=same_update if h < 5 else NOW - timedelta(hours=h),
        ).to_api()
        for h in (3, 8, 4, 6)
    ]
    emulator.put_orders(orders)

    by_update = [o["orderId"] for o in search(api, lastUpdatedAfter=AFTER).json()["orders"]]
    by_creation = [o["orderId"] for o in search(api, createdAfter=AFTER).json()["orders"]]

    assert by_update == [
        o["orderId"] for o in sorted(orders, key=lambda o: (o["lastUpdatedTime"], o["orderId"]))
    ]
    assert by_creation == [o["orderId"] for o in sorted(orders, key=lambda o: o["createdTime"])]


@pytest.fixture
def many_orders(emulator: SpApiEmulator) -> list[dict[str, Any]]:
    """250 US orders updated a minute apart, the newest 10 minutes ago."""
    factory = OrderFactory(seed=99)
    start = NOW - timedelta(hours=6)
    orders = [
        factory.order(
            status="UNSHIPPED",
            marketplace_id=US_MARKETPLACE_ID,
            created_time=start + timedelta(minutes=i),
            last_updated_time=start + timedelta(minutes=i, seconds=30),
        ).to_api()
        for i in range(250)
    ]
    emulator.put_orders(orders)
    return orders


def test_search_paginates_250_orders_in_pages_of_100(
    many_orders: list[dict[str, Any]], api: httpx.Client
) -> None:
    """250 matches come as 100 + 100 + 50, with a nextToken on every page but the last."""
    pages = []
    params: dict[str, str] = {"lastUpdatedAfter": AFTER}
    while True:
        body = search(api, **params).json()
        pages.append(body)
        token = body.get("pagination", {}).get("nextToken")
        if token is None:
            break
        params = {"lastUpdatedAfter": AFTER, "paginationToken": token}

    assert [len(p["orders"]) for p in pages] == [100, 100, 50]
    assert "pagination" not in pages[-1]
    seen = [o["orderId"] for p in pages for o in p["orders"]]
    assert seen == [o["orderId"] for o in many_orders]
    assert {p["lastUpdatedBefore"] for p in pages} == {iso(NOW - timedelta(minutes=2))}


def test_pagination_token_allows_a_new_page_size_and_included_data(
    many_orders: list[dict[str, Any]], api: httpx.Client
) -> None:
    """With the same filters, a follow-up page may change maxResultsPerPage and includedData."""
    first = search(api, lastUpdatedAfter=AFTER, maxResultsPerPage=10).json()

    second = search(
        api,
        lastUpdatedAfter=AFTER,
        paginationToken=first["pagination"]["nextToken"],
        maxResultsPerPage=25,
        includedData="BUYER",
    )

    assert second.status_code == 200
    orders = second.json()["orders"]
    assert [o["orderId"] for o in orders] == [o["orderId"] for o in many_orders[10:35]]
    assert all("buyer" in o for o in orders)


def test_pagination_token_can_be_replayed_after_a_lost_response(
    many_orders: list[dict[str, Any]], api: httpx.Client
) -> None:
    """Asking for the same page twice (a retry) returns the same orders."""
    token = search(api, lastUpdatedAfter=AFTER).json()["pagination"]["nextToken"]

    first = search(api, lastUpdatedAfter=AFTER, paginationToken=token).json()["orders"]
    again = search(api, lastUpdatedAfter=AFTER, paginationToken=token).json()["orders"]

    assert [o["orderId"] for o in first] == [o["orderId"] for o in again]


@pytest.mark.parametrize(
    "changed",
    [
        {"lastUpdatedAfter": iso(NOW - timedelta(days=2))},
        {"lastUpdatedAfter": AFTER, "marketplaceIds": UK_MARKETPLACE_ID},
        {"lastUpdatedAfter": AFTER, "fulfillmentStatuses": "SHIPPED"},
        {"createdAfter": AFTER},
    ],
    ids=["other-after", "added-marketplace", "added-status", "other-time-field"],
)
def test_pagination_token_with_changed_filters_is_rejected(
    many_orders: list[dict[str, Any]], api: httpx.Client, changed: dict[str, str]
) -> None:
    """A paginationToken presented with different filters is a 400 InvalidInput."""
    token = search(api, lastUpdatedAfter=AFTER).json()["pagination"]["nextToken"]

    response = search(api, paginationToken=token, **changed)

    assert response.status_code == 400
    assert "paginationToken" in error_of(response)["message"]


def test_unknown_pagination_token_is_rejected(api: httpx.Client) -> None:
    """A token the emulator never issued is a 400 InvalidInput."""
    response = search(api, lastUpdatedAfter=AFTER, paginationToken="2YgYW55IGNhcm5hbCBwbGVhc3VyZS4")

    assert response.status_code == 400
    assert "paginationToken" in error_of(response)["message"]


def test_pagination_token_expires_after_24_hours(
    many_orders: list[dict[str, Any]], api: httpx.Client, emulator: SpApiEmulator, clock: FakeClock
) -> None:
    """A nextToken still works just under 24 h later and is refused once 24 h have passed."""
    token = search(api, lastUpdatedAfter=AFTER).json()["pagination"]["nextToken"]

    clock.advance(hours=23, minutes=59)
    fresh = {"x-amz-access-token": emulator.issue_access_token()}  # the first token is long expired
    assert (
        api.get(
            ORDERS, params={"lastUpdatedAfter": AFTER, "paginationToken": token}, headers=fresh
        ).status_code
        == 200
    )
    clock.advance(minutes=1, seconds=1)
    fresh = {"x-amz-access-token": emulator.issue_access_token()}
    expired = api.get(ORDERS, params={"lastUpdatedAfter": AFTER, "paginationToken": token}, headers=fresh)

    assert expired.status_code == 400
    assert "expired" in error_of(expired)["message"]


def test_search_hides_updates_of_the_last_two_minutes(
    emulator: SpApiEmulator, api: httpx.Client, clock: FakeClock
) -> None:
    """An order updated 1 minute ago stays invisible for 2 minutes; the echo tells where search stopped."""
    factory = OrderFactory(seed=8)
    settled = factory.order(
        created_time=NOW - timedelta(hours=1), last_updated_time=NOW - timedelta(minutes=3)
    )
    recent = factory.order(
        created_time=NOW - timedelta(hours=1), last_updated_time=NOW - timedelta(minutes=1)
    )
    emulator.put_orders([settled.to_api(), recent.to_api()])

    now_body = search(api, lastUpdatedAfter=AFTER).json()
    clock.advance(minutes=2)
    later_body = search(api, lastUpdatedAfter=AFTER).json()

    assert [o["orderId"] for o in now_body["orders"]] == [settled.order_id]
    assert now_body["lastUpdatedBefore"] == iso(NOW - timedelta(minutes=2))
    assert [o["orderId"] for o in later_body["orders"]] == [settled.order_id, recent.order_id]


def test_created_after_search_echoes_created_before(emulator: SpApiEmulator, api: httpx.Client) -> None:
    """A createdAfter search echoes the effective createdBefore (now - 2 min) instead of lastUpdatedBefore."""
    order = sample_order()
    emulator.put_order(order)

    body = search(api, createdAfter=AFTER).json()

    assert body["createdBefore"] == iso(NOW - timedelta(minutes=2))
    assert "lastUpdatedBefore" not in body
    assert [o["orderId"] for o in body["orders"]] == [order["orderId"]]


def test_search_tolerates_the_marketplace_parameters_python_amazon_sp_api_adds(
    emulator: SpApiEmulator, api: httpx.Client
) -> None:
    """MarketplaceId, MarketplaceIds and marketplace_ids are ignored rather than rejected."""
    emulator.put_order(sample_order(marketplace_id=US_MARKETPLACE_ID))

    response = search(
        api,
        lastUpdatedAfter=AFTER,
        MarketplaceId=UK_MARKETPLACE_ID,
        MarketplaceIds=UK_MARKETPLACE_ID,
        marketplace_ids=UK_MARKETPLACE_ID,
    )

    assert response.status_code == 200
    assert len(response.json()["orders"]) == 1


# --- rate limits ---------------------------------------------------------------------------------------


def rate_limited(clock: FakeClock, **options: Any) -> SpApiEmulator:
    return SpApiEmulator(now=clock, enforce_rate_limits=True, **options).start()


def test_get_order_allows_a_burst_of_30_then_answers_429(clock: FakeClock) -> None:
    """Enforced, getOrder serves a burst of 30, then 429 QuotaExceeded until tokens refill at 0.5/s."""
    emulator = rate_limited(clock)
    try:
        order = sample_order()
        emulator.put_order(order)
        headers = {"x-amz-access-token": emulator.issue_access_token()}
        with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=5, verify=TLS) as api:
            path = f"{ORDERS}/{order['orderId']}"
            statuses = [api.get(path).status_code for _ in range(30)]
            throttled = api.get(path)
            clock.advance(seconds=2)
            refilled = api.get(path)
            again = api.get(path)
    finally:
        emulator.stop()

    assert statuses == [200] * 30
    assert throttled.status_code == 429
    assert throttled.json() == {
        "errors": [
            {
                "code": "QuotaExceeded",
                "message": "You exceeded your quota for the requested resource.",
                "details": "",
            }
        ]
    }
    assert throttled.headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert refilled.status_code == 200
    assert again.status_code == 429


def test_search_orders_allows_a_burst_of_20(clock: FakeClock) -> None:
    """searchOrders has its own bucket: 20 calls pass, the 21st is throttled, getOrder is unaffected."""
    emulator = rate_limited(clock)
    try:
        order = sample_order()
        emulator.put_order(order)
        headers = {"x-amz-access-token": emulator.issue_access_token()}
        with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=5, verify=TLS) as api:
            statuses = [search(api, lastUpdatedAfter=AFTER).status_code for _ in range(21)]
            get_order = api.get(f"{ORDERS}/{order['orderId']}")
            last = search(api, lastUpdatedAfter=AFTER)
    finally:
        emulator.stop()

    assert statuses == [200] * 20 + [429]
    assert last.headers["x-amzn-RateLimit-Limit"] == "0.0056"
    assert get_order.status_code == 200


def test_rate_limit_override_models_a_higher_usage_plan(clock: FakeClock) -> None:
    """rate_limits={"getOrder": (5, 2)} gives a burst of 2, refills at 5/s and reports 5.0 in the header."""
    emulator = rate_limited(clock, rate_limits={"getOrder": (5.0, 2)})
    try:
        order = sample_order()
        emulator.put_order(order)
        headers = {"x-amz-access-token": emulator.issue_access_token()}
        with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=5, verify=TLS) as api:
            path = f"{ORDERS}/{order['orderId']}"
            first = [api.get(path) for _ in range(3)]
            clock.advance(seconds=0.2)
            after_refill = api.get(path)
    finally:
        emulator.stop()

    assert [r.status_code for r in first] == [200, 200, 429]
    assert first[0].headers["x-amzn-RateLimit-Limit"] == "5.0"
    assert first[2].headers["x-amzn-RateLimit-Limit"] == "5.0"
    assert after_refill.status_code == 200


def test_rate_limits_are_not_enforced_by_default(emulator: SpApiEmulator, api: httpx.Client) -> None:
    """Without enforce_rate_limits, 40 getOrder calls in a row all succeed."""
    order = sample_order()
    emulator.put_order(order)

    statuses = {api.get(f"{ORDERS}/{order['orderId']}").status_code for _ in range(40)}

    assert statuses == {200}


# --- faults -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (Fault.THROTTLE, 429, "QuotaExceeded"),
        (Fault.SERVER_ERROR, 500, "InternalFailure"),
        (Fault.UNAVAILABLE, 503, "ServiceUnavailable"),
    ],
)
def test_error_faults_answer_with_sp_api_error_lists(
    emulator: SpApiEmulator, api: httpx.Client, fault: Fault, status: int, code: str
) -> None:
    """Scripted THROTTLE / SERVER_ERROR / UNAVAILABLE faults give SP-API ErrorLists, then service resumes."""
    order = sample_order()
    emulator.put_order(order)
    emulator.faults.script(fault)

    faulted = api.get(f"{ORDERS}/{order['orderId']}")
    recovered = api.get(f"{ORDERS}/{order['orderId']}")

    assert faulted.status_code == status
    assert error_of(faulted)["code"] == code
    assert faulted.headers["x-amzn-RequestId"]
    if fault is Fault.THROTTLE:
        assert faulted.headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert recovered.status_code == 200


def test_slow_fault_delays_the_answer(emulator: SpApiEmulator, api: httpx.Client) -> None:
    """A SLOW fault still answers normally, after FaultPlan.slow_seconds."""
    order = sample_order()
    emulator.put_order(order)
    emulator.faults.slow_seconds = 0.3
    emulator.faults.script(Fault.SLOW)

    started = time.monotonic()
    response = api.get(f"{ORDERS}/{order['orderId']}")
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed >= 0.3


def test_drop_fault_closes_the_connection_without_an_answer(
    emulator: SpApiEmulator, api: httpx.Client
) -> None:
    """A DROP fault closes the socket: the client sees a transport error, not an HTTP status."""
    emulator.faults.script(Fault.DROP)

    with pytest.raises(httpx.TransportError):
        search(api, lastUpdatedAfter=AFTER)
    assert emulator.requests.faults() == {"drop": 1}


def test_lost_response_fault_carries_the_request_out(emulator: SpApiEmulator, http: httpx.Client) -> None:
    """With LOST_RESPONSE on LWA the token is issued although the caller never receives it."""
    emulator.faults = FaultPlan(operations=frozenset({"lwa.token"}))
    emulator.faults.script(Fault.LOST_RESPONSE)

    with pytest.raises(httpx.TransportError):
        lwa(http)

    assert emulator.tokens_issued == 1
    assert lwa(http).status_code == 200


def test_faults_reach_lwa_only_when_its_operation_is_targeted(
    emulator: SpApiEmulator, http: httpx.Client
) -> None:
    """A FaultPlan limited to getOrder leaves LWA alone; one that names lwa.token throttles it OAuth-style."""
    order = sample_order()
    emulator.put_order(order)
    emulator.faults = FaultPlan(operations=frozenset({"getOrder"}))
    emulator.faults.script(Fault.THROTTLE)

    token = lwa(http)
    throttled_get = http.get(
        f"{ORDERS}/{order['orderId']}", headers={"x-amz-access-token": token.json()["access_token"]}
    )
    emulator.faults = FaultPlan(operations=frozenset({"lwa.token"}))
    emulator.faults.script(Fault.UNAVAILABLE)
    unavailable_lwa = lwa(http)

    assert token.status_code == 200
    assert throttled_get.status_code == 429
    assert unavailable_lwa.status_code == 503
    assert unavailable_lwa.json()["error"] == "temporarily_unavailable"


def test_request_counters_use_the_operation_names(emulator: SpApiEmulator, api: httpx.Client) -> None:
    """Requests are counted as lwa.token, getOrder, searchOrders and unknown."""
    order = sample_order()
    emulator.put_order(order)

    api.get(f"{ORDERS}/{order['orderId']}")
    api.get(f"{ORDERS}/{order['orderId']}")
    search(api, lastUpdatedAfter=AFTER)
    unknown = api.get("/orders/v0/orders")

    assert unknown.status_code == 404
    assert emulator.requests.snapshot() == {"lwa.token": 1, "getOrder": 2, "searchOrders": 1, "unknown": 1}


# --- the real python-amazon-sp-api client ----------------------------------------------------------------


@pytest.fixture
def sp_client(emulator: SpApiEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)
    with library(Orders, emulator, version="2026-01-01") as client:
        yield client


def test_python_amazon_sp_api_client_gets_and_searches_orders(
    emulator: SpApiEmulator, sp_client: Any
) -> None:
    """The unmodified library logs in via LWA, reads an order with includedData and pages through a search."""
    factory = OrderFactory(seed=31)
    orders = [
        factory.order(
            marketplace_id=US_MARKETPLACE_ID,
            created_time=NOW - timedelta(hours=5, minutes=i),
            last_updated_time=NOW - timedelta(hours=1, minutes=i),
        ).to_api()
        for i in range(3)
    ]
    emulator.put_orders(orders)

    got = sp_client.get_order(orders[0]["orderId"], includedData=["BUYER", "RECIPIENT"])
    page1 = sp_client.search_orders(lastUpdatedAfter=AFTER, maxResultsPerPage=2, includedData=["FULFILLMENT"])
    page2 = sp_client.search_orders(
        lastUpdatedAfter=AFTER, paginationToken=page1.next_token, maxResultsPerPage=2
    )

    assert got.payload["order"]["buyer"] == orders[0]["buyer"]
    assert "proceeds" not in got.payload["order"]
    assert got.rate_limit == "0.5"
    assert len(page1.payload["orders"]) == 2
    assert page1.next_token
    assert all("fulfillment" in o for o in page1.payload["orders"])
    assert page2.next_token is None
    seen = [o["orderId"] for o in page1.payload["orders"] + page2.payload["orders"]]
    assert sorted(seen) == sorted(o["orderId"] for o in orders)
    assert emulator.requests.snapshot() == {"lwa.token": 1, "getOrder": 1, "searchOrders": 2}


def test_python_amazon_sp_api_client_raises_on_throttling(emulator: SpApiEmulator, sp_client: Any) -> None:
    """A 429 reaches the library as SellingApiRequestThrottledException carrying the rate-limit header."""
    order = sample_order()
    emulator.put_order(order)
    emulator.faults = FaultPlan(operations=frozenset({"getOrder"}))  # LWA must still succeed
    emulator.faults.script(Fault.THROTTLE)

    with pytest.raises(SellingApiRequestThrottledException) as raised:
        sp_client.get_order(order["orderId"])

    assert raised.value.amzn_code == "QuotaExceeded"
    assert raised.value.headers["x-amzn-RateLimit-Limit"] == "0.5"


def test_python_amazon_sp_api_client_sees_expired_tokens_as_forbidden(
    emulator: SpApiEmulator, sp_client: Any
) -> None:
    """When the emulator expires tokens early, the library's cached token earns a 403."""
    order = sample_order()
    emulator.put_order(order)
    sp_client.get_order(order["orderId"])
    emulator.expire_access_tokens()

    with pytest.raises(SellingApiForbiddenException) as raised:
        sp_client.get_order(order["orderId"])

    assert raised.value.amzn_code == "Unauthorized"


def test_python_amazon_sp_api_client_reports_bad_credentials(
    emulator: SpApiEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wrong LWA credentials surface as the library's AuthorizationError with the OAuth error code."""
    monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)
    with (
        library(Orders, emulator, version="2026-01-01", client_secret="not-the-secret") as client,
        pytest.raises(AuthorizationError) as raised,
    ):
        client.get_order("111-0000000-0000000")

    assert raised.value.error_code == "invalid_client"
    assert raised.value.status_code == 401


# --- logging ------------------------------------------------------------------------------------------


def test_emulator_logs_neither_tokens_nor_pii(
    emulator: SpApiEmulator, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A login plus a PII-bearing getOrder leaves no token or buyer data in any log record."""
    caplog.set_level(logging.DEBUG)
    sample = OrderFactory(seed=12).order(
        status="UNSHIPPED", fulfilled_by="MERCHANT", created_time=NOW - timedelta(hours=3)
    )
    emulator.put_order(sample.to_api())

    token = lwa(http).json()["access_token"]
    body = http.get(
        f"{ORDERS}/{sample.order_id}",
        params={"includedData": "BUYER,RECIPIENT"},
        headers={"x-amz-access-token": token},
    ).text

    secrets = {token, REFRESH_TOKEN, CLIENT_SECRET, *pii_values(sample)}
    assert sample.buyer.name in body  # the data did travel
    assert [r.getMessage() for r in caplog.records if any(s in r.getMessage() for s in secrets)] == []


# --- the sample builders ----------------------------------------------------------------------------------

ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")
UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def test_factory_is_deterministic_for_a_seed() -> None:
    """The same seed and calls give identical orders; another seed gives different ones."""
    first = [o.to_api() for o in OrderFactory(seed=42).orders(5)]
    again = [o.to_api() for o in OrderFactory(seed=42).orders(5)]
    other = [o.to_api() for o in OrderFactory(seed=43).orders(5)]

    assert first == again
    assert first != other


def test_factory_orders_have_amazon_shaped_ids_times_and_marketplaces() -> None:
    """Order ids are 3-7-7 digits, times ISO-8601 UTC, marketplaces US/UK/DE with their currencies."""
    currencies = {US_MARKETPLACE_ID: "USD", UK_MARKETPLACE_ID: "GBP", DE_MARKETPLACE_ID: "EUR"}
    orders = [o.to_api() for o in OrderFactory(seed=1).orders(40, status="SHIPPED")]

    assert len({o["orderId"] for o in orders}) == 40
    for order in orders:
        assert ORDER_ID.match(order["orderId"])
        assert UTC_TIME.match(order["createdTime"])
        assert UTC_TIME.match(order["lastUpdatedTime"])
        assert order["createdTime"] <= order["lastUpdatedTime"]
        currency = currencies[order["salesChannel"]["marketplaceId"]]
        assert order["proceeds"]["grandTotal"]["currencyCode"] == currency
        assert {i["product"]["price"]["unitPrice"]["currencyCode"] for i in order["orderItems"]} == {currency}
    assert {o["salesChannel"]["marketplaceId"] for o in orders} == set(currencies)


def test_pending_orders_have_no_prices_proceeds_or_address() -> None:
    """Like Amazon, a PENDING order shows items and buyer but no unit prices, proceeds or delivery address."""
    order = OrderFactory(seed=2).order(status="PENDING").to_api()

    assert "recipient" not in order
    assert "proceeds" not in order
    for item in order["orderItems"]:
        assert "price" not in item["product"]
        assert "proceeds" not in item
        assert item["fulfillment"] == {"quantityFulfilled": 0, "quantityUnfulfilled": item["quantityOrdered"]}


def test_buyer_email_and_phone_exist_only_for_merchant_fulfilled_orders() -> None:
    """MFN orders carry an anonymised marketplace e-mail and a phone; AFN orders carry neither."""
    factory = OrderFactory(seed=3)
    mfn = factory.order(
        status="UNSHIPPED", fulfilled_by="MERCHANT", marketplace_id=UK_MARKETPLACE_ID
    ).to_api()
    afn = factory.order(status="UNSHIPPED", fulfilled_by="AMAZON").to_api()

    assert re.match(r"^[a-z0-9]{13,15}@marketplace\.amazon\.co\.uk$", mfn["buyer"]["buyerEmail"])
    assert mfn["recipient"]["deliveryAddress"]["phone"]
    assert "buyerEmail" not in afn["buyer"]
    assert "phone" not in afn["recipient"]["deliveryAddress"]
    assert afn["buyer"]["buyerName"]


@pytest.mark.parametrize("status", ["PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED"])
def test_item_quantities_agree_with_the_order_status(status: FulfillmentStatus) -> None:
    """quantityFulfilled / quantityUnfulfilled per item match the order's fulfillment status."""
    for sample in OrderFactory(seed=5).orders(10, status=status):
        order = sample.to_api()
        shipped = [i["fulfillment"]["quantityFulfilled"] for i in order["orderItems"]]
        open_units = [i["fulfillment"]["quantityUnfulfilled"] for i in order["orderItems"]]
        ordered = [i["quantityOrdered"] for i in order["orderItems"]]
        assert order["fulfillment"]["fulfillmentStatus"] == status
        if status in ("PENDING", "UNSHIPPED"):
            assert shipped == [0] * len(ordered)
            assert open_units == ordered
        elif status == "SHIPPED":
            assert shipped == ordered
            assert set(open_units) == {0}
        elif status == "PARTIALLY_SHIPPED":
            assert 0 < sum(shipped) < sum(ordered)
            assert [s + u for s, u in zip(shipped, open_units, strict=True)] == ordered
        else:
            assert set(shipped) == set(open_units) == {0}
            assert all("cancellationExecution" in i["cancellation"] for i in order["orderItems"])
            assert "proceeds" not in order


def test_proceeds_add_up_across_breakdowns_and_items() -> None:
    """grandTotal equals the sum of its breakdowns and of the items' proceedsTotal; breakdowns aggregate items."""
    for sample in OrderFactory(seed=8).orders(25, status="SHIPPED", promotion=True):
        order = sample.to_api()
        proceeds = order["proceeds"]
        grand = Decimal(proceeds["grandTotal"]["amount"])
        assert grand == sum(Decimal(b["subtotal"]["amount"]) for b in proceeds["breakdowns"])
        assert grand == sum(Decimal(i["proceeds"]["proceedsTotal"]["amount"]) for i in order["orderItems"])
        for breakdown in proceeds["breakdowns"]:
            per_item = [
                Decimal(b["subtotal"]["amount"])
                for i in order["orderItems"]
                for b in i["proceeds"]["breakdowns"]
                if b["type"] == breakdown["type"]
            ]
            assert Decimal(breakdown["subtotal"]["amount"]) == sum(per_item)
        assert {b["type"] for b in proceeds["breakdowns"]} == {"ITEM", "SHIPPING", "TAX", "DISCOUNT"}


def test_advance_walks_an_order_through_its_life_and_bumps_last_updated() -> None:
    """pending -> unshipped -> partially shipped -> shipped, each step later than the last; MFN gains packages."""
    pending = OrderFactory(seed=13).order(status="PENDING", fulfilled_by="MERCHANT", item_count=2)
    unshipped = pending.advance("UNSHIPPED")
    partial = unshipped.advance("PARTIALLY_SHIPPED")
    shipped = partial.advance("SHIPPED", at=partial.last_updated_time + timedelta(days=1))

    steps = [pending, unshipped, partial, shipped]
    assert [s.status for s in steps] == ["PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"]
    times = [s.to_api()["lastUpdatedTime"] for s in steps]
    assert times == sorted(times)
    assert len(set(times)) == 4
    assert shipped.last_updated_time == partial.last_updated_time + timedelta(days=1)
    assert "recipient" in unshipped.to_api()
    assert len(shipped.to_api()["packages"]) == 2
    assert pending.to_api()["createdTime"] == shipped.to_api()["createdTime"]


def test_cancel_is_refused_once_units_have_shipped() -> None:
    """A shipped order cannot be cancelled; an unshipped one can, by the buyer with a request recorded."""
    order = OrderFactory(seed=14).order(status="UNSHIPPED", fulfilled_by="MERCHANT")

    cancelled = order.cancel(cancelled_by="BUYER", reason="Shipping cost too high").to_api()

    item = cancelled["orderItems"][0]
    assert item["cancellation"]["cancellationRequest"] == {
        "requester": "BUYER",
        "cancelReason": "Shipping cost too high",
    }
    assert item["cancellation"]["cancellationExecution"]["cancelledBy"] == "BUYER"
    with pytest.raises(ValueError, match="cannot cancel"):
        order.ship().cancel()


def test_buyer_cancellation_request_shows_in_the_notification() -> None:
    """request_cancellation() keeps the status and flags IsBuyerRequestedCancel in ORDER_CHANGE."""
    order = OrderFactory(seed=15).order(status="UNSHIPPED", fulfilled_by="MERCHANT").request_cancellation()

    envelope = order_change_notification(order, order_change_type="BuyerRequestedChange")

    assert order.status == "UNSHIPPED"
    items = envelope["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"]
    assert all(i["IsBuyerRequestedCancel"] for i in items)
    assert (
        envelope["Payload"]["OrderChangeNotification"]["OrderChangeTrigger"]["ChangeReason"]
        == "Buyer Requested Cancel"
    )


def test_pii_values_list_buyer_and_address_strings() -> None:
    """pii_values names the buyer, e-mail, street and phone, but not city or postal code."""
    sample = OrderFactory(seed=16).order(status="SHIPPED", fulfilled_by="MERCHANT", business=True)
    order = sample.to_api()
    address = order["recipient"]["deliveryAddress"]

    values = pii_values(order)

    assert {
        order["buyer"]["buyerName"],
        order["buyer"]["buyerEmail"],
        address["addressLine1"],
        address["phone"],
    } <= values
    assert order["buyer"]["buyerCompanyName"] in values
    assert address["city"] not in values
    assert address["postalCode"] not in values
    assert pii_values(sample) >= values
    assert address["addressLine1"] in pii_values(
        OrderFactory(seed=16).order(status="PENDING", fulfilled_by="MERCHANT", business=True)
    )
