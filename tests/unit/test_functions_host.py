"""The Functions-host stand-in's in-memory queue: Service Bus semantics the tests rely on."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from sandbox.functions_host import InMemoryQueue


def test_duplicate_message_ids_are_dropped_within_the_window() -> None:
    """Like Service Bus duplicate detection: the second send of a message_id is dropped."""
    queue = InMemoryQueue()
    assert queue.send(b"1", message_id="n-1")
    assert not queue.send(b"2", message_id="n-1")
    assert queue.duplicates_dropped == 1
    assert [message.body for message in queue.receive(10)] == [b"1"]


def test_abandoned_messages_come_back_with_a_higher_delivery_count() -> None:
    """Abandon: delivered again at once, delivery count + 1."""
    queue = InMemoryQueue()
    queue.send(b"x", message_id="m")
    [first] = queue.receive(1)
    queue.abandon(first.lock_token)
    [second] = queue.receive(1)
    assert second.delivery_count == 1


def test_unsettled_messages_come_back_when_their_lock_expires() -> None:
    """A message left locked (retry later) is delivered again after the lock duration, not before."""
    queue = InMemoryQueue(lock_duration=timedelta(seconds=0.2))
    queue.send(b"x", message_id="m")
    [first] = queue.receive(1)
    old_token = first.lock_token
    assert queue.receive(1) == []
    assert queue.in_flight() == 1
    time.sleep(0.25)
    [again] = queue.receive(1)
    assert again.delivery_count == 1
    with pytest.raises(KeyError):
        queue.complete(old_token)  # the old lock is gone


def test_max_delivery_count_moves_the_message_to_the_dead_letters() -> None:
    """After max_delivery_count deliveries the message is dead-lettered as MaxDeliveryCountExceeded."""
    queue = InMemoryQueue(max_delivery_count=3)
    queue.send(b"x", message_id="m")
    for _ in range(3):
        [message] = queue.receive(1)
        queue.abandon(message.lock_token)
    assert queue.receive(1) == []
    [letter] = queue.dead_letters
    assert letter.reason == "MaxDeliveryCountExceeded"
