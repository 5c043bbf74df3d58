"""No ping-pong between the two directions: what the integration writes into Dynamics (it came from Amazon) is
never sent back to Amazon, and a value equal to the last one sent costs no call, even with steps registered on
every table the integration writes."""

from __future__ import annotations

import pytest

from sandbox.crm_catalog import product_id
from sandbox.dataverse_emulator.webapi_client import WebApiClient
from sandbox.harness import Sandbox
from tests.crm_support import DE, SKU, UK, US, amazon_calls, dead_letters, patches, set_stock

pytestmark = [pytest.mark.sockets, pytest.mark.slow]


def register_extra_steps(sandbox: Sandbox, table: str) -> None:
    """An administrator's own steps (Create and Update) on a table the integration writes, posting to our queue."""
    api = WebApiClient(sandbox.dataverse.service_root)
    [endpoint] = api.get("serviceendpoints", {"$select": "serviceendpointid"}).json()["value"]
    for name in ("Create", "Update"):
        [message] = api.get("sdkmessages", {"$filter": f"name eq '{name}'"}).json()["value"]
        query = f"primaryobjecttypecode eq '{table}' and _sdkmessageid_value eq {message['sdkmessageid']}"
        [message_filter] = api.get("sdkmessagefilters", {"$filter": query}).json()["value"]
        step = {
            "name": f"admin: {table} {name}",
            "stage": 40,
            "mode": 1,
            "eventhandler_serviceendpoint@odata.bind": f"/serviceendpoints({endpoint['serviceendpointid']})",
            "sdkmessageid@odata.bind": f"/sdkmessages({message['sdkmessageid']})",
            "sdkmessagefilterid@odata.bind": f"/sdkmessagefilters({message_filter['sdkmessagefilterid']})",
        }
        assert api.post("sdkmessageprocessingsteps", step).status_code == 204


def settle(sandbox: Sandbox) -> None:
    """Run both directions until neither has anything left."""
    for _ in range(3):
        sandbox.deliver()
        sandbox.deliver_crm_events()


def test_changes_travel_once_in_each_direction_and_never_come_back(crm_sandbox: Sandbox) -> None:
    """A person's stock edit reaches Amazon once; Amazon's FBA stock reaches Dynamics once; the integration's own
    writes (FBA rows, a product stock written back by the app) raise events that are dropped as its own; re-saving
    the value last sent costs nothing. After settling, a second settle round makes no call at all."""
    register_extra_steps(crm_sandbox, "new_amazonfbastock")
    set_stock(crm_sandbox, SKU, 12)
    crm_sandbox.spapi.inventory.set_stock(SKU, US, asin="B0CZ1PQR7S", product_name=SKU, fulfillable=30)
    crm_sandbox.publish(crm_sandbox.spapi.inventory.availability_notification(SKU))
    settle(crm_sandbox)
    assert crm_sandbox.spapi.listings.quantity(SKU) == 12
    assert patches(crm_sandbox) == 3  # one per marketplace
    as_integration = WebApiClient(crm_sandbox.dataverse.service_root)  # the app's own identity
    assert as_integration.patch(f"products({product_id(SKU)})", {"quantityonhand": 99}).status_code == 204
    set_stock(crm_sandbox, SKU, 12)  # a person saves the product again with the value Amazon has
    settle(crm_sandbox)
    calls = amazon_calls(crm_sandbox)
    settle(crm_sandbox)
    assert amazon_calls(crm_sandbox) == calls
    assert patches(crm_sandbox) == 3
    assert crm_sandbox.spapi.listings.quantity(SKU) == 12
    totals = crm_sandbox.runtime().dataverse_events.totals
    assert totals["own_write"] >= 2, totals  # the FBA row and the app's product write
    assert totals["unchanged"] >= 1
    assert crm_sandbox.crm_pipeline is not None
    directions = sorted(
        (change["source"], change["marketplaceId"]) for change in crm_sandbox.crm_pipeline.inventory_changes()
    )
    assert directions == sorted([("amazon-fba", US), ("crm", US), ("crm", UK), ("crm", DE)])
    assert dead_letters(crm_sandbox) == []
