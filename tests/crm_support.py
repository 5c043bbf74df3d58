"""Helpers for the Dynamics -> Amazon tests on the sandbox: a person's edits in Dynamics, Amazon orders that
order sync has brought into the CRM, events sent to the queue as Dataverse would, and what Amazon shows."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.amazon_samples import FulfilledBy, OrderFactory, SampleOrder, order_change_notification
from sandbox.crm_catalog import price_item_id, product_id
from sandbox.dataverse_emulator.webapi_client import order_close
from sandbox.harness import MARKETPLACE_IDS, Sandbox, SandboxOptions
from tests.sandbox_support import FAST_RETRY

US, UK, DE = MARKETPLACE_IDS
SKU = "KT-POUROVER-02-WHT"
CRM_OPTIONS = SandboxOptions(retry=FAST_RETRY, crm_events=True)


@pytest.fixture
def crm_sandbox(azurite, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    options: SandboxOptions = getattr(request, "param", CRM_OPTIONS)
    with Sandbox(options, azurite=azurite) as sandbox:
        yield sandbox


def set_stock(sandbox: Sandbox, sku: str, quantity: float) -> None:
    response = sandbox.crm().patch(f"products({product_id(sku)})", {"quantityonhand": quantity})
    assert response.status_code == 204, response.text


def set_price(sandbox: Sandbox, marketplace_id: str, sku: str, amount: float) -> None:
    response = sandbox.crm().patch(
        f"productpricelevels({price_item_id(marketplace_id, sku)})", {"amount": amount}
    )
    assert response.status_code == 204, response.text


def patches(sandbox: Sandbox) -> int:
    return int(sandbox.spapi.requests.snapshot().get("patchListingsItem", 0))


def amazon_calls(sandbox: Sandbox) -> int:
    """SP-API calls the app made (Login with Amazon aside)."""
    return sum(count for name, count in sandbox.spapi.requests.snapshot().items() if name != "lwa.token")


def dead_letters(sandbox: Sandbox) -> list[tuple[str | None, str | None]]:
    assert sandbox.crm_pipeline is not None
    return [
        (view.dead_letter_reason, view.dead_letter_error_description)
        for view in sandbox.crm_pipeline.dead_letters()
    ]


def held_events(sandbox: Sandbox) -> list[bytes]:
    """Bodies Dataverse produced while the sink was off (see `holding`), in the order they happened."""
    return [message.body for message in sandbox.dataverse.events.delivered]


class holding:  # noqa: N801 - used as a context manager: `with holding(sandbox): ...`
    """Dataverse's events are produced but not posted: the test posts them itself (out of order, twice)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._events = sandbox.dataverse.events
        self._sink = self._events.sink

    def __enter__(self) -> None:
        self._events.delivered.clear()
        self._events.sink = None

    def __exit__(self, *exc: object) -> None:
        self._events.sink = self._sink


def post_events(sandbox: Sandbox, bodies: Sequence[bytes]) -> None:
    """Send context bodies to the dataverse-events queue as Dataverse's endpoint does (no message id)."""
    from azure.servicebus import ServiceBusClient, ServiceBusMessage

    assert sandbox.bus is not None
    with (
        ServiceBusClient.from_connection_string(sandbox.bus.connection_string) as client,
        client.get_queue_sender("dataverse-events") as sender,
    ):
        sender.send_messages([ServiceBusMessage(body, content_type="application/json") for body in bodies])


def shuffled_twice(bodies: Sequence[bytes], seed: int = 3) -> list[bytes]:
    twice = list(bodies) * 2
    random.Random(seed).shuffle(twice)
    return twice


# --- merchant orders in both systems --------------------------------------------------------------------
def amazon_order(
    sandbox: Sandbox, *, fulfilled_by: FulfilledBy = "MERCHANT", items: int = 2, seed: int = 5
) -> SampleOrder:
    """An unshipped order in Amazon, brought into the CRM by order sync (ORDER_CHANGE, amazon_notifications)."""
    order = OrderFactory(seed=seed, start=datetime.now(UTC) - timedelta(days=1)).order(
        status="UNSHIPPED",
        fulfilled_by=fulfilled_by,
        marketplace_id=US,
        item_count=items,
    )
    sandbox.spapi.put_order(order.to_api())
    sandbox.publish(order_change_notification(order))
    sandbox.deliver()
    return order


def crm_order(sandbox: Sandbox, order_id: str) -> dict[str, Any]:
    row = sandbox.dataverse.get_by_key("salesorders", new_amazonorderid=order_id)
    assert row is not None
    return row


def crm_lines(sandbox: Sandbox, order_id: str) -> list[dict[str, Any]]:
    rows = [
        line
        for line in sandbox.dataverse.records("salesorderdetails")
        if line["new_amazonorderid"] == order_id
    ]
    return sorted(rows, key=lambda line: str(line["new_amazonorderitemid"]))


def ship_lines(sandbox: Sandbox, lines: Sequence[dict[str, Any]]) -> None:
    for line in lines:
        body = {"quantityshipped": int(line["quantity"])}
        assert (
            sandbox.crm().patch(f"salesorderdetails({line['salesorderdetailid']})", body).status_code == 204
        )


def record_shipment(sandbox: Sandbox, order_id: str, tracking: str, carrier: str = "UPS") -> None:
    body = {"new_carrier": carrier, "new_trackingnumber": tracking, "new_shipdate": "2026-11-28T10:00:00Z"}
    response = sandbox.crm().patch(f"salesorders({crm_order(sandbox, order_id)['salesorderid']})", body)
    assert response.status_code == 204, response.text


def fulfil(sandbox: Sandbox, order_id: str) -> None:
    response = sandbox.crm().post(
        "FulfillSalesOrder", order_close(crm_order(sandbox, order_id)["salesorderid"])
    )
    assert response.status_code == 204, response.text
