"""Operations over HTTP, end to end: each endpoint called through its registered function with a real
`azure.functions.HttpRequest` (routed and key-checked by the host stand-in), over the sandbox: Azurite, the
SP-API and Dataverse emulators, and the Service Bus stand-in holding the resync queue and the dead letters."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from sandbox.amazon_samples import OrderFactory, SampleOrder, order_change_notification, pii_values
from sandbox.http_emulator import Fault, FaultPlan
from sandbox.listing_notification_samples import listing_issues_notification, listing_status_notification
from shared.timeutil import iso_z, utc_now
from tests.ops_support import NOTIFICATIONS, RESYNC, Answer, Ops
from tests.sandbox_support import crm_lines, crm_orders
from tests.sweep_support import US, assert_landed_once, hours_ago, put_final_versions, recent_lifecycles

pytestmark = pytest.mark.sockets

UNKNOWN_ORDER = "111-0000000-0000000"
OPERATIONS = {
    "resync_start",
    "resync_status",
    "failures_list",
    "failures_replay",
    "order_lookup",
    "health",
    "ops_status",
}
WRITES = ("batch", "create:", "update:", "delete:", "action:CancelSalesOrder", "action:FulfillSalesOrder")


def assert_problem(answer: Answer, status: int) -> dict[str, object]:
    """An RFC 9457 problem: its media type, the five members, the status repeated, no trace."""
    assert answer.status == status, answer.body
    assert answer.media_type == "application/problem+json"
    problem = answer.json
    assert {"type", "title", "status", "detail", "instance"} <= set(problem)
    assert problem["status"] == status
    assert "Traceback" not in answer.body.decode()
    return dict(problem)


def dataverse_writes(ops: Ops) -> dict[str, int]:
    return {
        name: count
        for name, count in ops.sandbox.dataverse.requests.snapshot().items()
        if name.startswith(WRITES)
    }


def synced_orders(ops: Ops, factory: OrderFactory, count: int) -> list[SampleOrder]:
    """`count` Unshipped orders in Amazon, notified and synced to the CRM the usual way."""
    orders = factory.orders(count, status="UNSHIPPED", marketplace_id=US)
    for order in orders:
        ops.sandbox.spapi.put_order(order.to_api())
        ops.sandbox.publish(order_change_notification(order))
    ops.sandbox.deliver()
    assert len(crm_orders(ops.sandbox)) == count
    return orders


# --- requests the endpoints refuse ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, ""),
        ({"amazonOrderIds": []}, "/amazonOrderIds"),
        ({"amazonOrderIds": ["not-an-order"]}, "/amazonOrderIds/0"),
        ({"amazonOrderIds": [1130000000000000000]}, "/amazonOrderIds/0"),
        ({"amazonOrderIds": ["113-1234567-1234567"] * 1001}, "/amazonOrderIds"),
        ({"amazonOrderIds": ["113-1234567-1234567"], "from": "2026-01-01T00:00:00Z"}, ""),
        ({"from": "2026-01-01T00:00:00Z"}, ""),
        ({"from": "2026-01-01T00:00:00", "to": "2026-01-02T00:00:00Z"}, "/from"),
        ({"from": 1767225600, "to": "2026-01-02T00:00:00Z"}, "/from"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, ""),
        ({"from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, ""),
        ({"skus": ["SKU-1"], "amazonOrderIds": ["113-1234567-1234567"]}, ""),
        ({"skus": ["SKU-1", " padded "]}, "/skus/1"),
        ([["113-1234567-1234567"]], ""),
    ],
    ids=[
        "empty object",
        "no order ids",
        "malformed id",
        "id as a number",
        "more ids than RESYNC_MAX_ORDERS",
        "ids and a range",
        "from without to",
        "no offset",
        "epoch number",
        "to before from",
        "range longer than RESYNC_MAX_RANGE_DAYS",
        "skus and order ids",
        "SKU with spaces around it",
        "not an object",
    ],
)
def test_an_invalid_resync_body_is_a_400_problem_pointing_at_what_is_wrong(
    shared_ops: Ops, body: object, pointer: str
) -> None:
    """A resync body that is not exactly one valid kind is refused before anything is queued, and the
    problem's `errors` point at the member at fault."""
    problem = assert_problem(shared_ops.call("POST", "resync", json_body=body), 400)
    assert problem["type"] == "tag:amazon-dynamics-sync,2026:problems/invalid-request"
    assert problem["instance"] == "/api/resync"
    assert pointer in [error["pointer"] for error in problem["errors"]]  # type: ignore[attr-defined]
    assert shared_ops.bus.counts(RESYNC)["active"] == 0


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b'{"amazonOrderIds": ["113-1234567-1234567"', {"content-type": "application/json"}, 400),
        (b"", {"content-type": "application/json"}, 400),
        (b'{"amazonOrderIds": ["113-1234567-1234567"]}', {"content-type": "text/plain"}, 415),
        (b'{"amazonOrderIds": ["' + b"1" * 70_000 + b'"]}', {"content-type": "application/json"}, 413),
        (b"[" * 5000 + b"]" * 5000, {"content-type": "application/json"}, 400),
    ],
    ids=["truncated JSON", "empty body", "not JSON", "too large", "nested 5,000 deep"],
)
def test_a_body_that_cannot_be_read_is_refused_with_a_problem(
    shared_ops: Ops, body: bytes, headers: dict[str, str], status: int
) -> None:
    """Broken, empty, oversized, absurdly nested or non-JSON bodies get a problem, never a 500."""
    assert_problem(shared_ops.call("POST", "resync", body=body, headers=headers), status)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, ""),
        ({"sequenceNumbers": [1], "reason": "UnknownSku"}, ""),
        ({"sequenceNumbers": []}, "/sequenceNumbers"),
        ({"sequenceNumbers": [0]}, "/sequenceNumbers/0"),
        ({"sequenceNumbers": ["7"]}, "/sequenceNumbers/0"),
        ({"reason": ""}, "/reason"),
        ({"reason": "Unknown\nSku"}, "/reason"),
        ({"reason": "UnknownSku", "queue": "someone-elses-queue"}, "/queue"),
        ({"reason": "UnknownSku", "dryRun": "yes"}, "/dryRun"),
        ({"all": True}, "/all"),
    ],
    ids=[
        "nothing chosen",
        "two selections",
        "no sequence numbers",
        "sequence number 0",
        "sequence number as text",
        "empty reason",
        "reason with a line feed",
        "not an app queue",
        "dryRun not a boolean",
        "all is not offered",
    ],
)
def test_an_invalid_replay_body_is_a_400_problem(shared_ops: Ops, body: object, pointer: str) -> None:
    """Replay needs exactly one selection of one of the app's queues; anything else replays nothing."""
    problem = assert_problem(shared_ops.call("POST", "failures/replay", json_body=body), 400)
    assert pointer in [error["pointer"] for error in problem["errors"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("path", "query", "parameter"),
    [
        ("failures", {"limit": "0"}, "limit"),
        ("failures", {"limit": "1001"}, "limit"),
        ("failures", {"limit": "ten"}, "limit"),
        ("failures", {"queue": "someone-elses-queue"}, "queue"),
        ("failures", {"reason": "UnknownSku"}, "reason"),
        ("status", {"hours": "48"}, "hours"),
        ("health", {"verbose": "1"}, "verbose"),
        ("resync/0123456789abcdef0123456789abcdef", {"expand": "orders"}, "expand"),
    ],
    ids=[
        "limit 0",
        "limit too large",
        "limit not a number",
        "unknown queue",
        "unknown filter",
        "status",
        "health",
        "job",
    ],
)
def test_an_invalid_query_string_is_a_400_problem_naming_the_parameter(
    shared_ops: Ops, path: str, query: dict[str, str], parameter: str
) -> None:
    """Query parameters are validated too (the host's `code` is the only one passed over), so a typo never
    silently means "everything"."""
    problem = assert_problem(shared_ops.call("GET", path, query=query), 400)
    assert [error["parameter"] for error in problem["errors"]] == [parameter]  # type: ignore[attr-defined]
    assert shared_ops.http.function_key not in json.dumps(problem)


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("resync/not-a-job-id", "jobId"),
        ("orders/113-12345", "amazonOrderId"),
        ("orders/jane.doe@example.com", "amazonOrderId"),
    ],
)
def test_a_malformed_route_parameter_is_a_400_problem(shared_ops: Ops, path: str, parameter: str) -> None:
    """A job id or order id that cannot be one is refused without a lookup (nor a getOrder call)."""
    calls = shared_ops.sandbox.spapi.requests.total(["getOrder"])
    problem = assert_problem(shared_ops.call("GET", path), 400)
    assert [error["parameter"] for error in problem["errors"]] == [parameter]  # type: ignore[attr-defined]
    assert "jane.doe" not in json.dumps(problem)
    assert shared_ops.sandbox.spapi.requests.total(["getOrder"]) == calls


