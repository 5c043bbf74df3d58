"""The Dynamics -> Amazon path as deployed, on local stand-ins:

    Dataverse (emulator) --registered steps--> Service Bus queue dataverse-events (AMQP stand-in)
      --> `dataverse_events` (the registered function, via the Functions-host stand-in) --> SP-API (emulator)
      --> every applied inventory change --> topic inventory-changes and its subscriptions

The service endpoint and the steps are registered by `python -m shared.provision dataverse` (the sandbox runs
it at start, as a deployment's hook does); the emulator's events pipeline posts each step's
RemoteExecutionContext to the stand-in with the unmodified azure-servicebus SDK. `deliver()` returns when the queue is empty (rescheduled copies
included) and nothing is locked.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from sandbox.dataverse_emulator import DataverseEmulator, ServiceBusSink
from sandbox.functions_host import HostStats, LocalFunctionsHost
from sandbox.servicebus_broker import (
    MessageView,
    QueueOptions,
    ServiceBusStandIn,
    SubscriptionOptions,
    TopicOptions,
    subscription_path,
)
from sandbox.servicebus_source import ServiceBusQueueSource

EVENTS_QUEUE = "dataverse-events"
INVENTORY_TOPIC = "inventory-changes"
# The topic's documented subscriptions (README, infra/main.bicep): everything, and one per direction.
SUBSCRIPTIONS = {
    "all-changes": {},
    "from-crm": {"source": "crm"},
    "from-amazon-fba": {"source": "amazon-fba"},
    "from-amazon-mfn": {"source": "amazon-mfn"},
}


class CrmPipeline:
    def __init__(self, bus: ServiceBusStandIn, *, lock_seconds: float = 30.0, max_batch: int = 32) -> None:
        self.bus = bus
        self.max_batch = max_batch
        self._sink: ServiceBusSink | None = None
        self._lock = timedelta(seconds=lock_seconds)
        bus.add_queue(EVENTS_QUEUE, QueueOptions(lock_duration=self._lock))
        bus.add_topic(
            INVENTORY_TOPIC,
            TopicOptions(
                {
                    name: SubscriptionOptions(lock_duration=self._lock, correlation=correlation)
                    for name, correlation in SUBSCRIPTIONS.items()
                }
            ),
        )

    def environment(self) -> dict[str, str]:
        """The queue and topic, and the shared access key provisioning registers the endpoint with (the
        stand-in accepts any; the emulator's sink sends with the stand-in's connection string)."""
        key_name, key = _shared_access(self.bus.connection_string)
        return {
            "DATAVERSE_EVENTS_QUEUE": EVENTS_QUEUE,
            "INVENTORY_CHANGES_TOPIC": INVENTORY_TOPIC,
            "DATAVERSE_EVENTS_SAS_KEY_NAME": key_name,
            "DATAVERSE_EVENTS_SAS_KEY": key,
        }

    def connect(self, dataverse: DataverseEmulator) -> None:
        """Let the emulator post the registered steps' messages to the stand-in (provisioning, run by the
        sandbox as a deployment runs it, registered the endpoint and the steps)."""
        self._sink = ServiceBusSink(self.bus.connection_string)
        dataverse.events.sink = self._sink

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    # --- the function app -----------------------------------------------------------------------------------
    def deliver(self, app: Any, *, timeout: float = 120.0) -> HostStats:
        """Run `dataverse_events` over the queue until it is empty, rescheduled copies and redeliveries included."""
        source = ServiceBusQueueSource(self.bus.connection_string, EVENTS_QUEUE, max_wait_floor=0.1)
        host = LocalFunctionsHost(app, "dataverse_events", source, max_batch=self.max_batch)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                batch = source.receive(self.max_batch, 0.2)
                if batch:
                    host.invoke(batch)
                elif self.drained():
                    return host.stats
            raise TimeoutError(f"Dataverse events still in flight after {timeout}s")
        finally:
            source.close()

    def drained(self) -> bool:
        counts = self.bus.counts(EVENTS_QUEUE)  # scheduled copies count as active: they are still to come
        return counts["active"] == 0 and counts["locked"] == 0

    # --- inspection --------------------------------------------------------------------------------------------
    def dead_letters(self) -> list[MessageView]:
        return self.bus.dead_letters(EVENTS_QUEUE)

    def inventory_changes(self, subscription: str = "all-changes") -> list[dict[str, Any]]:
        """The bodies waiting in one of the topic's subscriptions, oldest first."""
        views = self.bus.active_messages(subscription_path(INVENTORY_TOPIC, subscription))
        return [json.loads(_bytes(view.body)) for view in views]


def _bytes(body: Any) -> bytes:
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return b"".join(bytes(part) for part in body) if isinstance(body, list) else str(body).encode()


def _shared_access(connection_string: str) -> tuple[str, str]:
    parts = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
    return parts["SharedAccessKeyName"], parts["SharedAccessKey"]
