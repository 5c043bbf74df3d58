"""Order sync end to end, over real sockets: Azurite, the SP-API and Dataverse emulators, and the
registered `amazon_notifications` function invoked the way the Functions host invokes it."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sandbox.amazon_samples import OrderFactory, order_change_notification
from sandbox.harness import Sandbox, SandboxOptions
from tests.sandbox_support import FAST_RETRY, crm_lines, crm_orders, lifecycle, send

pytestmark = pytest.mark.sockets

STATE = {
    "PENDING": (0, 2),
    "UNSHIPPED": (1, 3),
    "PARTIALLY_SHIPPED": (1, 3),
    "SHIPPED": (3, 100001),
    "CANCELLED": (2, 4),
}


def test_an_order_becomes_a_sales_order_with_lines_customer_and_status(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """One MFN order: salesorder keyed by Amazon id, one line per item, a guest contact, Submitted status."""
    order = factory.order(
        status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT", item_count=3
    )
    sandbox.spapi.put_order(order.to_api())
    sandbox.publish(order_change_notification(order))
    sandbox.deliver()

    [crm] = crm_orders(sandbox).values()
    assert crm["new_amazonorderid"] == order.order_id
    assert (crm["statecode"], crm["statuscode"]) == (1, 3)
    assert crm["new_amazonfulfillmentchannel"] == "MFN"
    lines = crm_lines(sandbox, order.order_id)
    assert sorted(line["new_amazonorderitemid"] for line in lines) == sorted(
        item.order_item_id for item in order.items
    )
    for item in order.items:
        [line] = [line for line in lines if line["new_amazonorderitemid"] == item.order_item_id]
        assert line["quantity"] == Decimal(item.quantity)
        assert line["priceperunit"] == item.unit_price
        assert line["salesorderid"] == crm["salesorderid"]
    assert crm["totalamount"] == Decimal(order.to_api()["proceeds"]["grandTotal"]["amount"])
    [contact] = sandbox.dataverse.records("contacts")
    assert crm["customerid"] == contact["contactid"]
    assert sandbox.queue.completed == 1
    assert sandbox.queue.dead_letters == []


def test_each_notification_three_times_in_shuffled_order_gives_one_order_each_in_its_final_state(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """Idempotency: every notification delivered three times, shuffled: exactly one salesorder per Amazon
    order, with the right lines and its final status."""
    finals = {}
    envelopes = []
    for index in range(12):
        order = factory.order(status="PENDING", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT")
        steps = ("CANCELLED",) if index % 4 == 0 else ("UNSHIPPED", "SHIPPED")
        versions = lifecycle(order, *steps)
        envelopes += [order_change_notification(version) for version in versions]
        finals[order.order_id] = versions[-1]
        sandbox.spapi.put_order(versions[-1].to_api())
    deliveries = envelopes * 3
    random.shuffle(deliveries)
    for envelope in deliveries:
        send(sandbox, envelope)
    sandbox.deliver()

    orders = crm_orders(sandbox)
    assert set(orders) == set(finals)
    for order_id, final in finals.items():
        assert (orders[order_id]["statecode"], orders[order_id]["statuscode"]) == STATE[final.status]
        assert len(crm_lines(sandbox, order_id)) == len(final.items)
    assert sandbox.queue.dead_letters == []
    assert sandbox.queue.completed == len(deliveries)


def test_orders_walk_through_their_statuses_as_notifications_arrive(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """Pending -> Unshipped -> Shipped, one delivery per step: prices and address fill in, then it is fulfilled."""
    pending, unshipped, shipped = lifecycle(
        factory.order(status="PENDING", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT"),
        "UNSHIPPED",
        "SHIPPED",
    )
    seen = []
    for version in (pending, unshipped, shipped):
        sandbox.spapi.put_order(version.to_api())
        sandbox.publish(order_change_notification(version))
        sandbox.deliver()
        row = crm_orders(sandbox)[version.order_id]
        seen.append((row["statecode"], row["statuscode"], row["shipto_city"], row["totalamount"]))
    assert [state[:2] for state in seen] == [(0, 2), (1, 3), (3, 100001)]
    assert seen[0][2] is None  # Pending: Amazon shows no address yet
    assert seen[1][2] == pending.address.city
    assert all(line["priceperunit"] > 0 for line in crm_lines(sandbox, pending.order_id))


def test_an_older_notification_after_a_newer_one_changes_nothing(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """Out of order: the Unshipped notification arriving after Shipped costs no call and moves nothing back."""
    unshipped, shipped = lifecycle(
        factory.order(status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT"), "SHIPPED"
    )
    sandbox.spapi.put_order(shipped.to_api())
    sandbox.publish(order_change_notification(shipped))
    sandbox.deliver()
    calls_before = sandbox.spapi.requests.total(["getOrder"])
    writes_before = sandbox.dataverse.requests.total(["batch"])

    sandbox.publish(order_change_notification(unshipped))
    sandbox.deliver()
    row = crm_orders(sandbox)[shipped.order_id]
    assert (row["statecode"], row["statuscode"]) == (3, 100001)
    assert sandbox.spapi.requests.total(["getOrder"]) == calls_before
    assert sandbox.dataverse.requests.total(["batch"]) == writes_before


def test_a_stale_amazon_snapshot_never_moves_the_status_back(sandbox: Sandbox, factory: OrderFactory) -> None:
    """Eventual consistency: getOrder serving an older version once does not undo the shipment."""
    unshipped, shipped = lifecycle(
        factory.order(status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT"), "SHIPPED"
    )
    sandbox.spapi.put_order(shipped.to_api())
    sandbox.publish(order_change_notification(shipped))
    sandbox.deliver()
    sandbox.spapi.stale_reads(shipped.order_id, unshipped.to_api())
    sandbox.publish(order_change_notification(shipped, notification_id=str(uuid.uuid4()), change_time=None))
    sandbox.deliver()
    row = crm_orders(sandbox)[shipped.order_id]
    assert (row["statecode"], row["statuscode"]) == (3, 100001)


def test_duplicates_cost_no_amazon_or_dataverse_call(sandbox: Sandbox, factory: OrderFactory) -> None:
    """A redelivered NotificationId is completed from the dedupe table alone."""
    order = factory.order(status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT")
    sandbox.spapi.put_order(order.to_api())
    envelope = order_change_notification(order)
    send(sandbox, envelope)
    sandbox.deliver()
    spapi, dataverse = sandbox.spapi.requests.total(), sandbox.dataverse.requests.total()
    send(sandbox, envelope)
    send(sandbox, envelope)
    sandbox.deliver()
    assert sandbox.spapi.requests.total() == spapi
    assert sandbox.dataverse.requests.total() == dataverse
    assert sandbox.queue.completed == 3


def test_a_burst_of_orders_is_fetched_with_search_pages(azurite, factory: OrderFactory) -> None:
    """250 orders at once (older than Amazon's 2-minute search lag): searchOrders pages, not 250 getOrders."""
    options = SandboxOptions(retry=FAST_RETRY, max_batch=250)
    with Sandbox(options, azurite=azurite) as sandbox:
        orders = factory.orders(250, status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
        for order in orders:
            sandbox.spapi.put_order(order.to_api())
            sandbox.publish(order_change_notification(order))
        sandbox.deliver()
        assert len(crm_orders(sandbox)) == 250
        counts = sandbox.spapi.requests.snapshot()
        assert counts.get("searchOrders", 0) <= 3
        assert counts.get("getOrder", 0) == 0
        assert sandbox.dataverse.requests.total(["batch"]) == 5  # 50 orders per $batch


def test_the_client_follows_amazons_rate_header_and_is_not_throttled(azurite, factory: OrderFactory) -> None:
    """With the emulator enforcing a 5 req/s, burst 2 plan, the connector paces itself: no 429 reaches it."""
    options = SandboxOptions(
        retry=FAST_RETRY, enforce_rate_limits=True, spapi_rate_limits={"getOrder": (5.0, 2)}, max_batch=4
    )
    with Sandbox(options, azurite=azurite) as sandbox:
        for order in factory.orders(8, status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER"):
            sandbox.spapi.put_order(order.to_api())
            sandbox.publish(order_change_notification(order))
        # The connector starts from Amazon's published plan (0.5/s, burst 30); give it the seller's real one.
        # Amazon's header tells the rate, never the burst: with a burst of 30 assumed, the tokens saved up
        # while the function starts would be spent at once and the emulator's burst of 2 would refuse them.
        sandbox.runtime().spapi.use_plan("getOrder", 5.0, 2)
        sandbox.deliver()
        assert len(crm_orders(sandbox)) == 8
        assert sandbox.spapi.requests.total(["getOrder"]) == 8  # not one throttled attempt


def test_unknown_skus_become_write_in_lines_and_known_ones_link_products(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """A SKU with a product links it (with its unit); an unknown SKU is a write-in line, reported."""
    from sandbox.scenario import UNKNOWN_SKU, _with_awkward_skus, _with_unknown_sku

    awkward = _with_awkward_skus(
        factory.order(
            status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT", item_count=2
        )
    )
    unknown = _with_unknown_sku(
        factory.order(
            status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT", item_count=1
        )
    )
    for order in (awkward, unknown):
        sandbox.spapi.put_order(order.to_api())
        sandbox.publish(order_change_notification(order))
    sandbox.deliver()
    for line in crm_lines(sandbox, awkward.order_id):
        assert line["productid"] is not None, line["new_amazonsellersku"]
        assert line["uomid"] is not None
        assert line["isproductoverridden"] is False
    [write_in] = crm_lines(sandbox, unknown.order_id)
    assert write_in["productid"] is None
    assert write_in["isproductoverridden"] is True
    assert write_in["productdescription"].startswith(UNKNOWN_SKU)
    assert sandbox.runtime().order_sync.totals["written"] == 2


def test_hold_policy_dead_letters_until_the_product_exists_then_replay_lands_it(
    tmp_path, azurite, factory: OrderFactory
) -> None:
    """unknown_sku = "hold": nothing written, dead-lettered as UnknownSku; after the product is created a
    replay of the same message lands the order, and replaying it twice applies it once."""
    from sandbox.scenario import UNKNOWN_SKU, _with_unknown_sku

    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[products]\nunknown_sku = "hold"\n[salesorder]\nprice_lists = { USD = "Amazon" }\n')
    with Sandbox(SandboxOptions(retry=FAST_RETRY, mapping_file=mapping), azurite=azurite) as sandbox:
        order = _with_unknown_sku(
            factory.order(
                status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT", item_count=1
            )
        )
        sandbox.spapi.put_order(order.to_api())
        sandbox.publish(order_change_notification(order))
        sandbox.deliver()
        assert crm_orders(sandbox) == {}
        [letter] = sandbox.queue.dead_letters
        assert letter.reason == "UnknownSku"
        assert letter.description is not None
        assert UNKNOWN_SKU in letter.description

        from sandbox.dataverse_seed import UNIT_GROUP_ID, UNIT_ID

        sandbox.dataverse.seed(
            "products",
            {
                "name": "Gift card",
                "productnumber": UNKNOWN_SKU,
                "defaultuomid@odata.bind": f"/uoms({UNIT_ID})",
                "defaultuomscheduleid@odata.bind": f"/uomschedules({UNIT_GROUP_ID})",
            },
        )
        sandbox.runtime().catalog.forget_products()
        for _ in range(2):  # replay twice
            sandbox.queue.send(letter.message.body, message_id=str(uuid.uuid4()))
        sandbox.deliver()
        [crm] = crm_orders(sandbox).values()
        [line] = crm_lines(sandbox, order.order_id)
        assert line["productid"] is not None
        assert crm["new_amazonorderid"] == order.order_id


def test_cancelled_orders_are_cancelled_through_the_action(sandbox: Sandbox, factory: OrderFactory) -> None:
    """Unshipped then cancelled: the CRM order ends Canceled / No Money, its lines intact."""
    unshipped, cancelled = lifecycle(
        factory.order(
            status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT", item_count=2
        ),
        "CANCELLED",
    )
    sandbox.spapi.put_order(unshipped.to_api())
    sandbox.publish(order_change_notification(unshipped))
    sandbox.deliver()
    sandbox.spapi.put_order(cancelled.to_api())
    sandbox.publish(order_change_notification(cancelled))
    sandbox.deliver()
    row = crm_orders(sandbox)[cancelled.order_id]
    assert (row["statecode"], row["statuscode"]) == (2, 4)
    assert len(crm_lines(sandbox, cancelled.order_id)) == 2
    assert (
        sandbox.dataverse.requests.total(["action:CancelSalesOrder"]) == 0
    )  # it travelled inside the $batch


def test_amazon_fulfilled_orders_go_to_the_marketplace_account(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """AFN orders carry no buyer email: one account per marketplace collects them."""
    orders = [
        factory.order(status="SHIPPED", marketplace_id="A1F83G8C2ARO7P", fulfilled_by="AMAZON")
        for _ in range(3)
    ]
    for order in orders:
        sandbox.spapi.put_order(order.to_api())
        sandbox.publish(order_change_notification(order))
    sandbox.deliver()
    accounts = sandbox.dataverse.records("accounts")
    assert [account["new_amazonmarketplaceid"] for account in accounts] == ["A1F83G8C2ARO7P"]
    assert {row["customerid"] for row in crm_orders(sandbox).values()} == {accounts[0]["accountid"]}
    assert sandbox.dataverse.records("contacts") == []


def test_pending_orders_are_completed_when_the_order_updates(sandbox: Sandbox, factory: OrderFactory) -> None:
    """A Pending order lands without prices; the Unshipped update fills prices and totals."""
    pending, unshipped = lifecycle(
        factory.order(status="PENDING", marketplace_id="ATVPDKIKX0DER", fulfilled_by="MERCHANT"), "UNSHIPPED"
    )
    sandbox.spapi.put_order(pending.to_api())
    sandbox.publish(order_change_notification(pending))
    sandbox.deliver()
    assert all(line["priceperunit"] == 0 for line in crm_lines(sandbox, pending.order_id))
    sandbox.spapi.put_order(unshipped.to_api())
    sandbox.publish(order_change_notification(unshipped))
    sandbox.deliver()
    row = crm_orders(sandbox)[pending.order_id]
    assert row["totalamount"] == Decimal(unshipped.to_api()["proceeds"]["grandTotal"]["amount"])


def test_raw_message_bodies_reach_the_function_unchanged(sandbox: Sandbox) -> None:
    """A notification of a type order sync does not handle is completed, not failed."""
    envelope = json.loads(
        json.dumps(order_change_notification(OrderFactory(seed=3).order(status="UNSHIPPED")))
    )
    envelope["NotificationType"] = "ANY_OFFER_CHANGED"
    sandbox.publish(envelope)
    sandbox.deliver()
    assert sandbox.queue.completed == 1
    assert sandbox.queue.dead_letters == []
    assert sandbox.spapi.requests.total() == 0


@pytest.mark.slow
def test_running_out_of_amazon_quota_delays_messages_instead_of_dead_lettering_them(
    azurite, factory: OrderFactory
) -> None:
    """More fresh orders than getOrder's burst (Amazon's default plan, enforced by the emulator): the ones
    over quota are rescheduled (no delivery count spent) instead of abandoned in a loop; all land, none
    dead-lettered."""
    options = SandboxOptions(retry=FAST_RETRY, enforce_rate_limits=True, max_batch=40, lock_seconds=2)
    with Sandbox(options, azurite=azurite) as sandbox:
        now = datetime.now(UTC)
        for index in range(36):
            order = factory.order(
                status="UNSHIPPED",
                marketplace_id="ATVPDKIKX0DER",
                created_time=now - timedelta(minutes=5, seconds=index),
                last_updated_time=now - timedelta(seconds=10),
            )
            sandbox.spapi.put_order(order.to_api())
            sandbox.publish(order_change_notification(order))
        sandbox.deliver(timeout=120)
        assert len(crm_orders(sandbox)) == 36
        assert sandbox.queue.dead_letters == []
        totals = sandbox.runtime().order_sync.totals
        assert totals["rescheduled"] > 0
        assert totals["abandoned"] == 0
        assert sandbox.spapi.requests.faults() == {}  # we paced ourselves: Amazon never had to throttle


def test_orders_applied_directly_and_their_late_notifications_write_once(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """Orders a sweep fetched go through apply(): written once; applied again, nothing happens; the
    notifications that arrive afterwards are stale and cost no Amazon call and no write."""
    from shared.flows.order_sync import Done

    orders = factory.orders(5, status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
    for order in orders:
        sandbox.spapi.put_order(order.to_api())
    runtime = sandbox.runtime()
    fetched = [runtime.orders.get_order(order.order_id) for order in orders]
    assert set(runtime.order_sync.apply(fetched).values()) == {Done.WRITTEN}
    assert set(runtime.order_sync.apply(fetched).values()) == {Done.UNCHANGED}  # the CRM holds this version
    sandbox.spapi.requests.reset()
    for order in orders:
        sandbox.publish(order_change_notification(order))
    sandbox.deliver()
    assert len(crm_orders(sandbox)) == 5
    assert sandbox.spapi.requests.total() == 0
    assert runtime.order_sync.totals["stale"] == 5
