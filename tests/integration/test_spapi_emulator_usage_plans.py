"""What every emulated operation shares: usage plans (token buckets, 429, the rate header), faults, routing."""

from __future__ import annotations

import httpx
import pytest

from sandbox.amazon_samples import OrderFactory
from sandbox.http_emulator import Fault, FaultPlan
from sandbox.spapi_emulator import DEFAULT_RATE_LIMITS, SpApiEmulator
from tests.spapi_emulator_support import Running, emulator_fixtures, error_of

pytestmark = pytest.mark.sockets

US = "ATVPDKIKX0DER"
SUMMARIES = (
    "/fba/inventory/v1/summaries",
    {"granularityType": "Marketplace", "granularityId": US, "marketplaceIds": US},
)


limited_server, limited = emulator_fixtures(name="limited", enforce_rate_limits=True)


emu_server, emu = emulator_fixtures()


@pytest.mark.parametrize(
    ("operation", "client", "path", "params"),
    [
        ("getInventorySummaries", "seller", *SUMMARIES),
        ("getDestinations", "grantless", "/notifications/v1/destinations", {}),
        (
            "getReports",
            "seller",
            "/reports/2021-06-30/reports",
            {"reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"},
        ),
        (
            "listTransactions",
            "seller",
            "/finances/2024-06-19/transactions",
            {"postedAfter": "2025-05-01T00:00:00Z"},
        ),
        ("getMarketplaceParticipations", "seller", "/sellers/v1/marketplaceParticipations", {}),
    ],
)
def test_each_operation_serves_its_burst_then_answers_429_quota_exceeded(
    limited: Running, operation: str, client: str, path: str, params: dict[str, str]
) -> None:
    """With usage plans enforced, an operation answers `burst` calls, then 429 QuotaExceeded with its rate."""
    rate, burst = DEFAULT_RATE_LIMITS[operation]
    http: httpx.Client = getattr(limited, client)

    statuses = [http.get(path, params=params).status_code for _ in range(int(burst))]
    throttled = http.get(path, params=params)

    assert statuses == [200] * int(burst)
    assert throttled.status_code == 429
    assert error_of(throttled)["code"] == "QuotaExceeded"
    assert float(throttled.headers["x-amzn-RateLimit-Limit"]) == rate


def test_buckets_refill_at_the_plans_rate_on_the_emulated_clock(limited: Running) -> None:
    """getInventorySummaries (2/s, burst 2): after the burst, half a second of emulated time buys one call."""
    path, params = SUMMARIES
    for _ in range(2):
        limited.seller.get(path, params=params)

    throttled = limited.seller.get(path, params=params)
    limited.clock.advance(seconds=0.5)
    refilled = limited.seller.get(path, params=params)

    assert (throttled.status_code, refilled.status_code) == (429, 200)


def test_operations_have_their_own_buckets(limited: Running) -> None:
    """Exhausting getInventorySummaries leaves getMarketplaceParticipations untouched."""
    path, params = SUMMARIES
    for _ in range(3):
        limited.seller.get(path, params=params)

    assert limited.seller.get("/sellers/v1/marketplaceParticipations").status_code == 200


def test_success_and_error_responses_carry_the_rate_header_except_403(emu: Running) -> None:
    """200 and 400 answers of an operation carry x-amzn-RateLimit-Limit; a 403 carries none."""
    path, params = SUMMARIES

    ok = emu.seller.get(path, params=params)
    bad = emu.seller.get(path, params={**params, "granularityType": "Country"})
    denied = emu.http.get(path, params=params)

    assert ok.headers["x-amzn-RateLimit-Limit"] == bad.headers["x-amzn-RateLimit-Limit"] == "2.0"
    assert "x-amzn-RateLimit-Limit" not in denied.headers
    assert all(r.headers["x-amzn-RequestId"] for r in (ok, bad, denied))


