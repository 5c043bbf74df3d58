"""A cheap look at a Service Bus queue for the health check: peek one message, lock nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.config import Settings


def peek_queue(settings: Settings, queue: str, *, timeout: float) -> int:
    """How many messages one peek returned (0 or 1): proves the namespace answers the app's identity and the
    queue exists. Raises the SDK's error otherwise."""
    from shared.servicebus.client import service_bus_client

    with (
        service_bus_client(settings) as client,
        client.get_queue_receiver(queue, prefetch_count=0) as receiver,
    ):
        return len(receiver.peek_messages(max_message_count=1, timeout=timeout))
