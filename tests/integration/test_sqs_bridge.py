"""The SQS -> Service Bus bridge over real sockets: moto's server as SQS, the AMQP stand-in as Service Bus,
boto3 and the azure-servicebus SDK unmodified, the bridge built from Settings like the timer builds it.

Each test has an SQS queue and a Service Bus queue of its own. Timings are shortened through BridgeOptions
(visibility timeout of a few seconds) so crash-and-redelivery paths run in seconds.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from azure.servicebus import ServiceBusClient
from pydantic import SecretStr

from sandbox.moto_sqs import ACCESS_KEY_ID, SECRET_ACCESS_KEY, MotoSqs
from sandbox.servicebus_broker import ServiceBusStandIn
from shared.bridge import BridgeOptions, BridgeReport, run_bridge
from shared.bridge.sqs import BatchOutcome, Boto3SqsQueue, SqsMessage
from shared.config import Settings
from shared.servicebus.sender import OutgoingMessage, SendResult, ServiceBusQueueSender
from tests.builders import order_change, settings_env

pytestmark = pytest.mark.sockets

# Short timings: 3 s visibility = 1 s send + 0.5 s delete reserve + a 1 s long poll + spare.
FAST = BridgeOptions(
    max_seconds=2, visibility_timeout=3, send_timeout=1.0, delete_reserve=0.5, forward_reserve=0.5
)
RUN_SLACK = 0.5  # what the run loop (report.elapsed) may take beyond its budget: the last delete
CALL_SLACK = 2.0  # what run_bridge may take beyond it: also building and closing the SDK clients


@pytest.fixture(scope="module")
def bus() -> Iterator[ServiceBusStandIn]:
    with ServiceBusStandIn() as stand_in:  # queues are auto-created with duplicate detection on (10 minutes)
        yield stand_in


@pytest.fixture
def sqs_url(moto_sqs: MotoSqs) -> str:
    return moto_sqs.create_queue(f"notifications-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def sb_queue() -> str:
    return f"amazon-notifications-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def settings(moto_sqs: MotoSqs, bus: ServiceBusStandIn, sqs_url: str, sb_queue: str) -> Settings:
    values: dict[str, Any] = {
        **settings_env(),
        "SQS_QUEUE_URL": sqs_url,
        "SQS_ENDPOINT": moto_sqs.endpoint_url,
        "AWS_REGION": moto_sqs.region,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "ServiceBusConnection": bus.connection_string,
        "AMAZON_NOTIFICATIONS_QUEUE": sb_queue,
        "BRIDGE_ENABLED": "true",
        "KEY_VAULT_URL": None,
    }
    return Settings(**values)


def publish(moto_sqs: MotoSqs, url: str, bodies: Sequence[str], **attributes: str) -> list[str]:
    """SendMessageBatch in tens; returns the SQS MessageIds in order."""
    client = moto_sqs.client()
    message_attributes: Any = {
        name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
    }
    ids: list[str] = []
    try:
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            entries: Any = [
                {
                    "Id": f"e{i}",
                    "MessageBody": body,
                    **({"MessageAttributes": message_attributes} if attributes else {}),
                }
                for i, body in enumerate(chunk)
            ]
            answer = client.send_message_batch(QueueUrl=url, Entries=entries)
            assert not answer.get("Failed")
            by_entry = {entry["Id"]: entry["MessageId"] for entry in answer["Successful"]}
            ids.extend(by_entry[f"e{i}"] for i in range(len(chunk)))
    finally:
        client.close()
    return ids


def in_sqs(moto_sqs: MotoSqs, url: str) -> int:
    """Messages still in the queue, visible or in flight."""
    client = moto_sqs.client()
    try:
        attributes = client.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
    finally:
        client.close()
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def notification(notification_id: str) -> str:
    return json.dumps(order_change("113-0000000-0000001", notification_id=notification_id))


def timed_run(settings: Settings, **kwargs: Any) -> tuple[BridgeReport, float]:
    started = time.monotonic()
    report = run_bridge(settings, **kwargs)
    return report, time.monotonic() - started


@pytest.mark.slow
def test_300_notifications_arrive_on_service_bus_with_ids_bodies_and_properties(
    settings: Settings, moto_sqs: MotoSqs, bus: ServiceBusStandIn, sqs_url: str, sb_queue: str
) -> None:
    """300 notifications published to SQS land on Service Bus once each, keyed by NotificationId, body and SQS
    attributes intact, and SQS ends empty."""
    bodies = {f"nid-{i:03d}": notification(f"nid-{i:03d}") for i in range(300)}
    sqs_ids = dict(
        zip(publish(moto_sqs, sqs_url, list(bodies.values()), Source="sp-api"), bodies, strict=True)
    )
    # Short runs, one after the other, until one finds nothing (moto answers a receive in about 1 ms per
    # queued message, so 300 take a few seconds here).
    options = BridgeOptions(max_seconds=4, forward_reserve=0.5)
    reports: list[BridgeReport] = []
    while not reports or reports[-1].received:
        report, elapsed = timed_run(settings, options=options)
        assert report.elapsed <= options.max_seconds + RUN_SLACK
        assert elapsed <= options.max_seconds + CALL_SLACK
        assert report.ok, report.errors
        reports.append(report)
        assert len(reports) <= 20, "the bridge does not make progress"
    # a batch received in a run's last moments may be deferred (released unsent) to the next run
    assert sum(r.received for r in reports) == 300 + sum(r.deferred for r in reports)
    assert sum(r.forwarded for r in reports) == 300
    assert sum(r.deleted for r in reports) == 300
    assert in_sqs(moto_sqs, sqs_url) == 0
    landed = {str(view.message_id): view for view in bus.active_messages(sb_queue)}
    assert set(landed) == set(bodies)
    nid_of_sqs = {nid: sqs_id for sqs_id, nid in sqs_ids.items()}
    for nid, view in landed.items():
        assert view.body == bodies[nid].encode("utf-8")
        assert view.content_type == "application/json"
        assert view.subject == "ORDER_CHANGE"
        properties = view.application_properties
        assert properties["sqs.MessageId"] == nid_of_sqs[nid]
        assert str(properties["sqs.SentTimestamp"]).isdigit()  # epoch milliseconds, as SQS gives them
        assert int(str(properties["sqs.ApproximateReceiveCount"])) >= 1  # 2 if it was deferred once
        assert "sqs.ApproximateFirstReceiveTimestamp" in properties
        assert properties["sqs.attr.Source"] == "sp-api"
    latencies = [latency for r in reports for latency in r.latencies]
    assert len(latencies) == 300
    assert all(0 <= latency < 60 for latency in latencies)
    assert bus.counts(sb_queue)["duplicates_dropped"] == 0


def test_a_non_notification_is_forwarded_under_its_sqs_message_id(
    settings: Settings, moto_sqs: MotoSqs, bus: ServiceBusStandIn, sqs_url: str, sb_queue: str
) -> None:
    """A body that is not a notification is forwarded unchanged with the SQS MessageId as message_id."""
    [sqs_id] = publish(moto_sqs, sqs_url, ["<html>not a notification</html>"])
    report = run_bridge(settings, options=FAST)
    assert report.forwarded == 1
    [view] = bus.active_messages(sb_queue)
    assert view.message_id == sqs_id
    assert view.body == b"<html>not a notification</html>"
    assert in_sqs(moto_sqs, sqs_url) == 0


def test_a_crash_between_send_and_delete_is_absorbed_by_duplicate_detection(
    settings: Settings, moto_sqs: MotoSqs, bus: ServiceBusStandIn, sqs_url: str, sb_queue: str
) -> None:
    """The delete raising once (a crash after the send): SQS redelivers after the visibility timeout, Service Bus
    drops the repeats as duplicates, and the next run empties SQS."""
    publish(moto_sqs, sqs_url, [notification(f"crash-{i}") for i in range(5)])
    queue = Boto3SqsQueue.from_settings(settings)
    real_delete = queue.delete
    crashes = iter([True])

    def delete_once_crashing(messages: Sequence[SqsMessage]) -> BatchOutcome:
        if next(crashes, False):
            raise RuntimeError("the host died between the send and the delete")
        return real_delete(messages)

    queue.delete = delete_once_crashing  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError, match="host died"):
            run_bridge(settings, sqs=queue, options=FAST)
        assert bus.counts(sb_queue)["active"] == 5
        assert in_sqs(moto_sqs, sqs_url) == 5
        time.sleep(FAST.visibility_timeout + 0.5)  # the crashed run's receipts expire
        report = run_bridge(settings, sqs=queue, options=FAST)
    finally:
        queue.close()
    assert report.received == 5
    assert report.deleted == 5
    assert bus.counts(sb_queue) == {"active": 5, "dead_letter": 0, "locked": 0, "duplicates_dropped": 5}
    assert in_sqs(moto_sqs, sqs_url) == 0


def test_a_refused_send_deletes_nothing_and_the_next_run_forwards_everything(
    settings: Settings, moto_sqs: MotoSqs, bus: ServiceBusStandIn, sqs_url: str, sb_queue: str
) -> None:
    """Service Bus refusing the batch (server-busy, SDK retries off): nothing deleted from SQS, the run reports
    the failure; the next run forwards all of it."""
    publish(moto_sqs, sqs_url, [notification(f"busy-{i}") for i in range(10)])
    bus.fail_next_sends(sb_queue, 1)
    no_retry = ServiceBusClient.from_connection_string(bus.connection_string, retry_total=0)
    with ServiceBusQueueSender(no_retry, sb_queue) as sender:
        first = run_bridge(settings, sender=sender, options=FAST)
    assert (first.received, first.forwarded, first.deleted, first.failed_sends) == (10, 0, 0, 10)
    assert not first.ok
    assert "ServiceBusServerBusyError" in first.errors[0]
    assert first.released == 10
    assert in_sqs(moto_sqs, sqs_url) == 10
    assert bus.counts(sb_queue)["active"] == 0
    second = run_bridge(settings, options=FAST)
    assert (second.forwarded, second.deleted) == (10, 10)
    assert bus.counts(sb_queue)["active"] == 10
    assert in_sqs(moto_sqs, sqs_url) == 0


def test_the_sdks_own_retry_absorbs_a_single_refusal(
    settings: Settings, moto_sqs: MotoSqs, bus: ServiceBusStandIn, sqs_url: str, sb_queue: str
) -> None:
    """With the app's client (SDK retries on) one server-busy refusal costs a retry inside the send timeout."""
    publish(moto_sqs, sqs_url, [notification(f"retry-{i}") for i in range(3)])
    bus.fail_next_sends(sb_queue, 1)
    # a send timeout long enough for the SDK's first backoff (0.8 s)
    options = BridgeOptions(
        max_seconds=3, visibility_timeout=8, send_timeout=5, delete_reserve=0.5, forward_reserve=1
    )
    report = run_bridge(settings, options=options)
    assert report.ok, report.errors
    assert report.deleted == 3
    assert bus.counts(sb_queue)["active"] == 3


