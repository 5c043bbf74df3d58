"""Dataverse events reaching a Service Bus queue: the emulator's ServiceBusSink on the AMQP stand-in, read back
with the unmodified azure-servicebus SDK, as the product's listener will read them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusReceivedMessage, ServiceBusReceiveMode

from sandbox.dataverse_emulator import INTEGRATION_USER_ID, DataverseEmulator, ServiceBusSink
from sandbox.dataverse_emulator.events.sinks import (
    ENTITY_PROPERTY,
    INITIATING_USER_PROPERTY,
    REQUEST_PROPERTY,
)
from sandbox.dataverse_emulator.webapi_client import WebApiClient
from sandbox.dataverse_seed import PRODUCT_IDS
from sandbox.servicebus_broker import ServiceBusStandIn

pytestmark = pytest.mark.sockets

RETURN = {"Prefer": "return=representation"}


@pytest.fixture(scope="module")
def bus() -> Iterator[ServiceBusStandIn]:
    with ServiceBusStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def queue() -> str:
    return "crm-" + uuid.uuid4().hex[:8]


@pytest.fixture
def dv() -> Iterator[DataverseEmulator]:
    with DataverseEmulator() as emulator:
        emulator.load_seed()
        yield emulator


def register_product_updates(api: WebApiClient, endpoint: dict[str, Any]) -> None:
    handler = api.post("serviceendpoints", endpoint, headers=RETURN).json()["serviceendpointid"]
    [message] = api.get("sdkmessages", {"$filter": "name eq 'Update'"}).json()["value"]
    query = f"primaryobjecttypecode eq 'product' and _sdkmessageid_value eq {message['sdkmessageid']}"
    [filter_row] = api.get("sdkmessagefilters", {"$filter": query}).json()["value"]
    step = {
        "name": "product updates",
        "stage": 40,
        "mode": 1,
        "eventhandler_serviceendpoint@odata.bind": f"/serviceendpoints({handler})",
        "sdkmessageid@odata.bind": f"/sdkmessages({message['sdkmessageid']})",
        "sdkmessagefilterid@odata.bind": f"/sdkmessagefilters({filter_row['sdkmessagefilterid']})",
        "filteringattributes": "price",
    }
    assert api.post("sdkmessageprocessingsteps", step).status_code == 204


def queue_endpoint(queue: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "CRM events",
        "contract": 2,
        "messageformat": 2,
        "namespaceaddress": "sb://contoso.servicebus.windows.net/",
        "path": queue,
        "authtype": 2,
        "saskeyname": "RootManageSharedAccessKey",
        "saskey": "c2VjcmV0",
        **extra,
    }


def receive(bus: ServiceBusStandIn, queue: str, count: int) -> list[ServiceBusReceivedMessage]:
    received: list[ServiceBusReceivedMessage] = []
    with (
        ServiceBusClient.from_connection_string(bus.connection_string) as client,
        client.get_queue_receiver(queue, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE) as receiver,
    ):
        for _ in range(10):
            received += receiver.receive_messages(max_message_count=count, max_wait_time=1)
            if len(received) >= count:
                break
    return received


def test_a_registered_step_posts_the_context_to_the_queue(
    bus: ServiceBusStandIn, dv: DataverseEmulator, queue: str
) -> None:
    """A price change arrives on the endpoint's queue as application/json with Dataverse's property bag."""
    sink = ServiceBusSink(bus.connection_string)
    dv.events.sink = sink
    try:
        api = WebApiClient(dv.service_root)
        register_product_updates(api, queue_endpoint(queue))
        product = PRODUCT_IDS["MUG-CER-350-WHT"]
        for price in (10, 11, 12):
            assert api.patch(f"products({product})", {"price": price}).status_code == 204
        messages = receive(bus, queue, 3)
    finally:
        sink.close()
    assert [m.content_type for m in messages] == ["application/json"] * 3
    contexts = [json.loads(b"".join(m.body)) for m in messages]
    prices = [
        next(
            a["value"]["Value"] for a in c["InputParameters"][0]["value"]["Attributes"] if a["key"] == "price"
        )
        for c in contexts
    ]
    assert prices == [10, 11, 12]
    decoded = {_text(key): _text(value) for key, value in (messages[0].application_properties or {}).items()}
    assert decoded[ENTITY_PROPERTY] == "product"
    assert decoded[REQUEST_PROPERTY] == "Update"
    assert decoded[INITIATING_USER_PROPERTY] == INTEGRATION_USER_ID


def _text(value: object) -> object:
    """Application properties may come back as AMQP byte strings."""
    return value.decode() if isinstance(value, bytes) else value


def test_the_sink_can_connect_with_what_the_endpoint_says(
    bus: ServiceBusStandIn, dv: DataverseEmulator, queue: str
) -> None:
    """Without an override the sink uses the endpoint's own connection string (authtype 7)."""
    sink = ServiceBusSink()
    dv.events.sink = sink
    try:
        api = WebApiClient(dv.service_root)
        register_product_updates(api, queue_endpoint(queue, authtype=7, authvalue=bus.connection_string))
        api.patch(f"products({PRODUCT_IDS['TEA-EARLGREY-100']})", {"price": 9.5})
        [message] = receive(bus, queue, 1)
    finally:
        sink.close()
    assert json.loads(b"".join(message.body))["PrimaryEntityId"] == PRODUCT_IDS["TEA-EARLGREY-100"]
    assert dv.events.undelivered == []
