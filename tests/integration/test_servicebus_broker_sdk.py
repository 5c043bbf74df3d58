"""The Service Bus stand-in against the unmodified azure-servicebus SDK, one documented behaviour per test.

One stand-in serves the module; each test gets queues of its own (auto-created, or declared below when it
needs particular QueueOptions), so tests do not see each other's messages.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusReceivedMessage,
    ServiceBusReceiveMode,
    ServiceBusSubQueue,
)
from azure.servicebus.exceptions import (
    MessageLockLostError,
    OperationTimeoutError,
    ServiceBusAuthenticationError,
    ServiceBusError,
    ServiceBusServerBusyError,
)

from sandbox.servicebus_broker import MAX_DELIVERY_COUNT_EXCEEDED, QueueOptions, ServiceBusStandIn
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.sockets

SHORT_LOCK = "short-lock"
TWO_ATTEMPTS = "two-attempts"
SHORT_DEDUPE = "short-dedupe"
NO_DEDUPE = "no-dedupe"


@pytest.fixture(scope="module")
def bus() -> Iterator[ServiceBusStandIn]:
    queues = {
        SHORT_LOCK: QueueOptions(lock_duration=timedelta(seconds=1)),
        TWO_ATTEMPTS: QueueOptions(max_delivery_count=2),
        SHORT_DEDUPE: QueueOptions(duplicate_detection_window=timedelta(milliseconds=300)),
        NO_DEDUPE: QueueOptions(requires_duplicate_detection=False),
    }
    with ServiceBusStandIn(queues) as stand_in:
        yield stand_in


@pytest.fixture
def client(bus: ServiceBusStandIn) -> Iterator[ServiceBusClient]:
    # retry_total=0: a refused operation surfaces at once instead of after the SDK's backoff
    with ServiceBusClient.from_connection_string(bus.connection_string, retry_total=0) as sb_client:
        yield sb_client


@pytest.fixture
def queue() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


def _send(client: ServiceBusClient, queue: str, *messages: ServiceBusMessage) -> None:
    with client.get_queue_sender(queue) as sender:
        sender.send_messages(list(messages) if len(messages) > 1 else messages[0])


def _receive(
    client: ServiceBusClient, queue: str, count: int = 1, **kwargs: object
) -> list[ServiceBusReceivedMessage]:
    with client.get_queue_receiver(queue, **kwargs) as receiver:  # type: ignore[arg-type]
        return receiver.receive_messages(max_message_count=count, max_wait_time=1)


def test_a_sent_message_is_received_with_its_properties_and_completing_removes_it(client, bus, queue):
    """A message comes back with body, ids, subject, content type and broker stamps; complete deletes it."""
    before = datetime.now(UTC) - timedelta(seconds=1)
    _send(
        client,
        queue,
        ServiceBusMessage(
            b'{"order": "111-222"}',
            message_id="order-111-222",
            correlation_id="corr-1",
            subject="ORDER_CHANGE",
            content_type="application/json",
        ),
    )
    with client.get_queue_receiver(queue) as receiver:
        [message] = receiver.receive_messages(max_wait_time=1)
        assert b"".join(message.body) == b'{"order": "111-222"}'
        assert message.message_id == "order-111-222"
        assert message.correlation_id == "corr-1"
        assert message.subject == "ORDER_CHANGE"
        assert message.content_type == "application/json"
        assert message.sequence_number == 1
        assert message.delivery_count == 0  # zero-based on the wire; the Python SDK shows it as is
        assert message.enqueued_time_utc is not None
        assert message.enqueued_time_utc >= before
        assert message.locked_until_utc is not None
        assert message.locked_until_utc > datetime.now(UTC)
        assert isinstance(message.lock_token, uuid.UUID)
        assert bus.counts(queue)["locked"] == 1
        receiver.complete_message(message)
    assert bus.counts(queue) == {"active": 0, "dead_letter": 0, "locked": 0, "duplicates_dropped": 0}


def test_application_properties_round_trip_with_their_types(client, queue):
    """Application properties keep their values and types (the SDK returns string keys/values as bytes)."""
    properties = {"Source": "amazon", "Attempt": 3, "Amount": 12.5, "Urgent": True}
    _send(client, queue, ServiceBusMessage(b"x", application_properties=properties))  # type: ignore[arg-type]
    [message] = _receive(client, queue, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE)
    assert message.application_properties == {
        b"Source": b"amazon",
        b"Attempt": 3,
        b"Amount": 12.5,
        b"Urgent": True,
    }


def test_the_inspection_api_shows_stored_messages_decoded(client, bus, queue):
    """active_messages() decodes what the queue holds without going through AMQP."""
    _send(client, queue, ServiceBusMessage(b"body", message_id="m-1", application_properties={"k": "v"}))
    [view] = bus.active_messages(queue)
    assert (view.message_id, view.body, view.application_properties) == ("m-1", b"body", {"k": "v"})
    assert view.sequence_number == 1
    assert view.delivery_count == 0


def test_a_batch_of_100_messages_arrives_as_100_messages_in_order(client, bus, queue):
    """The SDK's batch (one transfer, one data section per message) is stored as separate messages."""
    with client.get_queue_sender(queue) as sender:
        batch = sender.create_message_batch()
        for index in range(100):
            batch.add_message(ServiceBusMessage(f"message {index}".encode(), message_id=f"m-{index}"))
        sender.send_messages(batch)
    assert bus.counts(queue)["active"] == 100
    received: list[ServiceBusReceivedMessage] = []
    with client.get_queue_receiver(queue, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE) as receiver:
        while len(received) < 100:
            page = receiver.receive_messages(max_message_count=50, max_wait_time=1)
            assert page, "the queue ran dry before 100 messages arrived"
            received.extend(page)
    assert [m.message_id for m in received] == [f"m-{index}" for index in range(100)]
    assert [m.sequence_number for m in received] == list(range(1, 101))
    assert b"".join(received[42].body) == b"message 42"