def test_a_send_stalled_beyond_its_timeout_loses_nothing_and_duplicates_nothing(
    settings: Settings, moto_sqs: MotoSqs, bus: ServiceBusStandIn, sqs_url: str, sb_queue: str
) -> None:
    """Service Bus holding its acknowledgement past the send timeout: no delete; the batch lands later anyway,
    and the next run's resend is dropped as a duplicate while SQS is emptied."""
    publish(moto_sqs, sqs_url, [notification(f"stall-{i}") for i in range(4)])
    bus.stall_sends(sb_queue, 2.0)
    first, elapsed = timed_run(settings, options=FAST)
    assert first.elapsed <= FAST.max_seconds + RUN_SLACK
    assert first.deleted == 0
    assert first.failed_sends == 4
    assert any("OperationTimeoutError" in error for error in first.errors)
    assert elapsed <= FAST.max_seconds + CALL_SLACK
    assert in_sqs(moto_sqs, sqs_url) == 4
    time.sleep(2.5)  # the stall ends and the stalled batch lands
    second = run_bridge(settings, options=FAST)
    assert second.deleted == 4
    counts = bus.counts(sb_queue)
    assert counts["active"] == 4
    assert counts["duplicates_dropped"] == 4
    assert in_sqs(moto_sqs, sqs_url) == 0


