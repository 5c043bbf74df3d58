"""Merchant-fulfilled orders shipped in Dynamics are confirmed to Amazon (Orders API v0 confirmShipment), over the
deployed path: salesorder step -> Service Bus (AMQP stand-in) -> dataverse_events -> SP-API (emulator)."""

from __future__ import annotations

import pytest

from sandbox.dataverse_emulator.webapi_client import WebApiClient
from sandbox.harness import Sandbox
from tests.crm_support import (
    amazon_calls,
    amazon_order,
    crm_lines,
    crm_order,
    dead_letters,
    fulfil,
    post_events,
    record_shipment,
    ship_lines,
)

pytestmark = [pytest.mark.sockets, pytest.mark.slow]


def confirmed(
    sandbox: Sandbox, order_id: str
) -> list[tuple[str | None, tuple[tuple[str, int], ...], str | None]]:
    return [
        (c.package_reference_id, c.items, c.tracking_number)
        for c in sandbox.spapi.shipments.confirmations
        if c.order_id == order_id
    ]


def test_a_partial_then_a_full_shipment_become_two_packages_by_line_quantities(crm_sandbox: Sandbox) -> None:
    """Shipping one line with a tracking number confirms that line; fulfilling the order confirms the rest."""
    order = amazon_order(crm_sandbox, items=2)
    first, second = crm_lines(crm_sandbox, order.order_id)
    ship_lines(crm_sandbox, [first])
    record_shipment(crm_sandbox, order.order_id, "1Z001")
    crm_sandbox.deliver_crm_events()
    record_shipment(crm_sandbox, order.order_id, "1Z002")
    fulfil(crm_sandbox, order.order_id)
    crm_sandbox.deliver_crm_events()
    assert confirmed(crm_sandbox, order.order_id) == [
        ("1", ((first["new_amazonorderitemid"], int(first["quantity"])),), "1Z001"),
        ("2", ((second["new_amazonorderitemid"], int(second["quantity"])),), "1Z002"),
    ]
    stored = crm_sandbox.spapi.get_stored_order(order.order_id)
    assert stored is not None
    assert stored["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert dead_letters(crm_sandbox) == []


def test_a_redelivered_shipment_event_is_never_confirmed_twice(crm_sandbox: Sandbox) -> None:
    """The same event three times: one confirmShipment call, the repeats cost nothing at Amazon."""
    order = amazon_order(crm_sandbox, items=1)
    record_shipment(crm_sandbox, order.order_id, "1Z003")
    fulfil(crm_sandbox, order.order_id)
    crm_sandbox.deliver_crm_events()
    calls = amazon_calls(crm_sandbox)
    post_events(crm_sandbox, [m.body for m in crm_sandbox.dataverse.events.delivered] * 2)
    crm_sandbox.deliver_crm_events()
    assert len(crm_sandbox.spapi.shipments.attempts) == 1
    assert amazon_calls(crm_sandbox) == calls


def test_an_fba_order_is_never_confirmed(crm_sandbox: Sandbox) -> None:
    """Amazon ships AFN orders itself: fulfilling one in Dynamics sends nothing."""
    order = amazon_order(crm_sandbox, fulfilled_by="AMAZON", items=1, seed=9)
    record_shipment(crm_sandbox, order.order_id, "1Z004")
    fulfil(crm_sandbox, order.order_id)
    crm_sandbox.deliver_crm_events()
    assert crm_sandbox.spapi.shipments.attempts == []
    assert dead_letters(crm_sandbox) == []


def test_an_order_amazon_already_shows_shipped_costs_no_call_and_is_no_error(crm_sandbox: Sandbox) -> None:
    """The salesorder carries Amazon's SHIPPED (written by order sync): recording a shipment calls nobody."""
    order = amazon_order(crm_sandbox, items=1, seed=11)
    salesorder = crm_order(crm_sandbox, order.order_id)["salesorderid"]
    integration = WebApiClient(crm_sandbox.dataverse.service_root)  # acts as the app, as order sync does
    assert (
        integration.patch(f"salesorders({salesorder})", {"new_amazonorderstatus": "SHIPPED"}).status_code
        == 204
    )
    calls = amazon_calls(crm_sandbox)
    record_shipment(crm_sandbox, order.order_id, "1Z005")
    crm_sandbox.deliver_crm_events()
    assert amazon_calls(crm_sandbox) == calls
    assert crm_sandbox.spapi.shipments.attempts == []
    assert dead_letters(crm_sandbox) == []


def test_an_order_shipped_at_amazon_before_dynamics_knew_is_recorded_not_refused(
    crm_sandbox: Sandbox,
) -> None:
    """Amazon refuses the confirmation (shipped elsewhere); getOrder shows it shipped: done, no dead letter."""
    order = amazon_order(crm_sandbox, items=1, seed=12)
    crm_sandbox.spapi.put_order(order.advance("SHIPPED").to_api())
    record_shipment(crm_sandbox, order.order_id, "1Z007")
    fulfil(crm_sandbox, order.order_id)
    crm_sandbox.deliver_crm_events()
    assert [a.status for a in crm_sandbox.spapi.shipments.attempts] == [400]
    assert dead_letters(crm_sandbox) == []
    assert crm_sandbox.runtime().shipment_sync.totals["found_at_amazon"] == 1


def test_a_shipment_amazon_refuses_is_dead_lettered_with_its_message(crm_sandbox: Sandbox) -> None:
    """Amazon cancelled the order meanwhile (the CRM does not know yet): the refusal is a dead letter."""
    order = amazon_order(crm_sandbox, items=1, seed=13)
    crm_sandbox.spapi.put_order(order.advance("CANCELLED").to_api())
    record_shipment(crm_sandbox, order.order_id, "1Z006")
    fulfil(crm_sandbox, order.order_id)
    crm_sandbox.deliver_crm_events()
    [(reason, description)] = dead_letters(crm_sandbox)
    assert reason == "ShipmentRejected"
    assert "CANCELLED" in str(description)
