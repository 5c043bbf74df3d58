"""What an AMQP address names on Service Bus: a queue or topic subscription, its dead-letter queue, or a
request/response node.

The SDK attaches to full URIs (`amqps://127.0.0.1:5671/orders`, even without TLS) and to bare paths
(`orders/$management`, `$cbs`); put-token audiences look like `sb://127.0.0.1:5671/orders`. A subscription
is `<topic>/Subscriptions/<name>`, with the same suffixes as a queue; a topic is addressed like a queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .queues import SUBSCRIPTIONS_SEGMENT, Entity, SubQueue

CBS_NODE = "$cbs"
MANAGEMENT_SUFFIX = "/$management"
DEAD_LETTER_SUFFIX = "/$deadletterqueue"


class NodeKind(Enum):
    QUEUE = "queue"
    CBS = "cbs"
    MANAGEMENT = "management"


@dataclass(frozen=True)
class Node:
    kind: NodeKind
    path: str  # the address without scheme and host, e.g. `orders/$DeadLetterQueue/$management`
    entity: Entity | None  # None for $cbs


def path_of(address: str | None) -> str:
    """`amqps://host:port/orders/$management` -> `orders/$management`."""
    path = address or ""
    if "://" in path:
        path = path.split("://", 1)[1]
        path = path.split("/", 1)[1] if "/" in path else ""
    return path.strip("/")


def parse(address: str | None) -> Node | None:
    """The node an address names; None for what the stand-in does not have (topics, subscriptions)."""
    path = path_of(address)
    if path == CBS_NODE:
        return Node(NodeKind.CBS, path, None)
    kind, queue = NodeKind.QUEUE, path
    if queue.lower().endswith(MANAGEMENT_SUFFIX):
        kind, queue = NodeKind.MANAGEMENT, queue[: -len(MANAGEMENT_SUFFIX)]
    sub_queue = SubQueue.ACTIVE
    if queue.lower().endswith(DEAD_LETTER_SUFFIX):
        sub_queue, queue = SubQueue.DEAD_LETTER, queue[: -len(DEAD_LETTER_SUFFIX)]
    if not queue or queue.startswith("$") or not _entity_path(queue):
        return None
    return Node(kind, path, Entity(queue, sub_queue))


def _entity_path(path: str) -> bool:
    """A queue or topic (`orders`) or a subscription (`orders/Subscriptions/audit`)."""
    parts = path.split("/")
    if len(parts) == 1:
        return True
    return len(parts) == 3 and parts[1].lower() == SUBSCRIPTIONS_SEGMENT.lower() and all(parts)
