"""Service Bus clients for code that sends or inspects queues itself (the bridge, the dead-letter tools).

The trigger does not need this: the Functions host connects with the `ServiceBusConnection` setting. Here we
follow the same setting: a connection string when `ServiceBusConnection` is set (local development, the
sandbox's AMQP stand-in), otherwise `ServiceBusConnection__fullyQualifiedNamespace` with the app's managed
identity (role *Azure Service Bus Data Sender* for the bridge, *Data Owner* for replaying dead letters).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.errors import ConfigurationError

if TYPE_CHECKING:
    from azure.servicebus import ServiceBusClient

    from shared.config import Settings


def service_bus_client(settings: Settings) -> ServiceBusClient:
    from azure.servicebus import ServiceBusClient

    if settings.service_bus_connection is not None:
        return ServiceBusClient.from_connection_string(settings.service_bus_connection.get_secret_value())
    if settings.service_bus_namespace:
        from azure.identity import DefaultAzureCredential

        return ServiceBusClient(settings.service_bus_namespace, DefaultAzureCredential())
    raise ConfigurationError(
        "no Service Bus connection: set ServiceBusConnection__fullyQualifiedNamespace (or ServiceBusConnection)"
    )
