"""Dead-letter listing and replay with the unmodified azure-servicebus SDK against the AMQP stand-in.

One stand-in serves the module; every test parks its own dead letters on a queue of its own (duplicate
detection on, 10-minute window, as the README asks of the real queue).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage

from sandbox.servicebus_broker import QueueOptions, ServiceBusStandIn
from shared.servicebus.deadletters import (
    REPLAY_COUNT,
    REPLAY_FROM_SEQUENCE_NUMBER,
    REPLAY_ORIGINAL_MESSAGE_ID,
    DeadLetters,
    Limits,
    ReplayStatus,
)
from tests.builders import order_change, settings_env
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.sockets

FAST = Limits(max_wait_seconds=1)
SHORT_LOCK = "short-lock"
PII = ("Jane Doe", "jane.doe@example.com", "98101", "1 Main Street", "SKU-SECRET")


@pytest.fixture(scope="module")
def bus() -> Iterator[ServiceBusStandIn]:
    with ServiceBusStandIn({SHORT_LOCK: QueueOptions(lock_duration=timedelta(seconds=1.5))}) as stand_in:
        yield stand_in


@pytest.fixture
def client(bus: ServiceBusStandIn) -> Iterator[ServiceBusClient]:
    # retry_total=0: a refused send fails at once instead of after the SDK's backoff
    with ServiceBusClient.from_connection_string(bus.connection_string, retry_total=0) as sb_client:
        yield sb_client


@pytest.fixture
def queue() -> str:
    return f"dl-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def tool(client: ServiceBusClient, queue: str) -> DeadLetters:
    return DeadLetters(client, queues=[queue], limits=FAST)


def notification(index: int) -> tuple[str, bytes]:
    """(NotificationId, body) of an ORDER_CHANGE carrying buyer data that must never be shown."""
    notification_id = str(uuid.uuid4())
    envelope = order_change(
        f"113-000000{index}-1234567", notification_id=notification_id, skus=("SKU-SECRET",)
    )
    summary = envelope["Payload"]["OrderChangeNotification"]["Summary"]
    summary.update(BuyerName="Jane Doe", BuyerEmail="jane.doe@example.com", ShippingAddress="1 Main Street")
    return notification_id, json.dumps(envelope).encode()


def park(client: ServiceBusClient, queue: str, reasons: list[str]) -> list[tuple[str, bytes]]:
    """Send one notification per reason the way the bridge does, then dead-letter each with its reason."""
    sent = [notification(index) for index in range(len(reasons))]
    with client.get_queue_sender(queue) as sender:
        sender.send_messages(
            [
                ServiceBusMessage(
                    body,
                    message_id=notification_id,
                    content_type="application/json",
                    application_properties={"sqs.MessageId": f"sqs-{index}"},
                )
                for index, (notification_id, body) in enumerate(sent)
            ]
        )
    with client.get_queue_receiver(queue) as receiver:
        messages = receiver.receive_messages(max_message_count=len(reasons), max_wait_time=1)
        assert len(messages) == len(reasons)
        for message, reason in zip(messages, reasons, strict=True):
            receiver.dead_letter_message(
                message, reason=reason, error_description=f"{reason} at sequence {message.sequence_number}"
            )
    return sent


def test_list_shows_reason_description_count_and_ids_but_no_body(client, bus, queue, tool) -> None:
    """Every dead letter is listed with its broker facts and identifiers; the body's buyer data never shows."""
    sent = park(client, queue, ["UnknownSku", "DataverseRejected", "UnknownSku"])
    listing = tool.list()
    assert [letter.sequence_number for letter in listing.messages] == [1, 2, 3]
    first = listing.messages[0]
    assert (first.reason, first.description) == ("UnknownSku", "UnknownSku at sequence 1")
    assert (first.message_id, first.notification_id) == (sent[0][0], sent[0][0])
    assert (first.notification_type, first.amazon_order_id) == ("ORDER_CHANGE", "113-0000000-1234567")
    assert first.delivery_count == 0
    assert first.enqueued_time is not None
    assert listing.by_reason == {"UnknownSku": 2, "DataverseRejected": 1}
    text = json.dumps(listing.to_json())
    assert not [secret for secret in PII if secret in text]
    assert bus.counts(queue) == {"active": 0, "dead_letter": 3, "locked": 0, "duplicates_dropped": 0}


def test_listing_pages_through_more_dead_letters_than_one_page(client, queue) -> None:
    """With peek pages of 2, all 5 dead letters are listed once each, in sequence order."""
    park(client, queue, ["UnknownSku"] * 5)
    tool = DeadLetters(client, queues=[queue], limits=Limits(page_size=2, max_wait_seconds=1))
    assert [letter.sequence_number for letter in tool.list().messages] == [1, 2, 3, 4, 5]