def test_an_unknown_job_is_a_404_problem(shared_ops: Ops) -> None:
    """A well-formed job id nobody created: 404 with the not-found problem type."""
    problem = assert_problem(shared_ops.call("GET", "resync/0123456789abcdef0123456789abcdef"), 404)
    assert problem["type"] == "tag:amazon-dynamics-sync,2026:problems/not-found"
    assert problem["instance"] == "/api/resync/0123456789abcdef0123456789abcdef"


def test_an_order_amazon_does_not_know_is_a_404_problem(shared_ops: Ops) -> None:
    """The lookup asks Amazon (getOrder answers 404): the order is unknown."""
    problem = assert_problem(shared_ops.call("GET", f"orders/{UNKNOWN_ORDER}"), 404)
    assert UNKNOWN_ORDER in str(problem["detail"])


def test_without_a_function_key_the_host_refuses_every_endpoint(shared_ops: Ops) -> None:
    """Every HTTP function is at authLevel FUNCTION: no key, no call (401 from the host, nothing queued)."""
    routes = [route for route in shared_ops.http.routes if route.function_name in OPERATIONS]
    assert {route.function_name for route in routes} == OPERATIONS
    for route in routes:
        path = route.template.replace("{jobId}", "0" * 32).replace("{amazonOrderId}", UNKNOWN_ORDER)
        for method in route.methods:
            assert shared_ops.call(method, path, key=False).status == 401, route.function_name
    assert shared_ops.bus.counts(RESYNC)["active"] == 0


