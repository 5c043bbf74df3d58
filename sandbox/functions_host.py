"""A stand-in for the Azure Functions host's Service Bus trigger (Core Tools cannot be installed here).

It does what the host does for an SDK-type binding with `cardinality="many"` and
`autoCompleteMessages: false`: take a batch of peek-locked messages, hand each to the worker as
model_binding_data (the lock token, then the AMQP-encoded message), let the extension's own converter
decode them into `ServiceBusReceivedMessage`s, call the registered function found through
`app.get_functions()`, and give the function a `message_actions` object whose complete / abandon /
deadletter settle the message by its lock token. A function that raises gets its unsettled messages
abandoned, as the host does.

Two message sources plug in: `InMemoryQueue` (peek-lock semantics in memory, for unit-level runs) and,
for runs that cross sockets, the AMQP stand-in broker through the azure-servicebus SDK
(sandbox/servicebus_source.py).
"""

from __future__ import annotations

import logging
import threading
import time
import types
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

log = logging.getLogger(__name__)

LOCK_TOKEN_MARKER = b"x-opt-lock-token"


@dataclass
class LockedMessage:
    """A peek-locked message as a source hands it to the host."""

    body: bytes
    message_id: str | None
    lock_token: uuid.UUID
    delivery_count: int  # earlier failed deliveries (AMQP header semantics: 0 on the first delivery)
    sequence_number: int
    enqueued_time: datetime
    application_properties: Mapping[str, Any] = field(default_factory=dict)


class MessageSource(Protocol):
    def receive(self, max_messages: int, max_wait: float) -> list[LockedMessage]: ...

    def complete(self, lock_token: uuid.UUID) -> None: ...

    def abandon(self, lock_token: uuid.UUID) -> None: ...

    def deadletter(self, lock_token: uuid.UUID, reason: str | None, description: str | None) -> None: ...


# --- the host's wire format ---------------------------------------------------------------------------
def model_binding_data(message: LockedMessage) -> Any:
    """What the host sends the worker for one message: lock token (UUID, little-endian bytes), the marker,
    then the AMQP-encoded message."""
    from uamqp import Message
    from uamqp.message import MessageHeader, MessageProperties

    header = MessageHeader()
    header.delivery_count = message.delivery_count
    amqp = Message(
        body=message.body,
        properties=MessageProperties(message_id=message.message_id, content_type=b"application/json"),
        header=header,
        application_properties={
            str(key).encode(): (value.encode() if isinstance(value, str) else value)
            for key, value in message.application_properties.items()
        },
    )
    amqp.annotations = {
        b"x-opt-sequence-number": message.sequence_number,
        b"x-opt-enqueued-time": int(message.enqueued_time.timestamp() * 1000),
    }
    content = message.lock_token.bytes_le + LOCK_TOKEN_MARKER + amqp.encode_message()
    return types.SimpleNamespace(
        version="1.0",
        source="AzureServiceBusReceivedMessage",
        content_type="application/octet-stream",
        content=content,
    )


def decode_like_worker(batch: Sequence[LockedMessage]) -> list[Any]:
    """Run the binding extension's converter over the batch, as the Python worker does."""
    from azurefunctions.extensions.base import Datum
    from azurefunctions.extensions.bindings.servicebus import ServiceBusConverter, ServiceBusReceivedMessage

    datum = Datum(
        types.SimpleNamespace(model_binding_data=[model_binding_data(message) for message in batch]),
        "collection_model_binding_data",
    )
    decoded: list[Any] = ServiceBusConverter.decode(
        datum, trigger_metadata=None, pytype=list[ServiceBusReceivedMessage]
    )
    return decoded


class HostMessageActions:
    """The `message_actions` the function receives: settles by lock token through the source."""

    def __init__(self, source: MessageSource) -> None:
        self._source = source
        self.settled: set[uuid.UUID] = set()

    def complete(self, message: Any) -> None:
        self._settle(message, self._source.complete)

    def abandon(self, message: Any) -> None:
        self._settle(message, self._source.abandon)

    def deadletter(
        self,
        message: Any,
        deadletter_reason: str | None = None,
        deadletter_error_description: str | None = None,
    ) -> None:
        self._settle(
            message,
            lambda token: self._source.deadletter(token, deadletter_reason, deadletter_error_description),
        )

    def _settle(self, message: Any, settle: Callable[[uuid.UUID], None]) -> None:
        token = uuid.UUID(str(message.lock_token))
        if token in self.settled:
            raise RuntimeError("message already settled")  # the real service refuses a second settlement
        settle(token)
        self.settled.add(token)


