"""Stock and price changes in Dynamics reach Amazon's listings over the deployed path: Dataverse's registered
steps -> Service Bus (AMQP stand-in) -> dataverse_events -> Listings Items API (emulator) -> inventory topic."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal

import pytest

from sandbox.amazon_samples import CATALOG
from sandbox.crm_catalog import product_id
from sandbox.dataverse_emulator.callers import ORGANIZATION_ID
from sandbox.dataverse_seed import CURRENCY_IDS, UNIT_ID
from sandbox.harness import Sandbox, SandboxOptions
from shared.model.listings import Lane
from tests.crm_contexts import context
from tests.crm_support import (
    DE,
    SKU,
    UK,
    US,
    amazon_calls,
    dead_letters,
    held_events,
    holding,
    patches,
    post_events,
    set_price,
    set_stock,
    shuffled_twice,
)
from tests.sandbox_support import FAST_RETRY

pytestmark = [pytest.mark.sockets, pytest.mark.slow]


def test_a_burst_of_100_updates_of_one_sku_ends_with_the_last_value_in_a_handful_of_calls(
    crm_sandbox: Sandbox,
) -> None:
    """100 stock edits in a row: Amazon shows the last in every marketplace, a few patches each, every applied
    quantity published to the topic."""
    for quantity in range(1, 101):
        set_stock(crm_sandbox, SKU, quantity)
    crm_sandbox.deliver_crm_events()
    assert crm_sandbox.spapi.listings.quantity(SKU) == 100
    assert patches(crm_sandbox) <= 5 * 3, crm_sandbox.spapi.requests.snapshot()
    assert dead_letters(crm_sandbox) == []
    assert crm_sandbox.crm_pipeline is not None
    published = crm_sandbox.crm_pipeline.inventory_changes("from-crm")
    assert {change["marketplaceId"] for change in published if change["quantity"] == 100} == {US, UK, DE}


def test_events_delivered_twice_and_out_of_order_never_let_an_older_value_win(crm_sandbox: Sandbox) -> None:
    """Ten edits posted shuffled, each twice: the newest quantity and price end on Amazon."""
    with holding(crm_sandbox):
        for quantity in range(1, 11):
            set_stock(crm_sandbox, SKU, quantity)
            set_price(crm_sandbox, UK, SKU, 20 + quantity)
    post_events(crm_sandbox, shuffled_twice(held_events(crm_sandbox)))
    crm_sandbox.deliver_crm_events()
    assert crm_sandbox.spapi.listings.quantity(SKU) == 10
    assert crm_sandbox.spapi.listings.price(SKU, UK) == (Decimal("30"), "GBP")
    assert dead_letters(crm_sandbox) == []


def test_a_value_sent_already_costs_no_call_when_its_event_comes_again(crm_sandbox: Sandbox) -> None:
    """Redelivered events after the change landed are covered: no SP-API call at all."""
    set_stock(crm_sandbox, SKU, 7)
    crm_sandbox.deliver_crm_events()
    before = amazon_calls(crm_sandbox)
    post_events(crm_sandbox, [message.body for message in crm_sandbox.dataverse.events.delivered])
    crm_sandbox.deliver_crm_events()
    assert amazon_calls(crm_sandbox) == before


@pytest.mark.parametrize(
    "crm_sandbox",
    [
        SandboxOptions(
            retry=FAST_RETRY, crm_events=True, settings={"DATAVERSE_ORGANIZATION_ID": ORGANIZATION_ID}
        )
    ],
    indirect=True,
)
def test_what_cannot_or_must_not_reach_amazon_is_dead_lettered_with_a_clear_reason(
    crm_sandbox: Sandbox,
) -> None:
    """Not a context, another organization's, a table no step should send, a product without SKU, a price in a
    currency its marketplace does not sell in: each dead-lettered with its reason; nothing sent to Amazon."""
    post_events(
        crm_sandbox,
        [
            b"<not json>",
            context("products", changed={"quantityonhand": 1}, post={"productnumber": "X"}).replace(
                ORGANIZATION_ID.encode(), str(uuid.uuid4()).encode()
            ),
            context("accounts", changed={"name": "Contoso"}),
        ],
    )
    crm = crm_sandbox.crm()
    assert (
        crm.patch(f"products({product_id(SKU)})", {"productnumber": None, "quantityonhand": 3}).status_code
        == 204
    )
    euro_list = crm.post(
        "pricelevels",
        {
            "name": "Amazon UK",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({CURRENCY_IDS['EUR']})",
        },
        headers={"Prefer": "return=representation"},
    ).json()["pricelevelid"]
    item = {
        "pricelevelid@odata.bind": f"/pricelevels({euro_list})",
        "productid@odata.bind": f"/products({product_id('HB-BOTTLE-750-BLK')})",
        "uomid@odata.bind": f"/uoms({UNIT_ID})",
        "amount": 21.5,
    }
    assert crm.post("productpricelevels", item).status_code == 204
    crm_sandbox.deliver_crm_events()
    reasons = sorted(reason or "" for reason, _ in dead_letters(crm_sandbox))
    assert reasons == [
        "ForeignOrganization",
        "MalformedEventContext",
        "NoMarketplaceForCurrency",
        "ProductWithoutSku",
        "UnroutableEvent",
    ]
    descriptions = dict(dead_letters(crm_sandbox))
    assert "not valid JSON" in str(descriptions["MalformedEventContext"])
    assert "is in EUR" in str(descriptions["NoMarketplaceForCurrency"])
    assert amazon_calls(crm_sandbox) == 0


def test_an_invalid_answer_is_dead_lettered_with_amazons_issue_codes(crm_sandbox: Sandbox) -> None:
    """A negative price reaches Amazon, which answers INVALID: the event is dead-lettered with the issue."""
    set_price(crm_sandbox, US, SKU, -5)
    crm_sandbox.deliver_crm_events()
    [(reason, description)] = dead_letters(crm_sandbox)
    assert reason == "ListingRejected"
    assert "4000001" in str(description)
    assert "Your Price" in str(description)


def test_changes_of_many_skus_at_once_go_through_the_backlog_as_one_feed(azurite) -> None:
    """With the usage plan spent, every listing waits in the backlog; one timer run sends them all as one
    JSON_LISTINGS_FEED (threshold lowered for the test), the next reads its report, and the waiting messages
    complete once Amazon took the values: no patch at all."""
    options = SandboxOptions(
        retry=FAST_RETRY,
        crm_events=True,
        settings={"LISTINGS_FEED_THRESHOLD": "3", "SPAPI_MARKETPLACE_IDS": US},
    )
    with Sandbox(options, azurite=azurite) as sandbox:
        session = sandbox.runtime().spapi
        session.max_rate_wait = (
            1.0  # a patch token would take 100 s: each listing goes to the backlog at once
        )
        session.use_plan("patchListingsItem", 0.01, 5)  # an empty bucket refilling slowly, as after a burst
        for product in CATALOG:
            set_stock(sandbox, product.seller_sku, 11)
        totals = _deliver_with_backlog(sandbox, waiting=len(CATALOG))
        assert (totals["feeds_sent"], totals["in_feed"], totals["accepted"]) == (
            1,
            len(CATALOG),
            len(CATALOG),
        )
        assert all(sandbox.spapi.listings.quantity(product.seller_sku) == 11 for product in CATALOG)
        assert patches(sandbox) == 0
        assert dead_letters(sandbox) == []


def _deliver_with_backlog(sandbox: Sandbox, *, waiting: int) -> Counter[str]:
    """Deliver the events; once `waiting` listings are in the backlog, run the timer, Amazon processes the feed,
    run the timer again (it reads the report), and let the waiting messages find their answers."""
    results: dict[str, object] = {}
    delivery = threading.Thread(target=lambda: results.update(stats=sandbox.deliver_crm_events(timeout=120)))
    delivery.start()
    store = sandbox.runtime().listing_sender.store
    deadline = time.monotonic() + 60
    while len(list(store.in_lane(Lane.BACKLOG))) < waiting and time.monotonic() < deadline:
        time.sleep(0.2)
    backlog = sandbox.runtime().listings_backlog
    totals: Counter[str] = backlog.run()
    sandbox.spapi.feeds.finish_now()
    totals.update(backlog.run())
    delivery.join()
    assert "stats" in results, "the events were not all delivered"
    return totals


def test_inventory_changes_carry_no_buyer_data(crm_sandbox: Sandbox) -> None:
    """The topic's message is SKU, marketplace, quantity, source and time, nothing else."""
    set_stock(crm_sandbox, SKU, 3)
    crm_sandbox.deliver_crm_events()
    assert crm_sandbox.crm_pipeline is not None
    [first, *_] = crm_sandbox.crm_pipeline.inventory_changes()
    assert set(first) == {"sku", "marketplaceId", "quantity", "source", "time"}
    assert json.dumps(first).count("@") == 0