def test_replay_by_sequence_number_sends_copies_and_removes_only_those(client, bus, queue, tool) -> None:
    """The chosen dead letters land on the queue with their body unchanged and leave the dead-letter queue."""
    sent = park(client, queue, ["UnknownSku", "DataverseRejected", "UnknownSku"])
    report = tool.replay(sequence_numbers=[1, 3])
    assert [(item.sequence_number, item.status) for item in report.items] == [
        (1, ReplayStatus.REPLAYED),
        (3, ReplayStatus.REPLAYED),
    ]
    assert report.released == 1
    copies = bus.active_messages(queue)
    assert [copy.body for copy in copies] == [sent[0][1], sent[2][1]]
    assert [copy.message_id for copy in copies] == [f"{sent[0][0]}:replay:1", f"{sent[2][0]}:replay:3"]
    assert copies[0].content_type == "application/json"
    properties = copies[0].application_properties
    assert properties["sqs.MessageId"] == "sqs-0"
    assert (properties[REPLAY_COUNT], properties[REPLAY_FROM_SEQUENCE_NUMBER]) == (1, 1)
    assert properties[REPLAY_ORIGINAL_MESSAGE_ID] == sent[0][0]
    assert "DeadLetterReason" not in properties
    [left] = bus.dead_letters(queue)
    assert left.sequence_number == 2
    assert (left.dead_letter_reason, left.dead_letter_error_description) == (
        "DataverseRejected",
        "DataverseRejected at sequence 2",
    )


def test_replay_by_reason_and_then_all(client, bus, queue, tool) -> None:
    """A reason replays only its dead letters; all replays whatever is left."""
    park(client, queue, ["UnknownSku", "DataverseRejected", "UnknownSku", "MalformedNotification"])
    by_reason = tool.replay(reason="UnknownSku")
    assert [item.sequence_number for item in by_reason.with_status(ReplayStatus.REPLAYED)] == [1, 3]
    assert sorted(view.sequence_number for view in bus.dead_letters(queue)) == [2, 4]
    rest = tool.replay(all=True)
    assert [item.sequence_number for item in rest.with_status(ReplayStatus.REPLAYED)] == [2, 4]
    assert bus.counts(queue)["dead_letter"] == 0
    assert bus.counts(queue)["active"] == 4


def test_copies_survive_duplicate_detection_while_the_original_id_is_in_the_window(
    client, bus, queue, tool
) -> None:
    """The original message id is still remembered (a resend is dropped), yet the replayed copy lands."""
    sent = park(client, queue, ["UnknownSku"])
    with client.get_queue_sender(queue) as sender:
        sender.send_messages(ServiceBusMessage(sent[0][1], message_id=sent[0][0]))
    assert bus.counts(queue)["duplicates_dropped"] == 1
    assert tool.replay(all=True).counts == {"replayed": 1}
    assert bus.counts(queue)["active"] == 1
    assert bus.counts(queue)["duplicates_dropped"] == 1


def test_a_failing_send_leaves_the_dead_letter_in_place(client, bus, queue, tool) -> None:
    """When Service Bus refuses the copy, the dead letter stays with its reason; a later replay lands it."""
    park(client, queue, ["UnknownSku"])
    bus.fail_next_sends(queue, 1)
    report = tool.replay(all=True)
    [item] = report.items
    assert item.status is ReplayStatus.FAILED
    assert item.detail is not None
    assert item.detail.startswith("ServiceBusServerBusyError")
    assert not report.ok
    assert bus.counts(queue)["active"] == 0
    [kept] = bus.dead_letters(queue)
    assert (kept.dead_letter_reason, kept.dead_letter_error_description) == (
        "UnknownSku",
        "UnknownSku at sequence 1",
    )
    assert tool.replay(all=True).counts == {"replayed": 1}
    assert bus.counts(queue)["dead_letter"] == 0


def test_a_dry_run_changes_nothing(client, bus, queue, tool) -> None:
    """A dry run lists what it would replay and leaves every message, delivery count and lock as it was."""
    park(client, queue, ["UnknownSku", "DataverseRejected"])
    before = bus.dead_letters(queue)
    report = tool.replay(all=True, dry_run=True)
    assert [item.status for item in report.items] == [ReplayStatus.WOULD_REPLAY] * 2
    assert bus.dead_letters(queue) == before
    assert bus.counts(queue) == {"active": 0, "dead_letter": 2, "locked": 0, "duplicates_dropped": 0}


def test_replaying_twice_finds_nothing_the_second_time(client, bus, queue, tool) -> None:
    """The second replay of the same sequence number reports not_found and sends nothing."""
    park(client, queue, ["UnknownSku"])
    assert tool.replay(sequence_numbers=[1]).counts == {"replayed": 1}
    again = tool.replay(sequence_numbers=[1])
    assert again.counts == {"not_found": 1}
    assert again.ok
    assert bus.counts(queue)["active"] == 1