def test_a_list_of_messages_is_sent_as_one_batch(client, bus, queue):
    """send_messages([...]) goes out as a batch and every message is stored."""
    _send(client, queue, *(ServiceBusMessage(b"m", message_id=str(index)) for index in range(3)))
    assert [view.message_id for view in bus.active_messages(queue)] == ["0", "1", "2"]


def test_abandon_increments_the_delivery_count_and_redelivers(client, queue):
    """An abandoned message is available again at once with delivery_count one higher."""
    _send(client, queue, ServiceBusMessage(b"retry me", message_id="a-1"))
    with client.get_queue_receiver(queue) as receiver:
        [first] = receiver.receive_messages(max_wait_time=1)
        receiver.abandon_message(first)
        [second] = receiver.receive_messages(max_wait_time=1)
        assert (second.message_id, second.sequence_number) == ("a-1", first.sequence_number)
        assert (first.delivery_count, second.delivery_count) == (0, 1)
        receiver.complete_message(second)


def test_dead_lettering_moves_the_message_with_reason_and_description(client, bus, queue):
    """dead_letter_message() puts the message on the DLQ, where it carries the reason, description and source."""
    _send(client, queue, ServiceBusMessage(b"poison", message_id="p-1"))
    with client.get_queue_receiver(queue) as receiver:
        [message] = receiver.receive_messages(max_wait_time=1)
        receiver.dead_letter_message(message, reason="MappingFailed", error_description="SKU unknown")
    assert bus.counts(queue)["active"] == 0
    with client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dlq:
        [dead] = dlq.receive_messages(max_wait_time=1)
        assert dead.message_id == "p-1"
        assert dead.dead_letter_reason == "MappingFailed"
        assert dead.dead_letter_error_description == "SKU unknown"
        assert dead.dead_letter_source == queue
        dlq.complete_message(dead)
    assert bus.counts(queue)["dead_letter"] == 0


def test_exceeding_max_delivery_count_dead_letters_the_message(client, bus):
    """After max_delivery_count failed deliveries the message moves to the DLQ as MaxDeliveryCountExceeded."""
    _send(client, TWO_ATTEMPTS, ServiceBusMessage(b"never works", message_id="mdc-1"))
    with client.get_queue_receiver(TWO_ATTEMPTS) as receiver:
        for _ in range(2):
            [message] = receiver.receive_messages(max_wait_time=1)
            receiver.abandon_message(message)
        assert receiver.receive_messages(max_wait_time=0.5) == []
    [dead] = bus.dead_letters(TWO_ATTEMPTS)
    assert (dead.message_id, dead.dead_letter_reason, dead.delivery_count) == (
        "mdc-1",
        MAX_DELIVERY_COUNT_EXCEEDED,
        2,
    )
    [received] = _receive(client, TWO_ATTEMPTS, sub_queue=ServiceBusSubQueue.DEAD_LETTER)
    assert received.dead_letter_reason == MAX_DELIVERY_COUNT_EXCEEDED


