"""A message source for the Functions-host stand-in that reads a real Service Bus queue (in the sandbox, the
AMQP stand-in broker) through the unmodified azure-servicebus SDK, in peek-lock mode.

The host stand-in re-encodes each received message into the host's wire format before the function sees
it, and settles by lock token through this source, so the function's complete / abandon / dead-letter go
back to the broker exactly as the real host's settlement calls would.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from sandbox.functions_host import LockedMessage


class ServiceBusQueueSource:
    def __init__(self, connection_string: str, queue: str, *, max_wait_floor: float = 0.2) -> None:
        from azure.servicebus import ServiceBusClient, ServiceBusReceiveMode

        self._client = ServiceBusClient.from_connection_string(connection_string)
        self._receiver = self._client.get_queue_receiver(
            queue, receive_mode=ServiceBusReceiveMode.PEEK_LOCK, prefetch_count=0
        )
        # Open the link now: a receive with a short max_wait_time would otherwise time out opening it.
        self._receiver.__enter__()
        self._held: dict[uuid.UUID, Any] = {}
        self._max_wait_floor = max_wait_floor
        self._lock = threading.Lock()  # the SDK's receiver is not thread-safe

    def receive(self, max_messages: int, max_wait: float) -> list[LockedMessage]:
        with self._lock:
            received = self._receiver.receive_messages(
                max_message_count=max_messages, max_wait_time=max(max_wait, self._max_wait_floor)
            )
            batch = []
            for message in received:
                token = uuid.UUID(str(message.lock_token))
                self._held[token] = message
                batch.append(
                    LockedMessage(
                        body=b"".join(bytes(section) for section in message.body),
                        message_id=message.message_id,
                        lock_token=token,
                        delivery_count=int(message.delivery_count or 0),
                        sequence_number=int(message.sequence_number or 0),
                        enqueued_time=message.enqueued_time_utc or datetime.now(UTC),
                        application_properties={
                            _text(key): _text(value)
                            for key, value in (message.application_properties or {}).items()
                        },
                    )
                )
            return batch

    def complete(self, lock_token: uuid.UUID) -> None:
        with self._lock:
            self._receiver.complete_message(self._held.pop(lock_token))

    def abandon(self, lock_token: uuid.UUID) -> None:
        with self._lock:
            self._receiver.abandon_message(self._held.pop(lock_token))

    def deadletter(self, lock_token: uuid.UUID, reason: str | None, description: str | None) -> None:
        with self._lock:
            self._receiver.dead_letter_message(
                self._held.pop(lock_token), reason=reason, error_description=description
            )

    def close(self) -> None:
        self._receiver.close()
        self._client.close()


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
