"""The sandbox with what the operations endpoints need: the Service Bus stand-in (the resync queue, the
notifications queue's dead letters), the HTTP front door of the host stand-in, and Amazon plans raised so a
test is about the app, not about waiting for quota.

Raised plans (time-scaled, say so where a figure is reported): getOrder 200 requests/s with a burst of 200
(published: 0.5/s, burst 30); searchOrders 20/s (published: one per ~3 minutes after a burst of 20).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import requests

from sandbox.azurite import Azurite
from sandbox.functions_host import HostStats, LocalFunctionsHost
from sandbox.harness import Sandbox, SandboxOptions
from sandbox.http_host import LocalHttpHost
from sandbox.servicebus_broker import QueueOptions, ServiceBusStandIn
from sandbox.servicebus_source import ServiceBusQueueSource
from shared.amazon.client import RATE_MARGIN
from shared.resilience import TokenBucket
from tests.sandbox_support import FAST_RETRY

NOTIFICATIONS = "amazon-notifications"
RESYNC = "resync"
RAISED_PLANS = {"getOrder": (200.0, 200), "searchOrders": (20.0, 20)}
# Deployed queues lock for 5 minutes; a backfill step inside one message may take a while here too.
QUEUE_OPTIONS = QueueOptions(lock_duration=timedelta(minutes=5))


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()


@dataclass
class Ops:
    sandbox: Sandbox
    bus: ServiceBusStandIn
    http: LocalHttpHost

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        json_body: Any = None,
        key: bool = True,
    ) -> Answer:
        """One HTTP request to the host stand-in, which routes it to the registered function (with the
        function key in `?code=`, as operators' scripts send it, unless `key=False`)."""
        sent = dict(headers or {})
        params = dict(query or {})
        if key:
            params["code"] = self.http.function_key
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            sent.setdefault("content-type", "application/json")
        response = requests.request(
            method, self.http.url(path), params=params, headers=sent, data=body, timeout=300
        )
        return Answer(
            response.status_code,
            {name.lower(): value for name, value in response.headers.items()},
            response.content,
        )

    def publish_to_bus(self, envelope: Mapping[str, Any]) -> None:
        """A notification onto the Service Bus notifications queue, as the bridge forwards it."""
        from azure.servicebus import ServiceBusClient, ServiceBusMessage

        metadata = envelope["NotificationMetadata"]
        message = ServiceBusMessage(json.dumps(envelope), message_id=metadata["NotificationId"])
        with (
            ServiceBusClient.from_connection_string(self.bus.connection_string) as client,
            client.get_queue_sender(NOTIFICATIONS) as sender,
        ):
            sender.send_messages(message)

    def run_queue(self, queue: str, function: str, *, timeout: float = 300.0) -> HostStats:
        """Invoke `function` on the Service Bus queue until it holds nothing (scheduled copies included)."""
        import function_app

        source = ServiceBusQueueSource(self.bus.connection_string, queue)
        host = LocalFunctionsHost(function_app.app, function, source, max_batch=100)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                batch = source.receive(100, 0.5)
                if batch:
                    host.invoke(batch)
                    continue
                counts = self.bus.counts(queue)
                if counts["active"] == 0 and counts["locked"] == 0:
                    return host.stats
            raise TimeoutError(f"{queue} still holds messages after {timeout}s")
        finally:
            source.close()


def raise_plans(sandbox: Sandbox) -> None:
    """A seller on raised plans, buckets full (the connector paces by what Amazon grants)."""
    session = sandbox.runtime().spapi
    for operation, (rate, burst) in RAISED_PLANS.items():
        session.buckets[operation] = TokenBucket(rate * RATE_MARGIN, int(burst))


@contextmanager
def running_ops(azurite: Azurite) -> Iterator[Ops]:
    queues = {NOTIFICATIONS: QUEUE_OPTIONS, RESYNC: QUEUE_OPTIONS}
    with ServiceBusStandIn(queues) as bus, pytest.MonkeyPatch.context() as patch:
        # The in-memory sandbox has no Service Bus of its own: the app reaches the stand-in as it would Azure.
        patch.setenv("ServiceBusConnection", bus.connection_string)
        options = SandboxOptions(retry=FAST_RETRY, spapi_rate_limits=RAISED_PLANS, max_batch=100)
        with Sandbox(options, azurite=azurite) as sandbox:
            import function_app

            raise_plans(sandbox)
            with LocalHttpHost(function_app.app) as http:
                yield Ops(sandbox, bus, http)


def seed_listings(sandbox: Sandbox) -> None:
    """The Dynamics -> Amazon catalog on the operations sandbox: a price list per marketplace and the CRM user
    (no events are delivered: nothing reaches the app but what a test sends), and the sample listings on Amazon."""
    from sandbox.crm_catalog import seed_crm_catalog
    from sandbox.dataverse_seed import SAMPLE_STOCK_ON_HAND
    from sandbox.harness import MARKETPLACE_IDS

    seed_crm_catalog(sandbox.dataverse)
    sandbox.spapi.listings.seed_catalog(MARKETPLACE_IDS, quantity=int(SAMPLE_STOCK_ON_HAND))


@pytest.fixture
def ops(azurite: Azurite) -> Iterator[Ops]:
    with running_ops(azurite) as running:
        yield running


@pytest.fixture(scope="module")
def shared_ops(azurite: Azurite) -> Iterator[Ops]:
    """One sandbox for a module of tests that only read (validation, 404s)."""
    with running_ops(azurite) as running:
        yield running
