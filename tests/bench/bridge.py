"""Bridge benchmark: SQS -> Service Bus throughput, and latency from SQS send to the start of
`amazon_notifications`, over 1,000 notifications on the sandbox (moto server, the AMQP stand-in).

Amazon publishes while the app runs, so the notifications are published by a second thread during the
measurement (batches of 10, as fast as moto takes them). moto answers slower the longer its queue is
(about 1 s per receive at 1,000 waiting messages), so the figures are a floor for a real SQS queue.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandbox.amazon_samples import OrderFactory, order_change_notification
from sandbox.azurite import Azurite
from sandbox.harness import Sandbox, SandboxOptions
from sandbox.moto_sqs import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, MotoSqs
from sandbox.servicebus_broker import ServiceBusStandIn

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

RAISED_PLAN = {"getOrder": (200.0, 200)}


@dataclass
class BridgeFigures:
    notifications: int
    seconds: float
    runs: int

    @property
    def per_second(self) -> float:
        return self.notifications / self.seconds if self.seconds else 0.0


def bridge_throughput(count: int, *, bridge_seconds: float = 10.0) -> BridgeFigures:
    """Publish `count` notifications to SQS while the bridge runs back to back; time until Service Bus holds
    them all."""
    from shared.bridge import run_bridge
    from shared.config import load_settings

    with MotoSqs() as sqs, ServiceBusStandIn() as bus:
        url = sqs.create_queue("bench")
        client = sqs.client()
        saved = dict(os.environ)
        os.environ.update(
            {
                "SPAPI_REFRESH_TOKEN": "x",
                "SPAPI_LWA_CLIENT_ID": "x",
                "SPAPI_LWA_CLIENT_SECRET": "x",
                "DATAVERSE_URL": "http://127.0.0.1:9",
                "DATAVERSE_AUTH": "none",
                "AzureWebJobsStorage": "UseDevelopmentStorage=true",
                "ServiceBusConnection": bus.connection_string,
                "SQS_QUEUE_URL": url,
                "SQS_ENDPOINT": sqs.endpoint_url,
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
                "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
                "BRIDGE_MAX_SECONDS": str(bridge_seconds),
            }
        )
        try:
            settings = load_settings()
            done = threading.Event()
            runs = 0

            def timer() -> None:
                nonlocal runs
                while not done.is_set():
                    run_bridge(settings)
                    runs += 1

            def publish() -> None:
                for start in range(0, count, 10):
                    entries: list[SendMessageBatchRequestEntryTypeDef] = [
                        {
                            "Id": str(index),
                            "MessageBody": json.dumps(
                                {"NotificationMetadata": {"NotificationId": str(uuid.uuid4())}}
                            ),
                        }
                        for index in range(min(10, count - start))
                    ]
                    client.send_message_batch(QueueUrl=url, Entries=entries)

            started = time.perf_counter()
            bridge = threading.Thread(target=timer, daemon=True)
            bridge.start()
            publisher = threading.Thread(target=publish, daemon=True)
            publisher.start()
            while bus.counts(settings.amazon_notifications_queue)["active"] < count:
                time.sleep(0.05)
            seconds = time.perf_counter() - started
            done.set()
            bridge.join(timeout=bridge_seconds + 30)
            client.close()
            return BridgeFigures(count, seconds, runs)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def pipeline_latencies(count: int, azurite: Azurite) -> tuple[float, float, float, int]:
    """(median, p95, max) seconds from SQS send to the start of the amazon_notifications invocation that
    received the message, and the number measured."""
    options = SandboxOptions(
        pipeline="amazon", max_batch=100, bridge_seconds=10, spapi_rate_limits=RAISED_PLAN
    )
    with Sandbox(options, azurite=azurite) as sandbox:
        orders = OrderFactory(seed=11).orders(count, status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
        for order in orders:
            sandbox.spapi.put_order(order.to_api())

        def publish() -> None:
            for order in orders:
                sandbox.publish(order_change_notification(order))

        sandbox.deliver(timeout=1200, publisher=publish)
        delivery = sandbox.last_delivery
        assert delivery is not None
        written = len(sandbox.dataverse.records("salesorders"))
        if written != count:
            raise RuntimeError(f"expected {count} orders, found {written}")
        return delivery.median, delivery.percentile(0.95), max(delivery.latencies), len(delivery.latencies)


def main(count: int = 1000) -> None:
    figures = bridge_throughput(count)
    print(
        f"bridge: {figures.notifications} notifications SQS -> Service Bus in {figures.seconds:.1f}s = {figures.per_second:.0f}/s ({figures.runs} timer runs)"
    )
    with Azurite() as azurite:
        median, p95, worst, measured = pipeline_latencies(count, azurite)
    print(
        f"SQS send -> amazon_notifications start, {measured} notifications: median {median:.2f}s, p95 {p95:.2f}s, max {worst:.2f}s"
    )