def test_an_expired_lock_makes_the_message_available_again(client, bus):
    """A message not settled within lock_duration is redelivered with delivery_count + 1."""
    _send(client, SHORT_LOCK, ServiceBusMessage(b"slow consumer", message_id="lock-1"))
    with client.get_queue_receiver(SHORT_LOCK) as first_receiver:
        [first] = first_receiver.receive_messages(max_wait_time=1)
        with client.get_queue_receiver(SHORT_LOCK) as second_receiver:
            [again] = second_receiver.receive_messages(max_wait_time=3)
            assert (again.message_id, again.delivery_count) == ("lock-1", 1)
            with pytest.raises(MessageLockLostError):
                first_receiver.complete_message(first)
            second_receiver.complete_message(again)
    assert bus.counts(SHORT_LOCK)["active"] == 0


def test_renewing_a_lock_extends_it(client, bus):
    """renew_message_lock() pushes locked_until out by the lock duration and keeps the message locked."""
    _send(client, SHORT_LOCK, ServiceBusMessage(b"long job", message_id="renew-1"))
    with client.get_queue_receiver(SHORT_LOCK) as receiver:
        [message] = receiver.receive_messages(max_wait_time=1)
        first_expiry = message.locked_until_utc
        time.sleep(0.6)  # part of the 1 s lock, so the renewed expiry is measurably later
        renewed = receiver.renew_message_lock(message)
        assert first_expiry is not None
        assert renewed > first_expiry
        time.sleep(0.6)  # the original lock would have expired by now
        assert bus.counts(SHORT_LOCK)["locked"] == 1
        receiver.complete_message(message)


def test_a_duplicate_message_id_within_the_window_is_dropped(client, bus, queue):
    """A second message with the same message_id is acknowledged but not stored."""
    _send(client, queue, ServiceBusMessage(b"first", message_id="dup-1"))
    _send(client, queue, ServiceBusMessage(b"second", message_id="dup-1"))
    assert [view.body for view in bus.active_messages(queue)] == [b"first"]
    assert bus.counts(queue)["duplicates_dropped"] == 1


def test_a_repeated_message_id_after_the_window_is_stored(client, bus):
    """Once duplicate_detection_window has passed the same message_id is a new message."""
    _send(client, SHORT_DEDUPE, ServiceBusMessage(b"first", message_id="late-1"))
    time.sleep(0.4)  # longer than the queue's 300 ms window
    _send(client, SHORT_DEDUPE, ServiceBusMessage(b"second", message_id="late-1"))
    assert [view.body for view in bus.active_messages(SHORT_DEDUPE)] == [b"first", b"second"]
    assert bus.counts(SHORT_DEDUPE)["duplicates_dropped"] == 0


def test_without_duplicate_detection_every_message_is_stored(client, bus):
    """A queue created without requires_duplicate_detection keeps messages with repeated ids."""
    _send(
        client,
        NO_DEDUPE,
        ServiceBusMessage(b"1", message_id="same"),
        ServiceBusMessage(b"2", message_id="same"),
    )
    assert bus.counts(NO_DEDUPE)["active"] == 2


def test_peek_shows_messages_without_locking_them_on_the_queue_and_the_dlq(client, bus, queue):
    """peek_messages() returns messages in sequence order from the queue and the DLQ, locking none."""
    _send(
        client,
        queue,
        *(ServiceBusMessage(f"{index}".encode(), message_id=f"pk-{index}") for index in range(3)),
    )
    with client.get_queue_receiver(queue) as receiver:
        [message] = receiver.receive_messages(max_wait_time=1)
        receiver.dead_letter_message(message, reason="Bad")
        peeked = receiver.peek_messages(max_message_count=10)
        assert [m.message_id for m in peeked] == ["pk-1", "pk-2"]
        assert [m.sequence_number for m in peeked] == [2, 3]
    with client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as dlq:
        [dead] = dlq.peek_messages(max_message_count=10)
        assert (dead.message_id, dead.dead_letter_reason) == ("pk-0", "Bad")
        assert dlq.peek_messages(max_message_count=10, sequence_number=dead.sequence_number + 1) == []
    assert bus.counts(queue) == {"active": 2, "dead_letter": 1, "locked": 0, "duplicates_dropped": 0}


def test_receive_and_delete_removes_messages_on_delivery(client, bus, queue):
    """In RECEIVE_AND_DELETE mode a received message is gone from the queue and has no lock."""
    _send(client, queue, ServiceBusMessage(b"once", message_id="rd-1"))
    [message] = _receive(client, queue, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE)
    assert message.message_id == "rd-1"
    assert bus.counts(queue)["active"] == 0


def test_a_refused_send_raises_the_sdks_server_busy_error(client, bus, queue):
    """fail_next_sends() makes the broker reject the transfer; the SDK raises ServiceBusServerBusyError."""
    bus.fail_next_sends(queue, 1)
    with pytest.raises(ServiceBusServerBusyError) as refused:
        _send(client, queue, ServiceBusMessage(b"refused", message_id="busy-1"))
    assert isinstance(refused.value, ServiceBusError)
    assert bus.counts(queue)["active"] == 0
    _send(client, queue, ServiceBusMessage(b"accepted", message_id="busy-2"))
    assert bus.counts(queue)["active"] == 1