def test_an_idle_run_stops_within_its_budget(settings: Settings, moto_sqs: MotoSqs, sqs_url: str) -> None:
    """On an empty queue a run long-polls and returns within BRIDGE_MAX_SECONDS (plus closing)."""
    report, elapsed = timed_run(settings, options=FAST)
    assert report.received == 0
    assert report.receives >= 1
    assert report.elapsed <= FAST.max_seconds + RUN_SLACK
    assert elapsed <= FAST.max_seconds + CALL_SLACK
    assert report.ok


def test_a_run_under_a_continuous_trickle_stops_within_its_budget_and_forwards_everything(
    settings: Settings, moto_sqs: MotoSqs, bus: ServiceBusStandIn, sqs_url: str, sb_queue: str
) -> None:
    """Messages arriving every 20 ms never let a poll sit idle; the run still ends in time, and with the next run
    every published message is on Service Bus exactly once and SQS is empty."""
    stop = threading.Event()
    published: list[str] = []

    def trickle() -> None:
        while not stop.is_set():
            nid = f"trickle-{len(published):04d}"
            publish(moto_sqs, sqs_url, [notification(nid)])
            published.append(nid)
            stop.wait(0.02)

    producer = threading.Thread(target=trickle, daemon=True)
    producer.start()
    try:
        first, elapsed = timed_run(settings, options=FAST)
    finally:
        stop.set()
        producer.join(5)
    assert first.elapsed <= FAST.max_seconds + RUN_SLACK
    assert elapsed <= FAST.max_seconds + CALL_SLACK
    assert first.received >= 5
    assert first.ok, first.errors
    run_bridge(settings, options=FAST)
    landed = [str(view.message_id) for view in bus.active_messages(sb_queue)]
    assert sorted(landed) == sorted(published)
    assert in_sqs(moto_sqs, sqs_url) == 0


