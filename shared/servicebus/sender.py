"""Sends messages to one Service Bus queue in batches (azure-servicebus, imported on first use): the bridge's
notifications, and the delayed copies of messages whose processing must wait (see settlement.py).

Messages are packed into `ServiceBusMessageBatch`es in order; a batch that is full is sent and a new one
started, so a send is one AMQP transfer per batch. Each batch is either accepted by Service Bus as a whole or
not at all. The first batch that fails stops the send: later batches are not attempted, so the caller knows
exactly which messages Service Bus holds (`accepted`) and which it may not (everything else).

A timed-out send may still land later (the broker can accept a transfer whose acknowledgement we stopped
waiting for). That is safe: the caller keeps those messages in SQS, SQS delivers them again, and Service
Bus duplicate detection (same `message_id`) drops the repeat.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, Self

from shared.errors import TransientError

if TYPE_CHECKING:
    from types import TracebackType

    from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusMessageBatch, ServiceBusSender

    from shared.config import Settings

PropertyValue = str | int | float | bool | bytes
MAX_MESSAGE_ID_LENGTH = 128  # Service Bus refuses longer message ids
# Until the link is open we do not know the namespace's limit; Standard tier's 256 KB is the lowest there is.
UNOPENED_LINK_BATCH_BYTES = 256 * 1024


class ServiceBusSendFailed(TransientError):
    """Service Bus refused a batch, or did not acknowledge it in time (`outcome_unknown`: it may land later)."""

    reason = "ServiceBusUnavailable"

    def __init__(self, message: str, *, outcome_unknown: bool) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


@dataclass(frozen=True)
class OutgoingMessage:
    body: bytes = field(repr=False)
    message_id: str
    application_properties: Mapping[str, PropertyValue] = field(default_factory=dict)
    content_type: str = "application/json"
    subject: str | None = None
    # Service Bus holds the message until then (x-opt-scheduled-enqueue-time); None: enqueue now.
    scheduled_enqueue_time: datetime | None = None


@dataclass(frozen=True)
class SendResult:
    """Positions (in the list given to `send`) Service Bus accepted, those too large for any batch, and the
    error that stopped the send (the messages after it were not attempted)."""

    accepted: tuple[int, ...] = ()
    too_large: tuple[int, ...] = ()
    error: ServiceBusSendFailed | None = None


class NotificationSender(Protocol):
    """What the bridge needs from Service Bus (the SDK sender below, or a test's fake)."""

    def send(self, messages: Sequence[OutgoingMessage], *, timeout: float) -> SendResult: ...

    def close(self) -> None: ...


class ServiceBusQueueSender:
    """NotificationSender on the azure-servicebus SDK: one client and one queue sender, opened on first send.

    `create_message_batch()` opens the AMQP link under the client's own retry policy, which no timeout of
    ours bounds (about 11 s against an unreachable namespace). So until a send has succeeded, batches are
    built with the lowest size limit of any tier and the link is opened by `send_messages(timeout=...)`,
    which the timeout does bound; afterwards batches take the link's real limit.
    """

    def __init__(
        self,
        client: ServiceBusClient,
        queue: str,
        *,
        topic: bool = False,
        clock: Callable[[], float] = time.monotonic,
        unopened_batch_bytes: int = UNOPENED_LINK_BATCH_BYTES,
    ) -> None:
        self.queue = queue  # the queue, or the topic when `topic`
        self._topic = topic
        self._client = client
        self._sender: ServiceBusSender | None = None
        self._use_link_limit = False  # True once the link is open
        self._clock = clock
        self._unopened_batch_bytes = unopened_batch_bytes

    @classmethod
    def from_settings(cls, settings: Settings, queue: str | None = None) -> ServiceBusQueueSender:
        """A sender to `queue` (default: the Amazon notifications queue) connected as the app is."""
        from shared.servicebus.client import service_bus_client

        return cls(service_bus_client(settings), queue or settings.amazon_notifications_queue)

    @classmethod
    def to_topic(cls, settings: Settings, topic: str) -> ServiceBusQueueSender:
        """A sender to a topic (its subscriptions each get a copy), connected as the app is."""
        from shared.servicebus.client import service_bus_client

        return cls(service_bus_client(settings), topic, topic=True)

    def send(self, messages: Sequence[OutgoingMessage], *, timeout: float) -> SendResult:
        """Send in order within `timeout` seconds in total (opening the link, SDK retries, every batch)."""
        from azure.core.exceptions import AzureError

        deadline = self._clock() + timeout
        accepted: list[int] = []
        too_large: list[int] = []
        try:
            for batch, positions in self._batches(messages, too_large):
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise ServiceBusSendFailed("no time left to send the next batch", outcome_unknown=False)
                self._queue_sender().send_messages(batch, timeout=remaining)
                self._use_link_limit = True
                accepted.extend(positions)
        except ServiceBusSendFailed as exc:
            return SendResult(tuple(accepted), tuple(too_large), exc)
        except AzureError as exc:
            return SendResult(tuple(accepted), tuple(too_large), _send_failure(exc))
        return SendResult(tuple(accepted), tuple(too_large))

    def close(self) -> None:
        try:
            if self._sender is not None:
                self._sender.close()
        finally:
            self._sender = None
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _queue_sender(self) -> ServiceBusSender:
        if self._sender is None:
            self._sender = (
                self._client.get_topic_sender(self.queue)
                if self._topic
                else self._client.get_queue_sender(self.queue)
            )
        return self._sender

    def _batches(
        self, messages: Sequence[OutgoingMessage], too_large: list[int]
    ) -> list[tuple[ServiceBusMessageBatch, list[int]]]:
        """Pack the messages in order into as few batches as the size limit allows."""
        batches: list[tuple[ServiceBusMessageBatch, list[int]]] = []
        batch, positions = self._new_batch(), list[int]()
        for position, message in enumerate(messages):
            sdk_message = _sdk_message(message)
            if _fits(batch, sdk_message):
                positions.append(position)
                continue
            fresh = self._empty_batch_holding(sdk_message)
            if fresh is None:
                too_large.append(position)
                continue
            if positions:
                batches.append((batch, positions))
            batch, positions = fresh, [position]
        if positions:
            batches.append((batch, positions))
        return batches

    def _empty_batch_holding(self, sdk_message: ServiceBusMessage) -> ServiceBusMessageBatch | None:
        """A new batch holding the message, or None when no batch of this namespace can hold it."""
        fresh = self._new_batch()
        if _fits(fresh, sdk_message):
            return fresh
        if self._use_link_limit:
            return None
        # Larger than the lowest tier allows: learn this namespace's limit (this opens the link).
        self._use_link_limit = True
        return self._empty_batch_holding(sdk_message)

    def _new_batch(self) -> ServiceBusMessageBatch:
        if self._use_link_limit:
            return self._queue_sender().create_message_batch()
        from azure.servicebus import ServiceBusMessageBatch

        return ServiceBusMessageBatch(max_size_in_bytes=self._unopened_batch_bytes)


def _fits(batch: ServiceBusMessageBatch, message: ServiceBusMessage) -> bool:
    from azure.servicebus.exceptions import MessageSizeExceededError

    try:
        batch.add_message(message)
    except MessageSizeExceededError:
        return False
    return True


def _sdk_message(message: OutgoingMessage) -> ServiceBusMessage:
    from azure.servicebus import ServiceBusMessage

    if not 0 < len(message.message_id) <= MAX_MESSAGE_ID_LENGTH:
        raise ValueError("a Service Bus message_id has 1-128 characters")
    return ServiceBusMessage(
        message.body,
        message_id=message.message_id,
        content_type=message.content_type,
        subject=message.subject,
        application_properties=dict(message.application_properties),  # type: ignore[arg-type]
        scheduled_enqueue_time_utc=message.scheduled_enqueue_time,
    )


def _send_failure(exc: Exception) -> ServiceBusSendFailed:
    """Name the SDK's error type only: SDK messages can quote entity paths and tokens' audiences."""
    from azure.servicebus.exceptions import (
        OperationTimeoutError,
        ServiceBusCommunicationError,
        ServiceBusConnectionError,
    )

    unknown = isinstance(
        exc, OperationTimeoutError | ServiceBusConnectionError | ServiceBusCommunicationError
    )
    what = "was not acknowledged in time" if isinstance(exc, OperationTimeoutError) else "failed"
    return ServiceBusSendFailed(f"Service Bus send {what}: {type(exc).__name__}", outcome_unknown=unknown)