def test_a_stalled_send_times_out_at_the_sender_and_may_still_land(client, bus, queue):
    """stall_sends() withholds the acknowledgement: send_messages(timeout=...) raises, the message lands later."""
    with client.get_queue_sender(queue) as sender:
        bus.stall_sends(queue, 1.0)
        with pytest.raises(OperationTimeoutError):
            sender.send_messages(ServiceBusMessage(b"slow", message_id="stall-1"), timeout=0.3)
        assert bus.counts(queue)["active"] == 0
    with client.get_queue_receiver(queue) as receiver:
        [landed] = receiver.receive_messages(max_wait_time=2)  # handed out when the stall ends
        assert landed.message_id == "stall-1"
        receiver.complete_message(landed)


def test_two_receivers_never_hold_the_same_locked_message(client, bus, queue):
    """Concurrent peek-lock receivers on one queue get disjoint messages."""
    _send(client, queue, *(ServiceBusMessage(b"job", message_id=f"job-{index}") for index in range(20)))
    seen: dict[str, list[str]] = {"a": [], "b": []}

    def drain(name: str) -> None:
        with (
            ServiceBusClient.from_connection_string(bus.connection_string) as own_client,
            own_client.get_queue_receiver(queue) as receiver,
        ):
            while messages := receiver.receive_messages(max_message_count=3, max_wait_time=1):
                seen[name].extend(str(m.message_id) for m in messages)

    threads = [threading.Thread(target=drain, args=(name,)) for name in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not set(seen["a"]) & set(seen["b"])
    assert sorted(seen["a"] + seen["b"]) == sorted(f"job-{index}" for index in range(20))


def test_a_prefetching_receiver_releases_unread_messages_on_close_without_counting_them(client, bus, queue):
    """Messages prefetched but not handed to the caller are released on close with delivery_count unchanged."""
    _send(client, queue, *(ServiceBusMessage(b"p", message_id=f"pf-{index}") for index in range(5)))
    with client.get_queue_receiver(queue, prefetch_count=5) as receiver:
        [message] = receiver.receive_messages(max_message_count=1, max_wait_time=1)
        receiver.complete_message(message)
    assert bus.counts(queue) == {"active": 4, "dead_letter": 0, "locked": 0, "duplicates_dropped": 0}
    assert [view.delivery_count for view in bus.active_messages(queue)] == [0, 0, 0, 0]


def test_settling_through_the_management_node_completes_by_lock_token(client, bus, queue):
    """update-disposition on $management settles a message by lock token (the SDK's fallback path)."""
    _send(client, queue, ServiceBusMessage(b"m", message_id="mgmt-1"))
    with client.get_queue_receiver(queue) as receiver:
        [message] = receiver.receive_messages(max_wait_time=1)
        # The SDK takes this path when the receiving link is gone; it is called directly here.
        receiver._settle_message_via_mgmt_link("completed", [message.lock_token])
        assert bus.counts(queue)["active"] == 0


def test_an_unknown_queue_fails_the_put_token_with_404_when_auto_create_is_off():
    """Like Service Bus, put-token for an undeclared queue answers 404, which the SDK raises as an auth error."""
    with (
        ServiceBusStandIn({"known": QueueOptions()}, auto_create_queues=False) as stand_in,
        ServiceBusClient.from_connection_string(stand_in.connection_string, retry_total=0) as sb_client,
    ):
        with (
            pytest.raises(ServiceBusAuthenticationError) as refused,
            sb_client.get_queue_sender("unknown") as sender,
        ):
            sender.send_messages(ServiceBusMessage(b"lost"))
        assert "Status code: 404" in str(refused.value.__cause__ or refused.value.__context__)
        _send(sb_client, "known", ServiceBusMessage(b"kept"))
        assert stand_in.counts("known")["active"] == 1


def test_the_command_line_entry_point_serves_the_sdk_until_terminated():
    """`python -m sandbox.servicebus_broker` prints a connection string the SDK can use and exits on SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.servicebus_broker", "--port", "0", "--queue", "manual"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        connection_string = process.stdout.readline().strip()
        assert connection_string.endswith(";UseDevelopmentEmulator=true")
        with ServiceBusClient.from_connection_string(connection_string, retry_total=0) as sb_client:
            _send(sb_client, "manual", ServiceBusMessage(b"by hand", message_id="cli-1"))
            [message] = _receive(sb_client, "manual", receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE)
            assert message.message_id == "cli-1"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
