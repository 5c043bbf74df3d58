"""Queue state of the Service Bus stand-in: sequence numbers, peek-lock, dead-lettering, duplicate detection,
and topics whose subscriptions each get a copy of what is sent to the topic.

A subscription is kept as a queue named `<topic>/Subscriptions/<subscription>` (the path the SDK attaches to),
so receiving, settling, locks and dead-lettering work for it exactly as for a queue. Duplicate detection is
the topic's (Service Bus checks message ids where the message enters); a subscription's correlation filter
chooses which messages it gets. Nothing here speaks AMQP. Messages are kept as the encoded bytes the sender sent, so what a receiver gets
back is what was sent; the broker adds the Service Bus annotations when it hands a message out. One lock
guards everything because two threads touch the store: the proton event loop and the tests' inspection calls.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum, StrEnum
from typing import Any

SERVER_BUSY = "com.microsoft:server-busy"

# Service Bus writes this reason (and a description naming the count) when it moves a message that failed
# too often; the SDK and operators read it from DeadLetterReason.
MAX_DELIVERY_COUNT_EXCEEDED = "MaxDeliveryCountExceeded"


@dataclass(frozen=True)
class QueueOptions:
    """The queue properties that change how the stand-in treats messages (names as in the ARM template)."""

    max_delivery_count: int = 10
    lock_duration: timedelta = timedelta(seconds=30)
    requires_duplicate_detection: bool = True
    duplicate_detection_window: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class SubscriptionOptions:
    """A topic subscription: its delivery settings, and a correlation filter (application properties that
    must all equal these values; empty: every message, Service Bus's default TrueFilter)."""

    max_delivery_count: int = 10
    lock_duration: timedelta = timedelta(seconds=30)
    correlation: Mapping[str, Any] = field(default_factory=dict)

    def accepts(self, properties: Mapping[str, Any]) -> bool:
        return all(_text(properties.get(name)) == _text(value) for name, value in self.correlation.items())


@dataclass(frozen=True)
class TopicOptions:
    subscriptions: Mapping[str, SubscriptionOptions]
    requires_duplicate_detection: bool = True
    duplicate_detection_window: timedelta = timedelta(minutes=10)


SUBSCRIPTIONS_SEGMENT = "Subscriptions"


def subscription_path(topic: str, subscription: str) -> str:
    """The entity path of a subscription, as the SDK attaches to it: `<topic>/Subscriptions/<name>`."""
    return f"{topic}/{SUBSCRIPTIONS_SEGMENT}/{subscription}"


class SubQueue(StrEnum):
    ACTIVE = "active"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class Entity:
    """What a link or a management request addresses: a queue or its dead-letter sub-queue."""

    queue: str
    sub_queue: SubQueue = SubQueue.ACTIVE


class Outcome(Enum):
    COMPLETE = "complete"
    ABANDON = "abandon"  # a failed attempt: delivery count + 1
    RELEASE = "release"  # never looked at (the SDK releases prefetched messages on close): count unchanged
    DEAD_LETTER = "dead_letter"


class QueueNotFoundError(LookupError):
    pass


class LockLostError(LookupError):
    """The lock token is unknown, settled already, or its lock expired."""


@dataclass
class StoredMessage:
    raw: bytes  # the message exactly as the sender encoded it
    message_id: str | None
    sequence_number: int
    enqueued_at: float  # seconds since the epoch
    delivery_count: int = 0  # failed attempts so far: what the AMQP header carries (zero-based on the wire)
    lock_token: uuid.UUID | None = None
    locked_until: float | None = None
    dead_letter_reason: str | None = None
    dead_letter_description: str | None = None
    dead_letter_source: str | None = None
    visible_at: float = 0.0  # a scheduled message stays invisible until then (epoch seconds)

    def snapshot(self) -> StoredMessage:
        return dataclasses.replace(self)


@dataclass
class _Inbox:
    """Where senders deliver: a queue, or a topic that copies each message to its subscriptions."""

    name: str
    seen_message_ids: dict[str, float] = field(default_factory=dict)
    duplicates_dropped: int = 0
    send_failures: deque[str] = field(default_factory=deque)
    stalled_until: float = 0.0

    def is_duplicate(self, message_id: str | None, now: float, detection: bool, window: timedelta) -> bool:
        """Duplicate detection by message_id within the window (remembering the id when it is new)."""
        if not detection or message_id is None:
            return False
        horizon = now - window.total_seconds()
        for seen_id, seen_at in list(self.seen_message_ids.items()):
            if seen_at > horizon:
                break  # ids are kept in arrival order: the rest are younger
            del self.seen_message_ids[seen_id]
        if message_id in self.seen_message_ids:
            self.duplicates_dropped += 1
            return True
        self.seen_message_ids[message_id] = now
        return False


@dataclass
class _Topic(_Inbox):
    options: TopicOptions = field(default_factory=lambda: TopicOptions({}))


@dataclass
class _Queue(_Inbox):
    options: QueueOptions = field(default_factory=QueueOptions)
    next_sequence_number: int = 1
    # dicts keep insertion order, and insertion is by sequence number: the first unlocked entry is the next
    # message to deliver, and an abandoned message keeps its place at the head as it does on Service Bus.
    active: dict[int, StoredMessage] = field(default_factory=dict)
    dead_letter: dict[int, StoredMessage] = field(default_factory=dict)

    def sub_queue(self, sub_queue: SubQueue) -> dict[int, StoredMessage]:
        return self.active if sub_queue is SubQueue.ACTIVE else self.dead_letter


class QueueStore:
    """Every queue of one stand-in, safe to call from any thread."""

    def __init__(
        self,
        queues: Mapping[str, QueueOptions] | None = None,
        *,
        topics: Mapping[str, TopicOptions] | None = None,
        auto_create_queues: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._auto_create = auto_create_queues
        self._queues: dict[str, _Queue] = {}
        self._topics: dict[str, _Topic] = {}
        self._locks: dict[uuid.UUID, tuple[_Queue, SubQueue, StoredMessage]] = {}
        for name, options in (queues or {}).items():
            self._queues[_key(name)] = _Queue(name, options=options)
        for name, topic_options in (topics or {}).items():
            self.add_topic(name, topic_options)

    # -- queues and topics -----------------------------------------------------------------------------

    def add_queue(self, name: str, options: QueueOptions) -> None:
        with self._lock:
            self._queues[_key(name)] = _Queue(name, options=options)

    def add_topic(self, name: str, options: TopicOptions) -> None:
        """Declare a topic and its subscriptions (each a queue at `<topic>/Subscriptions/<name>`)."""
        with self._lock:
            self._topics[_key(name)] = _Topic(name, options=options)
            for subscription, settings in options.subscriptions.items():
                queue_options = QueueOptions(
                    max_delivery_count=settings.max_delivery_count,
                    lock_duration=settings.lock_duration,
                    requires_duplicate_detection=False,  # the topic detects duplicates
                )
                path = subscription_path(name, subscription)
                self._queues[_key(path)] = _Queue(path, options=queue_options)

    def ensure_queue(self, name: str) -> bool:
        """True when the entity exists (a topic, a subscription or a queue), creating a queue with default
        options when auto-create is on."""
        with self._lock:
            if _key(name) in self._topics:
                return True
            try:
                self._queue(name)
            except QueueNotFoundError:
                return False
            return True

    def is_topic(self, name: str) -> bool:
        with self._lock:
            return _key(name) in self._topics

    def receivers_of(self, name: str, properties: Mapping[str, Any] | None = None) -> list[Entity]:
        """Where a message sent to `name` goes: the queue itself, or each subscription of the topic whose
        filter accepts the message's application properties (all of them when `properties` is None)."""
        with self._lock:
            topic = self._topics.get(_key(name))
            if topic is None:
                return [Entity(name)]
            return [
                Entity(subscription_path(topic.name, subscription))
                for subscription, settings in topic.options.subscriptions.items()
                if properties is None or settings.accepts(properties)
            ]

    def queue_names(self) -> list[str]:
        with self._lock:
            return [queue.name for queue in self._queues.values()]

    def _queue(self, name: str) -> _Queue:
        key = _key(name)
        queue = self._queues.get(key)
        if queue is None:
            if not self._auto_create or key in self._topics or SUBSCRIPTIONS_SEGMENT.lower() in key:
                raise QueueNotFoundError(name)  # topics and subscriptions exist only when declared
            queue = self._queues[key] = _Queue(name, options=QueueOptions())
        return queue

    def _inbox(self, name: str) -> _Queue | _Topic:
        """What a sender to `name` reaches: a declared topic, else the queue."""
        return self._topics.get(_key(name)) or self._queue(name)

    # -- sending --------------------------------------------------------------------------------------

    def take_send_failure(self, name: str) -> str | None:
        """The AMQP error condition the next incoming message must be refused with, if a test scripted one."""
        with self._lock:
            failures = self._inbox(name).send_failures
            return failures.popleft() if failures else None

    def stalled_until(self, name: str) -> float | None:
        with self._lock:
            until = self._inbox(name).stalled_until
            return until if until > self._clock() else None

    def enqueue(
        self,
        name: str,
        raw: bytes,
        message_id: str | None,
        *,
        visible_at: float | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store one message (sent to a queue, or to a topic: a copy per subscription whose filter accepts
        `properties`), invisible until `visible_at` when it is scheduled; False when duplicate detection
        dropped it (the sender is still acknowledged)."""
        with self._lock:
            inbox = self._inbox(name)
            now = self._clock()
            options = inbox.options
            if inbox.is_duplicate(
                message_id, now, options.requires_duplicate_detection, options.duplicate_detection_window
            ):
                return False
            for entity in self.receivers_of(name, properties or {}):
                queue = self._queue(entity.queue)
                sequence_number = queue.next_sequence_number
                queue.next_sequence_number += 1
                queue.active[sequence_number] = StoredMessage(
                    raw, message_id, sequence_number, now, visible_at=visible_at or 0.0
                )
            return True

    # -- receiving ------------------------------------------------------------------------------------

    def acquire(self, entity: Entity, *, peek_lock: bool) -> StoredMessage | None:
        """The next available message: locked for peek-lock, removed for receive-and-delete. A snapshot."""
        with self._lock:
            queue = self._queue(entity.queue)
            messages = queue.sub_queue(entity.sub_queue)
            now = self._clock()
            message = next(
                (m for m in messages.values() if m.lock_token is None and m.visible_at <= now), None
            )
            if message is None:
                return None
            if not peek_lock:
                del messages[message.sequence_number]
                return message.snapshot()
            message.lock_token = uuid.uuid4()
            message.locked_until = self._clock() + queue.options.lock_duration.total_seconds()
            self._locks[message.lock_token] = (queue, entity.sub_queue, message)
            return message.snapshot()

    def has_available(self, entity: Entity) -> bool:
        with self._lock:
            messages = self._queue(entity.queue).sub_queue(entity.sub_queue)
            now = self._clock()
            return any(m.lock_token is None and m.visible_at <= now for m in messages.values())

    def settle(
        self,
        lock_token: uuid.UUID,
        outcome: Outcome,
        *,
        reason: str | None = None,
        description: str | None = None,
    ) -> Entity:
        """Apply a receiver's outcome to a locked message; returns the entity it was locked in."""
        with self._lock:
            queue, sub_queue, message = self._take_lock(lock_token)
            messages = queue.sub_queue(sub_queue)
            if outcome is Outcome.COMPLETE:
                del messages[message.sequence_number]
            elif outcome is Outcome.DEAD_LETTER and sub_queue is SubQueue.ACTIVE:
                self._move_to_dead_letter(queue, message, reason, description)
            elif outcome is Outcome.ABANDON:
                self._count_failed_attempt(queue, sub_queue, message)
            # RELEASE, and dead-lettering a message that already is in the dead-letter queue, only unlock it
            return Entity(queue.name, sub_queue)

    def renew_lock(self, lock_token: uuid.UUID) -> float:
        """Extend a lock by the queue's lock duration from now; returns the new expiry (epoch seconds)."""
        with self._lock:
            queue, _, message = self._live_lock(lock_token)
            message.locked_until = self._clock() + queue.options.lock_duration.total_seconds()
            return message.locked_until

    def is_locked(self, lock_token: uuid.UUID) -> bool:
        with self._lock:
            try:
                self._live_lock(lock_token)
            except LockLostError:
                return False
            return True

    def expire_locks(self) -> set[Entity]:
        """Release every lock past its expiry as a failed attempt; returns the entities that got messages."""
        with self._lock:
            now = self._clock()
            freed: set[Entity] = set()
            for token, (queue, sub_queue, message) in list(self._locks.items()):
                if message.locked_until is not None and message.locked_until <= now:
                    del self._locks[token]
                    self._count_failed_attempt(queue, sub_queue, message)
                    freed.add(Entity(queue.name, sub_queue))
            return freed

    def next_scheduled(self) -> float | None:
        """When the next scheduled message becomes visible, if any is waiting."""
        with self._lock:
            now = self._clock()
            times = [
                m.visible_at
                for queue in self._queues.values()
                for m in queue.active.values()
                if m.visible_at > now
            ]
            return min(times, default=None)

    def next_lock_expiry(self) -> float | None:
        with self._lock:
            deadlines = [m.locked_until for _, _, m in self._locks.values() if m.locked_until is not None]
            return min(deadlines, default=None)

    def peek(self, entity: Entity, from_sequence_number: int, count: int) -> list[StoredMessage]:
        """Messages at or after a sequence number, locked or not, without locking them (peek_messages)."""
        with self._lock:
            messages = self._queue(entity.queue).sub_queue(entity.sub_queue)
            # Dead-lettering appends out of sequence order; peek pages by sequence number, so sort.
            found = sorted(
                (m for m in messages.values() if m.sequence_number >= from_sequence_number),
                key=lambda m: m.sequence_number,
            )
            return [m.snapshot() for m in found[:count]]

    # -- fault injection and inspection (tests) -------------------------------------------------------

    def fail_next_sends(self, name: str, count: int, condition: str) -> None:
        with self._lock:
            self._inbox(name).send_failures.extend([condition] * count)

    def stall_sends(self, name: str, seconds: float) -> None:
        with self._lock:
            self._inbox(name).stalled_until = self._clock() + seconds

    def messages(self, name: str, sub_queue: SubQueue) -> list[StoredMessage]:
        with self._lock:
            return [m.snapshot() for m in self._queue(name).sub_queue(sub_queue).values()]

    def counts(self, name: str) -> dict[str, int]:
        with self._lock:
            topic = self._topics.get(_key(name))
            if topic is not None:
                return {"duplicates_dropped": topic.duplicates_dropped}
            queue = self._queue(name)
            return {
                "active": len(queue.active),
                "dead_letter": len(queue.dead_letter),
                "locked": sum(1 for q, _, _ in self._locks.values() if q is queue),
                "duplicates_dropped": queue.duplicates_dropped,
            }

    # -- internals ------------------------------------------------------------------------------------

    def _take_lock(self, lock_token: uuid.UUID) -> tuple[_Queue, SubQueue, StoredMessage]:
        entry = self._live_lock(lock_token)
        del self._locks[lock_token]
        entry[2].lock_token = None
        entry[2].locked_until = None
        return entry

    def _live_lock(self, lock_token: uuid.UUID) -> tuple[_Queue, SubQueue, StoredMessage]:
        entry = self._locks.get(lock_token)
        # An expired lock stays in the table until the expiry timer runs; it is lost all the same.
        if entry is None or (entry[2].locked_until or 0.0) <= self._clock():
            raise LockLostError(str(lock_token))
        return entry

    def _count_failed_attempt(self, queue: _Queue, sub_queue: SubQueue, message: StoredMessage) -> None:
        message.lock_token = None
        message.locked_until = None
        message.delivery_count += 1
        # The dead-letter queue has no delivery limit; the active queue moves a message once it has been
        # handed out max_delivery_count times without success.
        if sub_queue is SubQueue.ACTIVE and message.delivery_count >= queue.options.max_delivery_count:
            self._move_to_dead_letter(
                queue,
                message,
                MAX_DELIVERY_COUNT_EXCEEDED,
                f"Message could not be consumed after {queue.options.max_delivery_count} delivery attempts.",
            )

    @staticmethod
    def _move_to_dead_letter(
        queue: _Queue, message: StoredMessage, reason: str | None, description: str | None
    ) -> None:
        del queue.active[message.sequence_number]
        message.lock_token = None
        message.locked_until = None
        message.dead_letter_reason = reason
        message.dead_letter_description = description
        message.dead_letter_source = queue.name
        queue.dead_letter[message.sequence_number] = message


def _key(name: str) -> str:
    # Service Bus entity names are case-insensitive.
    return name.lower()


def _text(value: Any) -> Any:
    """Application property values may come back from AMQP as bytes; filters compare text."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
