"""The notification path as deployed, on local stand-ins:

    SQS (moto server) -> `sqs_bridge` timer function -> Service Bus (AMQP stand-in) -> `amazon_notifications`

The bridge runs as its timer does in Azure, one run after another in the background, while the host
stand-in takes batches from the Service Bus queue through the SDK and invokes the order-sync function.
`deliver()` returns when SQS and Service Bus are both empty and nothing is locked.
"""

from __future__ import annotations

import statistics
import threading
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sandbox.functions_host import HostStats, LocalFunctionsHost, LockedMessage, registered_functions
from sandbox.moto_sqs import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, MotoSqs
from sandbox.servicebus_broker import QueueOptions, ServiceBusStandIn
from sandbox.servicebus_source import ServiceBusQueueSource

SQS_QUEUE = "sp-api-notifications"


@dataclass
class DeliveryStats:
    host: HostStats = field(default_factory=HostStats)
    bridge_runs: int = 0
    bridge_failures: int = 0  # failed runs (the host logs them; the next run retries, as in Azure)
    latencies: list[float] = field(default_factory=list)  # seconds from SQS send to the function's start

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0


class AmazonPipeline:
    def __init__(
        self,
        queue: str,
        *,
        bridge_seconds: float = 2.0,
        max_batch: int = 32,
        lock_seconds: float = 30.0,
        bus: ServiceBusStandIn | None = None,
    ) -> None:
        """`bus`: a stand-in the caller starts and stops (shared with other queues); None: one of its own."""
        self.queue = queue
        self.bridge_seconds = bridge_seconds
        self.max_batch = max_batch
        self.sqs = MotoSqs()
        self._own_bus = bus is None
        self.bus = bus or ServiceBusStandIn()
        self.bus.add_queue(
            queue,
            QueueOptions(
                max_delivery_count=10,
                lock_duration=timedelta(seconds=lock_seconds),
                requires_duplicate_detection=True,
                duplicate_detection_window=timedelta(minutes=10),
            ),
        )
        self.queue_url = ""
        self.published = 0  # messages Amazon (the scenario) put on SQS
        self._client: Any = None

    def start(self) -> None:
        self.sqs.start()
        if self._own_bus:
            self.bus.start()
        self.queue_url = self.sqs.create_queue(SQS_QUEUE, VisibilityTimeout="30")
        self._client = self.sqs.client()

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._own_bus:
            self.bus.stop()
        self.sqs.stop()

    def environment(self) -> dict[str, str]:
        return {
            "ServiceBusConnection": self.bus.connection_string,
            "SQS_QUEUE_URL": self.queue_url,
            "SQS_ENDPOINT": self.sqs.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "BRIDGE_MAX_SECONDS": str(self.bridge_seconds),
        }

    # --- Amazon's side ---------------------------------------------------------------------------------
    def publish(self, body: bytes) -> None:
        """What Amazon does: the whole notification envelope as the SQS message body."""
        self._client.send_message(QueueUrl=self.queue_url, MessageBody=body.decode("utf-8"))
        self.published += 1

    def sqs_depth(self) -> int:
        attributes = self._client.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    # --- the function app ---------------------------------------------------------------------------------
    def deliver(
        self, app: Any, *, timeout: float = 600.0, publisher: Callable[[], None] | None = None
    ) -> DeliveryStats:
        """Run bridge and function until everything is through. A `publisher` runs alongside, as Amazon
        publishes while the app works (and a queue that stays short is what SQS is built for)."""
        stats = DeliveryStats()
        publishing = (
            threading.Thread(target=publisher, name="amazon publisher", daemon=True) if publisher else None
        )
        source = ServiceBusQueueSource(self.bus.connection_string, self.queue)

        def started(batch: list[LockedMessage]) -> None:
            now = time.time()
            for message in batch:
                sent = message.application_properties.get("sqs.SentTimestamp")
                if sent is not None and message.delivery_count == 0:
                    stats.latencies.append(now - int(sent) / 1000)

        host = LocalFunctionsHost(
            app, "amazon_notifications", source, max_batch=self.max_batch, on_invocation_start=started
        )
        bridge = _BridgeTimer(app, stats)
        bridge.start()
        if publishing is not None:
            publishing.start()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                batch = source.receive(self.max_batch, 0.5)
                if batch:
                    host.invoke(batch)
                    continue
                if (publishing is None or not publishing.is_alive()) and self._drained():
                    break
            else:
                raise TimeoutError(f"notifications still in flight after {timeout}s")
        finally:
            bridge.stop()
            source.close()
        stats.host = host.stats
        return stats

    def _drained(self) -> bool:
        counts = self.bus.counts(self.queue)  # scheduled copies count as active: they are still to come
        return counts["active"] == 0 and counts["locked"] == 0 and self.sqs_depth() == 0

    def dead_letters(self) -> list[Any]:
        return list(self.bus.dead_letters(self.queue))


class _BridgeTimer:
    """The `sqs_bridge` timer, firing again as soon as a run ends (in Azure: every minute, 50 s runs)."""

    def __init__(self, app: Any, stats: DeliveryStats) -> None:
        self._function = registered_functions(app)["sqs_bridge"]
        self._stats = stats
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqs_bridge timer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def _run(self) -> None:
        timer: Mapping[str, Any] = {"past_due": False}
        while not self._stop.is_set():
            self._stats.bridge_runs += 1
            try:
                self._function(timer=types.SimpleNamespace(**timer))
            except Exception:  # noqa: BLE001 - the host logs a failed run; the next one picks up what is left
                self._stats.bridge_failures += 1
                self._stop.wait(0.5)