def test_a_batch_held_past_its_visibility_timeout_is_forwarded_once_and_deleted(
    settings: Settings, moto_sqs: MotoSqs, bus: ServiceBusStandIn, sqs_url: str, sb_queue: str
) -> None:
    """The host pauses after the send until the receipts expire; meanwhile another run receives the messages
    again and forwards them (dropped as duplicates). The late run still deletes (reported as late): Service Bus
    holds one copy of each and SQS ends empty."""
    publish(moto_sqs, sqs_url, [notification(f"late-{i}") for i in range(3)])
    paused = {"done": False}
    other_run: list[BridgeReport] = []

    class PausingSender(ServiceBusQueueSender):
        def send(self, messages: Sequence[OutgoingMessage], *, timeout: float) -> SendResult:
            result = super().send(messages, timeout=timeout)
            if not paused["done"]:
                paused["done"] = True
                time.sleep(FAST.visibility_timeout + 0.5)  # the receipts expire during the pause
                other_run.append(run_bridge(settings, options=FAST))  # another instance picks them up
            return result

    client = ServiceBusClient.from_connection_string(bus.connection_string)
    with PausingSender(client, sb_queue) as sender:
        report = run_bridge(settings, sender=sender, options=FAST)
    assert report.late_deletes == 3
    assert other_run[0].received == 3
    assert other_run[0].deleted == 3
    counts = bus.counts(sb_queue)
    assert counts["active"] == 3
    assert counts["duplicates_dropped"] == 3
    assert in_sqs(moto_sqs, sqs_url) == 0


def test_an_unreachable_service_bus_costs_no_more_than_the_budget_and_deletes_nothing(
    settings: Settings, moto_sqs: MotoSqs, sqs_url: str
) -> None:
    """Nothing listening at the Service Bus endpoint: the send fails within its timeout (the link is opened by the
    bounded send, not by create_message_batch), nothing is deleted, and the run ends inside its budget."""
    from sandbox.azurite import free_port

    publish(moto_sqs, sqs_url, [notification(f"down-{i}") for i in range(2)])
    dead = f"Endpoint=sb://127.0.0.1:{free_port()}/;SharedAccessKeyName=R;SharedAccessKey=eA==;UseDevelopmentEmulator=true"
    unreachable = settings.model_copy(update={"service_bus_connection": SecretStr(dead)})
    report, elapsed = timed_run(unreachable, options=FAST)
    assert report.failed_sends == 2
    assert report.deleted == 0
    assert not report.ok
    assert report.elapsed <= FAST.max_seconds + RUN_SLACK
    assert elapsed <= FAST.max_seconds + CALL_SLACK
    assert in_sqs(moto_sqs, sqs_url) == 2