# --- resync ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_resync_of_a_thousand_orders_by_date_range_lands_each_order_exactly_once(ops: Ops) -> None:
    """1,000 orders changed over six hours and never notified: POST a range, 202 with a job; the resync
    function reads it as a backfill (searchOrders pages, raised plan of 20/s) and every order lands once in
    its final state; the job reads done with 1,000 applied."""
    finals = put_final_versions(
        ops.sandbox, recent_lifecycles(OrderFactory(seed=1000), 1000, start=hours_ago(6))
    )

    accepted = ops.call("POST", "resync", json_body={"from": iso_z(hours_ago(7)), "to": iso_z(utc_now())})
    assert accepted.status == 202
    job_id = accepted.json["jobId"]
    assert accepted.json["statusUrl"].endswith(f"/api/resync/{job_id}")
    assert accepted.headers["location"] == accepted.json["statusUrl"]
    assert "code=" not in accepted.json["statusUrl"]
    assert ops.call("GET", f"resync/{job_id}").json["state"] == "queued"
    assert crm_orders(ops.sandbox) == {}  # nothing is done inside the request

    ops.run_queue(RESYNC, "resync")

    assert_landed_once(ops.sandbox, finals)
    status = ops.call("GET", f"resync/{job_id}").json
    assert (status["state"], status["applied"], status["failed"], status["queued"]) == ("done", 1000, 0, 1000)
    assert ops.sandbox.runtime().order_sync.totals["snapshot_written"] == 1000
    assert ops.sandbox.spapi.requests.total(["getOrder"]) == 0  # searchOrders pages carry the orders


