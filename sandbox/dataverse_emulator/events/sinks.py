"""Where the emulator hands the messages of registered steps: a sink is any callable taking an EventMessage.

`ServiceBusSink` sends each message to the endpoint's queue (or topic) with the unmodified azure-servicebus
SDK, the way Dataverse posts to an Azure Service Bus endpoint: the context as the body, its content type
(application/json for messageformat Json), and the property bag Dataverse adds to every message (learn.
microsoft.com write-listener-application-azure-solution, "Filter messages"): organization, calling user,
initiating user, table logical name and request name, under the claim names of Microsoft.Xrm.Sdk.ClaimTypes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..tables.events import AUTH_CONNECTION_STRING, CONTRACT_TOPIC

CLAIMS = "http://schemas.microsoft.com/xrm/2011/Claims/"
ORGANIZATION_PROPERTY = CLAIMS + "Organization"
USER_PROPERTY = CLAIMS + "User"
INITIATING_USER_PROPERTY = CLAIMS + "InitiatingUser"
ENTITY_PROPERTY = CLAIMS + "EntityLogicalName"
REQUEST_PROPERTY = CLAIMS + "RequestName"
USER_AGENT_PROPERTY = CLAIMS + "InitiatingUserAgent"

CONTENT_TYPES = {1: "application/msbin1", 2: "application/json", 3: "application/xml"}


@dataclass(frozen=True)
class EventMessage:
    """One post of a step to its service endpoint."""

    endpoint: Mapping[str, Any]  # the serviceendpoint row, secrets included: a sink may need the SAS key
    step_id: str
    message: str  # Create / Update / Delete
    entity: str
    record_id: str
    body: bytes
    content_type: str
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The queue or topic the endpoint names."""
        return str(self.endpoint.get("path") or "")


EventSink = Callable[[EventMessage], None]


def connection_string_of(endpoint: Mapping[str, Any]) -> str:
    """The Service Bus connection string a registered endpoint describes (SAS key or connection string)."""
    if endpoint.get("authtype") == AUTH_CONNECTION_STRING and endpoint.get("authvalue"):
        return str(endpoint["authvalue"])
    address = str(
        endpoint.get("namespaceaddress")
        or f"sb://{endpoint.get('solutionnamespace')}.servicebus.windows.net/"
    )
    return f"Endpoint={address};SharedAccessKeyName={endpoint.get('saskeyname')};SharedAccessKey={endpoint.get('saskey')}"


class ServiceBusSink:
    """Sends to the endpoint's queue with azure-servicebus. `connection_string` (the sandbox's stand-in)
    overrides what the endpoint row says; one client and one sender per queue are kept until close()."""

    def __init__(self, connection_string: str | None = None) -> None:
        self.connection_string = connection_string
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._senders: dict[tuple[str, str], Any] = {}

    def __call__(self, message: EventMessage) -> None:
        from azure.servicebus import ServiceBusMessage  # imported when used: the SDK is slow to import

        outgoing = ServiceBusMessage(
            message.body,
            content_type=message.content_type,
            application_properties={str(name): value for name, value in message.properties.items()},
        )
        with self._lock:
            self._sender(message).send_messages(outgoing)

    def _sender(self, message: EventMessage) -> Any:
        from azure.servicebus import ServiceBusClient

        connection = self.connection_string or connection_string_of(message.endpoint)
        client = self._clients.get(connection)
        if client is None:
            client = self._clients[connection] = ServiceBusClient.from_connection_string(connection)
        key = (connection, message.path)
        sender = self._senders.get(key)
        if sender is None:
            is_topic = message.endpoint.get("contract") == CONTRACT_TOPIC
            sender = (
                client.get_topic_sender(message.path) if is_topic else client.get_queue_sender(message.path)
            )
            self._senders[key] = sender
        return sender

    def close(self) -> None:
        with self._lock:
            for sender in self._senders.values():
                sender.close()
            for client in self._clients.values():
                client.close()
            self._senders.clear()
            self._clients.clear()