class _CompleteFailsOnce:
    """A ServiceBusClient whose dead-letter receivers fail the first complete: a replay dying after its send."""

    def __init__(self, client: ServiceBusClient) -> None:
        self.client = client
        self.failed = False

    def get_queue_receiver(self, queue_name: str, **kwargs: Any) -> Any:
        receiver = self.client.get_queue_receiver(queue_name, **kwargs)
        complete = receiver.complete_message

        def complete_or_fail(message: Any) -> None:
            if not self.failed:
                self.failed = True
                raise ConnectionError("connection lost after the send")
            complete(message)

        receiver.complete_message = complete_or_fail  # type: ignore[method-assign]
        return receiver

    def get_queue_sender(self, queue_name: str, **kwargs: Any) -> Any:
        return self.client.get_queue_sender(queue_name, **kwargs)


def test_a_replay_cut_short_after_the_send_is_deduplicated_when_run_again(client, bus, queue) -> None:
    """Sent but not removed: running the replay again sends the same message id, which Service Bus drops."""
    park(client, queue, ["UnknownSku"])
    first = DeadLetters(_CompleteFailsOnce(client), queues=[queue], limits=FAST).replay(all=True)
    assert first.counts == {"sent_not_removed": 1}
    assert not first.ok
    assert bus.counts(queue)["dead_letter"] == 1
    assert bus.counts(queue)["active"] == 1
    second = DeadLetters(client, queues=[queue], limits=FAST).replay(all=True)
    assert second.counts == {"replayed": 1}
    assert second.items[0].replay_message_id == first.items[0].replay_message_id
    assert bus.counts(queue) == {"active": 1, "dead_letter": 0, "locked": 0, "duplicates_dropped": 1}


def test_a_copy_dead_lettered_again_is_replayed_again_under_a_new_id(client, bus, queue, tool) -> None:
    """A replayed copy that fails again shows replay_count 1 and its next copy is not taken for a duplicate."""
    sent = park(client, queue, ["UnknownSku"])
    tool.replay(all=True)
    with client.get_queue_receiver(queue) as receiver:
        [copy] = receiver.receive_messages(max_message_count=1, max_wait_time=1)
        receiver.dead_letter_message(copy, reason="UnknownSku", error_description="still unknown")
    [letter] = tool.list().messages
    assert letter.replay_count == 1
    assert letter.notification_id == sent[0][0]
    report = tool.replay(all=True)
    assert report.items[0].replay_message_id == f"{sent[0][0]}:replay:{letter.sequence_number}"
    [landed] = bus.active_messages(queue)
    assert landed.application_properties[REPLAY_COUNT] == 2
    assert landed.body == sent[0][1]
    assert bus.counts(queue)["duplicates_dropped"] == 0


def test_locks_of_held_dead_letters_are_renewed_during_a_slow_replay(client, bus) -> None:
    """With 1.5-second locks and a send stalled for 4 seconds, every lock survives (without renewal all expire)."""
    park(client, SHORT_LOCK, ["DataverseRejected", "DataverseRejected", "UnknownSku"])
    bus.stall_sends(SHORT_LOCK, 4.0)
    tool = DeadLetters(client, queues=[SHORT_LOCK], limits=Limits(batch_size=1, max_wait_seconds=1))
    report = tool.replay(reason="UnknownSku")
    assert report.counts == {"replayed": 1}  # completed after the stall: its lock was still held
    assert report.released == 2  # released by us, not lost to expiry
    assert [view.sequence_number for view in bus.dead_letters(SHORT_LOCK)] == [1, 2]


def test_the_command_line_lists_and_replays_end_to_end(client, bus, queue) -> None:
    """`python -m shared.servicebus.deadletters` reads ServiceBusConnection from the settings, lists and replays."""
    park(client, queue, ["UnknownSku", "DataverseRejected"])
    environment = {
        k: v for k, v in os.environ.items() if not k.upper().startswith(("KEY_VAULT", "SERVICEBUS"))
    }
    environment |= settings_env(ServiceBusConnection=bus.connection_string, AMAZON_NOTIFICATIONS_QUEUE=queue)

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "shared.servicebus.deadletters", *argv]
        result = subprocess.run(
            command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=60
        )
        assert not [secret for secret in PII if secret in result.stdout + result.stderr]
        return result

    listed = run("list", "--json")
    assert listed.returncode == 0, listed.stderr
    [listing] = json.loads(listed.stdout)["queues"]
    assert listing["by_reason"] == {"DataverseRejected": 1, "UnknownSku": 1}
    replayed = run("replay", "--reason", "UnknownSku", "--wait", "1")
    assert replayed.returncode == 0, replayed.stderr
    assert "1 replayed" in replayed.stdout
    assert [view.sequence_number for view in bus.dead_letters(queue)] == [2]
    table = run("list")
    assert table.returncode == 0, table.stderr
    assert f"Dead letters of {queue}: 1" in table.stdout
    assert "DataverseRejected at sequence 2" in table.stdout