def test_a_resync_of_orders_already_in_sync_writes_nothing(ops: Ops, factory: OrderFactory) -> None:
    """Orders the CRM holds in Amazon's current version: a resync by id costs a getOrder each and writes
    nothing, a resync of their date range reads the pages and writes nothing; both jobs end done with every
    order applied."""
    finals = put_final_versions(ops.sandbox, recent_lifecycles(factory, 12, start=hours_ago(3)))
    for final in finals.values():
        ops.sandbox.publish(order_change_notification(final))
    ops.sandbox.deliver()
    assert_landed_once(ops.sandbox, finals)
    order_ids = list(finals)
    ops.sandbox.dataverse.requests.reset()
    ops.sandbox.spapi.requests.reset()

    by_id = ops.call("POST", "resync", json_body={"amazonOrderIds": order_ids}).json
    by_range = ops.call(
        "POST", "resync", json_body={"from": iso_z(hours_ago(4)), "to": iso_z(utc_now())}
    ).json
    ops.run_queue(RESYNC, "resync")

    assert dataverse_writes(ops) == {}
    assert ops.sandbox.spapi.requests.total(["getOrder"]) == 12
    first = ops.call("GET", f"resync/{by_id['jobId']}").json
    assert (first["state"], first["queued"], first["applied"], first["failed"]) == ("done", 12, 12, 0)
    second = ops.call("GET", f"resync/{by_range['jobId']}").json
    assert (second["state"], second["applied"]) == ("done", 12)


def test_an_order_amazon_does_not_know_fails_in_its_job_and_leaves_no_dead_letter(
    ops: Ops, factory: OrderFactory
) -> None:
    """A resync naming a known and an unknown order: the known one is applied, the unknown one counted as
    failed with Amazon's reason in the job; its message is completed, not dead-lettered."""
    known = synced_orders(ops, factory, 1)[0].order_id
    job = ops.call("POST", "resync", json_body={"amazonOrderIds": [known, UNKNOWN_ORDER, known]}).json
    assert job["queued"] == 2  # a repeated id is one order

    ops.run_queue(RESYNC, "resync")

    status = ops.call("GET", f"resync/{job['jobId']}").json
    assert (status["state"], status["applied"], status["failed"]) == ("done", 1, 1)
    assert status["failures"] == [{"amazonOrderId": UNKNOWN_ORDER, "reason": "AmazonOrderNotFound"}]
    assert ops.bus.counts(RESYNC)["dead_letter"] == 0


# --- dead letters ---------------------------------------------------------------------------------------------
def test_replay_over_http_removes_the_dead_letter_and_the_order_lands(
    ops: Ops, factory: OrderFactory
) -> None:
    """A notification for an order Amazon does not have yet is dead-lettered; GET /api/failures lists it by
    reason and order id; a dry run changes nothing; once Amazon has the order, replay by reason sends it back,
    the dead letter is gone and the order lands once."""
    order = factory.order(status="UNSHIPPED", marketplace_id=US)
    ops.publish_to_bus(order_change_notification(order))
    ops.run_queue(NOTIFICATIONS, "amazon_notifications")

    listed = ops.call("GET", "failures", query={"queue": NOTIFICATIONS}).json["queues"]
    [queue] = listed
    assert (queue["queue"], queue["count"], queue["byReason"]) == (
        NOTIFICATIONS,
        1,
        {"AmazonOrderNotFound": 1},
    )
    [letter] = queue["messages"]
    assert (letter["reason"], letter["amazonOrderId"], letter["notificationType"]) == (
        "AmazonOrderNotFound",
        order.order_id,
        "ORDER_CHANGE",
    )

    dry = ops.call(
        "POST", "failures/replay", json_body={"reason": "AmazonOrderNotFound", "dryRun": True}
    ).json
    assert (dry["dryRun"], [item["status"] for item in dry["items"]]) == (True, ["would_replay"])
    assert ops.bus.counts(NOTIFICATIONS)["dead_letter"] == 1

    ops.sandbox.spapi.put_order(order.to_api())  # the cause is fixed
    report = ops.call("POST", "failures/replay", json_body={"sequenceNumbers": [letter["sequenceNumber"]]})
    assert report.status == 200
    assert report.json["ok"] is True
    assert [(item["status"], item["amazonOrderId"]) for item in report.json["items"]] == [
        ("replayed", order.order_id)
    ]
    ops.run_queue(NOTIFICATIONS, "amazon_notifications")

    assert set(crm_orders(ops.sandbox)) == {order.order_id}
    assert len(crm_lines(ops.sandbox, order.order_id)) == len(order.items)
    after = ops.call("GET", "failures").json["queues"]
    assert [(queue["queue"], queue["count"]) for queue in after] == [(NOTIFICATIONS, 0), (RESYNC, 0)]