def test_rate_limit_overrides_name_known_operations_only() -> None:
    """rate_limits may raise any emulated operation's plan; an unknown operation name is a ValueError."""
    raised = SpApiEmulator(rate_limits={"patchListingsItem": (10.0, 20)})

    assert raised.rate_limit("patchListingsItem") == (10.0, 20)
    with pytest.raises(ValueError, match="unknown operations"):
        SpApiEmulator(rate_limits={"patchListing": (10.0, 20)})


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (Fault.THROTTLE, 429, "QuotaExceeded"),
        (Fault.SERVER_ERROR, 500, "InternalFailure"),
        (Fault.UNAVAILABLE, 503, "ServiceUnavailable"),
    ],
)
def test_fault_plans_reach_new_operations_by_name(emu: Running, fault: Fault, status: int, code: str) -> None:
    """A FaultPlan naming listTransactions fails that call with an SP-API ErrorList, then service resumes."""
    emu.emulator.faults = FaultPlan(operations=frozenset({"listTransactions"}))
    emu.emulator.faults.script(fault)
    params = {"postedAfter": "2025-05-01T00:00:00Z"}

    faulted = emu.seller.get("/finances/2024-06-19/transactions", params=params)
    recovered = emu.seller.get("/finances/2024-06-19/transactions", params=params)

    assert faulted.status_code == status
    assert error_of(faulted)["code"] == code
    assert recovered.status_code == 200


def test_a_lost_response_on_confirm_shipment_still_ships(emu: Running) -> None:
    """LOST_RESPONSE: the caller sees a dropped connection but the confirmation was applied (retry gets 400)."""
    order = (
        OrderFactory(seed=3).order(status="UNSHIPPED", fulfilled_by="MERCHANT", marketplace_id=US).to_api()
    )
    emu.emulator.put_order(order)
    package = {
        "packageReferenceId": "1",
        "carrierCode": "USPS",
        "trackingNumber": "9400100000000000000000",
        "shipDate": "2025-06-02T11:00:00Z",
        "orderItems": [
            {"orderItemId": i["orderItemId"], "quantity": i["quantityOrdered"]} for i in order["orderItems"]
        ],
    }
    path = f"/orders/v0/orders/{order['orderId']}/shipmentConfirmation"
    emu.emulator.faults = FaultPlan(operations=frozenset({"confirmShipment"}))
    emu.emulator.faults.script(Fault.LOST_RESPONSE)

    with pytest.raises(httpx.TransportError):
        emu.seller.post(path, json={"marketplaceId": US, "packageDetail": package})
    retried = emu.seller.post(
        path, json={"marketplaceId": US, "packageDetail": {**package, "packageReferenceId": "2"}}
    )

    assert retried.status_code == 400
    assert len(emu.emulator.shipments.confirmations) == 1


def test_document_urls_fail_the_s3_way(emu: Running) -> None:
    """Faults on the document URL answer S3 XML (503 SlowDown), not an SP-API ErrorList."""
    document = emu.seller.post("/feeds/2021-06-30/documents", json={"contentType": "text/plain"}).json()
    emu.emulator.faults = FaultPlan(operations=frozenset({"documents.upload"}))
    emu.emulator.faults.script(Fault.THROTTLE)

    response = emu.http.put(document["url"], content=b"x", headers={"Content-Type": "text/plain"})

    assert response.status_code == 503
    assert b"<Code>SlowDown</Code>" in response.content
    assert "x-amzn-RequestId" not in response.headers


def test_request_counters_name_every_new_operation(emu: Running) -> None:
    """Requests are counted under the model's operationIds (and documents.* for the S3 side)."""
    path, params = SUMMARIES
    emu.seller.get(path, params=params)
    emu.seller.get("/sellers/v1/marketplaceParticipations")
    document = emu.seller.post("/feeds/2021-06-30/documents", json={"contentType": "text/plain"}).json()
    emu.http.put(document["url"], content=b"x", headers={"Content-Type": "text/plain"})
    emu.seller.get("/listings/2021-08-01/items")  # no such route

    assert emu.emulator.requests.snapshot() == {
        "getInventorySummaries": 1,
        "getMarketplaceParticipations": 1,
        "createFeedDocument": 1,
        "documents.upload": 1,
        "unknown": 1,
    }


def test_a_known_path_with_another_method_is_unknown(emu: Running) -> None:
    """DELETE on getListingsItem's path is not an emulated operation: 404 NotFound, counted as unknown."""
    response = emu.seller.delete(
        f"/listings/2021-08-01/items/{emu.emulator.seller_id}/SKU", params={"marketplaceIds": US}
    )

    assert response.status_code == 404
    assert emu.emulator.requests.snapshot() == {"unknown": 1}