@dataclass
class HostStats:
    invocations: int = 0
    failed_invocations: int = 0
    messages: int = 0


# The app is kept with its functions, so its id cannot be reused by another app while it is cached.
_INDEXED: dict[int, tuple[Any, list[Any]]] = {}


def indexed_functions(app: Any) -> list[Any]:
    """The app's functions with their bindings (`azure.functions` Function objects). The host indexes an app
    once per process, and so must we: `FunctionApp.get_functions()` refuses to build the same functions twice."""
    if id(app) not in _INDEXED:
        _INDEXED[id(app)] = (app, list(app.get_functions()))
    return _INDEXED[id(app)][1]


def registered_functions(app: Any) -> dict[str, Callable[..., Any]]:
    """The app's functions by name, as the host calls them."""
    return {function.get_function_name(): function.get_user_function() for function in indexed_functions(app)}


class LocalFunctionsHost:
    """Pumps a source into one registered function until the source stays empty."""

    def __init__(
        self,
        app: Any,
        function_name: str,
        source: MessageSource,
        *,
        max_batch: int = 32,
        on_invocation_start: Callable[[list[LockedMessage]], None] | None = None,
    ) -> None:
        self._function = registered_functions(app)[function_name]
        self._source = source
        self._max_batch = max_batch
        self._on_start = on_invocation_start
        self.stats = HostStats()

    def pump(self, *, idle_seconds: float = 0.2, timeout: float = 120.0) -> HostStats:
        """Invoke the function until the source is empty and holds no locked messages."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = self._source.receive(self._max_batch, idle_seconds)
            if batch:
                self.invoke(batch)
                continue
            in_flight = getattr(self._source, "in_flight", None)
            if in_flight is None or in_flight() == 0:
                return self.stats
            time.sleep(min(idle_seconds, 0.1))  # messages left locked come back when their locks expire
        raise TimeoutError(f"messages still arriving after {timeout}s")

    def invoke(self, batch: list[LockedMessage]) -> None:
        if self._on_start is not None:
            self._on_start(batch)
        actions = HostMessageActions(self._source)
        self.stats.invocations += 1
        self.stats.messages += len(batch)
        with _LockRenewal(self._source, batch, actions.settled):
            self._call(batch, actions)

    def _call(self, batch: list[LockedMessage], actions: HostMessageActions) -> None:
        try:
            context = types.SimpleNamespace(invocation_id=str(uuid.uuid4()))  # the host names each invocation
            self._function(messages=decode_like_worker(batch), message_actions=actions, context=context)
        except Exception as exc:  # noqa: BLE001 - the host logs and abandons, it does not stop
            self.stats.failed_invocations += 1
            log.warning("Function invocation failed (%s); abandoning unsettled messages", type(exc).__name__)
            for message in batch:
                if message.lock_token not in actions.settled:
                    self._source.abandon(message.lock_token)


class _LockRenewal:
    """What the host does while a function runs (maxAutoLockRenewalDuration): renew the batch's locks
    before they expire, so a long invocation does not lose its messages to a redelivery."""

    def __init__(self, source: MessageSource, batch: list[LockedMessage], settled: set[uuid.UUID]) -> None:
        self._renew = getattr(source, "renew", None)
        self._every = getattr(source, "renew_interval", None)
        self._batch = batch
        self._settled = settled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lock renewal", daemon=True)

    def __enter__(self) -> _LockRenewal:
        if self._renew is not None and self._every:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        assert self._renew is not None
        while not self._stop.wait(self._every):
            for message in self._batch:
                if message.lock_token not in self._settled:
                    try:
                        self._renew(message.lock_token)
                    except KeyError:  # settled meanwhile, or its lock was already lost
                        continue


# --- an in-memory peek-lock queue -----------------------------------------------------------------------
class InMemorySender:
    """The app's Service Bus sender (NotificationSender) for an InMemoryQueue: the rescheduled copies of the
    in-memory runs go back to the queue, scheduled as the real service would hold them."""

    def __init__(self, queue: InMemoryQueue) -> None:
        self._queue = queue

    def send(self, messages: Sequence[Any], *, timeout: float) -> Any:
        from shared.servicebus.sender import SendResult

        for message in messages:
            self._queue.send(
                message.body,
                message_id=message.message_id,
                properties=message.application_properties,
                visible_at=message.scheduled_enqueue_time,
            )
        return SendResult(accepted=tuple(range(len(messages))))

    def close(self) -> None:
        """Nothing to close: the queue belongs to the sandbox."""


@dataclass
class DeadLetter:
    message: LockedMessage
    reason: str | None
    description: str | None


class InMemoryQueue:
    """Service Bus queue semantics in memory: peek-lock with lock expiry, delivery count, max delivery count,
    dead-letter sub-queue and duplicate detection by message_id."""

    def __init__(
        self,
        *,
        max_delivery_count: int = 10,
        duplicate_window: timedelta = timedelta(minutes=10),
        lock_duration: timedelta = timedelta(seconds=30),
    ) -> None:
        self.max_delivery_count = max_delivery_count
        self.duplicate_window = duplicate_window
        self.lock_duration = lock_duration
        self._available: list[LockedMessage] = []
        self._scheduled: list[tuple[datetime, LockedMessage]] = []  # invisible until their time
        self._locked: dict[uuid.UUID, tuple[LockedMessage, float]] = {}  # token -> (message, lock expiry)
        self.dead_letters: list[DeadLetter] = []
        self.completed = 0
        self.duplicates_dropped = 0
        self._seen_ids: dict[str, datetime] = {}
        self._sequence = 0
        self._lock = threading.Lock()

    def send(
        self,
        body: bytes,
        *,
        message_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        visible_at: datetime | None = None,
    ) -> bool:
        """Enqueue (invisible until `visible_at` when scheduled); False when duplicate detection dropped it."""
        now = datetime.now(UTC)
        with self._lock:
            if message_id is not None:
                seen = self._seen_ids.get(message_id)
                if seen is not None and now - seen < self.duplicate_window:
                    self.duplicates_dropped += 1
                    return False
                self._seen_ids[message_id] = now
            self._sequence += 1
            message = LockedMessage(
                body, message_id, uuid.uuid4(), 0, self._sequence, now, dict(properties or {})
            )
            if visible_at is not None and visible_at > now:
                self._scheduled.append((visible_at, message))
            else:
                self._available.append(message)
            return True

    def receive(self, max_messages: int, max_wait: float = 0.0) -> list[LockedMessage]:
        with self._lock:
            self._expire_locks()
            self._release_scheduled()
            batch, self._available = self._available[:max_messages], self._available[max_messages:]
            expires = time.monotonic() + self.lock_duration.total_seconds()
            for message in batch:
                message.lock_token = uuid.uuid4()
                self._locked[message.lock_token] = (message, expires)
            return batch

    @property
    def renew_interval(self) -> float:
        return self.lock_duration.total_seconds() / 3

    def renew(self, lock_token: uuid.UUID) -> None:
        """Extend a held lock by the lock duration (KeyError when it is not held any more)."""
        with self._lock:
            self._expire_locks()
            message, _ = self._locked[lock_token]
            self._locked[lock_token] = (message, time.monotonic() + self.lock_duration.total_seconds())

    def complete(self, lock_token: uuid.UUID) -> None:
        with self._lock:
            self._take(lock_token)
            self.completed += 1

    def abandon(self, lock_token: uuid.UUID) -> None:
        with self._lock:
            self._redeliver(self._take(lock_token))

    def deadletter(self, lock_token: uuid.UUID, reason: str | None, description: str | None) -> None:
        with self._lock:
            self.dead_letters.append(DeadLetter(self._take(lock_token), reason, description))

    @property
    def active_count(self) -> int:
        with self._lock:
            return len(self._available) + len(self._locked)

    def in_flight(self) -> int:
        """Messages locked and not settled (they come back when their lock expires) or scheduled for later."""
        with self._lock:
            return len(self._locked) + len(self._scheduled)

    def _release_scheduled(self) -> None:
        now = datetime.now(UTC)
        due = [message for at, message in self._scheduled if at <= now]
        self._scheduled = [(at, message) for at, message in self._scheduled if at > now]
        self._available.extend(due)

    def _take(self, lock_token: uuid.UUID) -> LockedMessage:
        self._expire_locks()
        held = self._locked.pop(lock_token, None)
        if held is None:
            raise KeyError("lock token not held (already settled or lock lost)")
        return held[0]

    def _expire_locks(self) -> None:
        """A lock nobody settled in time ends: the message counts a failed delivery and comes back."""
        now = time.monotonic()
        for token, (message, expires) in list(self._locked.items()):
            if expires <= now:
                del self._locked[token]
                self._redeliver(message)

    def _redeliver(self, message: LockedMessage) -> None:
        message.delivery_count += 1
        if message.delivery_count >= self.max_delivery_count:
            self.dead_letters.append(
                DeadLetter(message, "MaxDeliveryCountExceeded", "Message could not be consumed")
            )
        else:
            self._available.append(message)