# --- health, status, lookup ---------------------------------------------------------------------------------
def test_health_is_503_and_names_dataverse_while_dataverse_is_down(ops: Ops) -> None:
    """Every check passes: 200. Dataverse answering 503 to everything: 503, the dataverse check failed with
    its reason, the other three still pass; no detail names a host or a URL."""
    healthy = ops.call("GET", "health")
    assert healthy.status == 200
    assert healthy.json["status"] == "ok"
    assert [check["name"] for check in healthy.json["checks"]] == [
        "table_storage",
        "service_bus",
        "dataverse",
        "login_with_amazon",
    ]

    ops.sandbox.dataverse.faults = FaultPlan(rate=1.0, kinds=(Fault.UNAVAILABLE,), retry_after_seconds=0)
    failing = ops.call("GET", "health")

    assert failing.status == 503
    assert failing.json["status"] == "failing"
    checks = {check["name"]: check for check in failing.json["checks"]}
    assert checks["dataverse"]["ok"] is False
    assert checks["dataverse"]["detail"] == "DataverseUnavailable (503)"
    assert [name for name, check in checks.items() if not check["ok"]] == ["dataverse"]
    text = failing.body.decode()
    assert "127.0.0.1" not in text
    assert "http" not in text


def test_the_status_shows_orders_synced_their_lag_the_timers_breakers_and_dead_letters(
    ops: Ops, factory: OrderFactory
) -> None:
    """After 7 orders synced and one dead letter: 7 synced in the last hour and in the current hour's bucket
    (24 buckets), lag percentiles no larger than the maximum, the sweep timer with its watermark after a run,
    three closed breakers, one dead letter by reason."""
    synced_orders(ops, factory, 7)
    poison = factory.order(status="UNSHIPPED", marketplace_id=US)
    ops.publish_to_bus(order_change_notification(poison))
    ops.run_queue(NOTIFICATIONS, "amazon_notifications")
    ops.sandbox.runtime().orders_sweep.run()

    status = ops.call("GET", "status")

    assert status.status == 200
    body = status.json
    orders = body["orders"]
    assert orders["syncedLastHour"] == 7
    assert len(orders["perHour"]) == 24
    assert orders["perHour"][-1]["count"] == 7
    assert sum(hour["count"] for hour in orders["perHour"]) == 7
    lag = orders["lagSeconds"]
    assert 0 <= lag["p50"] <= lag["p95"] <= lag["max"]
    assert orders["lagSamples"] == 7
    timers = {timer["name"]: timer for timer in body["timers"]}
    assert set(timers) == {"orders_sweep", "finance_sync", "settlement_reports"}
    assert timers["orders_sweep"]["lastRun"] is not None
    assert timers["orders_sweep"]["lastOutcome"].startswith("applied up to ")
    assert timers["finance_sync"]["lastOutcome"] == "no run recorded yet"
    assert [(b["name"], b["state"]) for b in body["breakers"]] == [
        ("SP-API", "closed"),
        ("Dataverse", "closed"),
        ("Table Storage", "closed"),
    ]
    assert (body["failures"]["total"], body["failures"]["byReason"]) == (1, {"AmazonOrderNotFound": 1})
    assert body["errors"] == []


def test_the_status_lists_the_listings_amazon_flags_from_its_notifications(ops: Ops) -> None:
    """Amazon's listing notifications through the notifications queue: a listing DELETED, one with an ERROR
    issue, one with only a WARNING. The status counts one of each problem and lists them by SKU, marketplace
    and problem; a later notification clearing the ERROR issue drops it from the status."""
    now = utc_now()
    ops.publish_to_bus(listing_status_notification("MUG-GONE", US, ["DELETED"], event_time=now))
    ops.publish_to_bus(listing_issues_notification("MUG-BAD", US, ["ERROR", "WARNING"], event_time=now))
    ops.publish_to_bus(listing_issues_notification("MUG-WARNED", US, ["WARNING"], event_time=now))
    ops.run_queue(NOTIFICATIONS, "amazon_notifications")

    listings = ops.call("GET", "status").json["listings"]

    assert (listings["errors"], listings["deleted"], listings["truncated"]) == (1, 1, False)
    assert sorted(listings["shown"], key=lambda row: row["sku"]) == [
        {"sku": "MUG-BAD", "marketplaceId": US, "problem": "ERROR"},
        {"sku": "MUG-GONE", "marketplaceId": US, "problem": "DELETED"},
    ]
    later = now + timedelta(seconds=1)
    ops.publish_to_bus(listing_issues_notification("MUG-BAD", US, ["WARNING"], event_time=later))
    ops.run_queue(NOTIFICATIONS, "amazon_notifications")
    body = ops.call("GET", "status").json
    assert [row["sku"] for row in body["listings"]["shown"]] == ["MUG-GONE"]
    assert body["errors"] == []


def test_the_order_lookup_shows_amazon_now_the_crm_order_and_the_last_sync(
    ops: Ops, factory: OrderFactory
) -> None:
    """A synced order: Amazon's status and time (live), the CRM's GUID and state read from Dataverse, the
    checkpoint's sync; after Amazon ships it (no notification yet) the lookup says it is not in sync."""
    [order] = synced_orders(ops, factory, 1)
    [row] = crm_orders(ops.sandbox).values()

    found = ops.call("GET", f"orders/{order.order_id}").json

    assert found["amazonOrderId"] == order.order_id
    assert found["amazon"]["status"] == "UNSHIPPED"
    assert found["crm"] == {
        "salesorderId": row["salesorderid"],
        "statecode": 1,
        "statuscode": 3,
        "source": "dataverse",
    }
    assert found["lastSync"]["outcome"] == "written"
    assert found["lastSync"]["amazonUpdated"] == found["amazon"]["lastUpdated"]
    assert found["inSync"] is True

    ops.sandbox.spapi.put_order(order.advance("SHIPPED").to_api())
    later = ops.call("GET", f"orders/{order.order_id}").json
    assert (later["amazon"]["status"], later["inSync"]) == ("SHIPPED", False)
    assert later["crm"]["statecode"] == 1  # the CRM still holds the Unshipped order


def test_no_answer_carries_buyer_data_or_secrets(ops: Ops, factory: OrderFactory) -> None:
    """Every endpoint answered after orders with real-looking buyers were synced and one dead-lettered:
    no seeded buyer name, e-mail, address or phone, and no token or secret, in any response body."""
    orders = factory.orders(4, status="UNSHIPPED", marketplace_id=US)
    for order in orders[:3]:
        ops.sandbox.spapi.put_order(order.to_api())
        ops.sandbox.publish(order_change_notification(order))
    ops.sandbox.deliver()
    ops.publish_to_bus(order_change_notification(orders[3]))
    ops.run_queue(NOTIFICATIONS, "amazon_notifications")
    job = ops.call("POST", "resync", json_body={"amazonOrderIds": [o.order_id for o in orders]})
    ops.run_queue(RESYNC, "resync")

    answers = [
        job,
        ops.call("GET", f"resync/{job.json['jobId']}"),
        ops.call("GET", "failures"),
        ops.call("POST", "failures/replay", json_body={"reason": "AmazonOrderNotFound", "dryRun": True}),
        *(ops.call("GET", f"orders/{order.order_id}") for order in orders[:3]),
        ops.call("GET", "health"),
        ops.call("GET", "status"),
    ]

    text = "\n".join(answer.body.decode() for answer in answers)
    spapi = ops.sandbox.spapi
    forbidden = {value for order in orders for value in pii_values(order)}
    forbidden |= {spapi.refresh_token, spapi.client_secret, *spapi.issued_access_tokens}
    assert [value for value in forbidden if value in text] == []
    assert all(answer.status in (200, 202) for answer in answers), [a.status for a in answers]
