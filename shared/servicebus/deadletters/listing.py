"""Listing dead letters: peek the `$DeadLetterQueue` sub-queue page by page by sequence number.

Nothing is locked, nothing changes, not even a delivery count. Each dead letter is described by what
Service Bus knows (sequence number, message id, reason, description, delivery count, enqueued time) and by
the identifiers the Amazon envelope reader finds in the body (NotificationId, NotificationType, AmazonOrderId
for ORDER_CHANGE). Nothing else of the body is kept: it holds buyer data, and a listing ends up in
terminals, tickets and HTTP answers.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from shared.amazon.notifications import EnvelopeFacts, read_envelope_facts
from shared.messaging import MAX_DESCRIPTION, MAX_REASON
from shared.sanitize import public_text
from shared.servicebus.settlement import application_properties, count_property, message_body

if TYPE_CHECKING:
    from azure.servicebus import AutoLockRenewer

NO_REASON = "(none)"  # how a dead letter without a reason shows in summaries and is selected by --reason
# A sender whose body is no Amazon notification (the resync queue) names the order here, so a listing can.
AMAZON_ORDER_ID_PROPERTY = "amazon_order_id"
_ORDER_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
REPLAY_COUNT = "replay.count"  # 1 for the first replay of a notification, 2 when a replayed copy is replayed
MAX_SHOWN_ID = 200  # Service Bus message ids have at most 128 characters; escapes can make them longer


# --- limits ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Limits:
    """How much one call may do; every loop here is bounded by these."""

    page_size: int = 100  # messages per peek request
    batch_size: int = 20  # messages per peek-lock receive while replaying (short batches keep locks fresh)
    max_list: int = 10_000  # dead letters listed per queue (and looked through by a replay)
    max_replay: int = 1_000  # messages replayed per call; the rest are reported over_limit
    max_wait_seconds: float = 5.0  # how long one receive waits for a dead letter it expects
    lock_renewal_seconds: float = 600.0  # AutoLockRenewer bound for held messages; 0 turns renewal off

    def __post_init__(self) -> None:
        for name in ("page_size", "batch_size", "max_list", "max_replay"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_wait_seconds <= 0:
            raise ValueError("max_wait_seconds must be positive")
        if self.lock_renewal_seconds < 0:
            raise ValueError("lock_renewal_seconds must not be negative")


# --- listing ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message as it may be shown to anyone: broker facts and identifiers, no body."""

    sequence_number: int
    message_id: str | None
    reason: str | None
    description: str | None
    delivery_count: int  # as the SDK reports it
    enqueued_time: datetime | None
    notification_id: str | None
    notification_type: str | None
    amazon_order_id: str | None
    replay_count: int = 0  # how often this notification was replayed before (the replay.count property)

    @property
    def reason_key(self) -> str:
        return self.reason or NO_REASON

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence_number": self.sequence_number,
            "message_id": self.message_id,
            "reason": self.reason,
            "description": self.description,
            "delivery_count": self.delivery_count,
            "enqueued_time": None if self.enqueued_time is None else self.enqueued_time.isoformat(),
            "notification_id": self.notification_id,
            "notification_type": self.notification_type,
            "amazon_order_id": self.amazon_order_id,
            "replay_count": self.replay_count,
        }


@dataclass(frozen=True)
class DeadLetterList:
    """The dead letters of one queue, by sequence number; `truncated` when there were more than max_list."""

    queue: str
    messages: tuple[DeadLetter, ...]
    truncated: bool = False

    @property
    def by_reason(self) -> dict[str, int]:
        """Count per reason, most frequent first."""
        counts = Counter(letter.reason_key for letter in self.messages)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def to_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "count": len(self.messages),
            "truncated": self.truncated,
            "by_reason": self.by_reason,
            "messages": [letter.to_json() for letter in self.messages],
        }


def describe(message: Any) -> DeadLetter:
    """A received or peeked ServiceBusReceivedMessage as a DeadLetter (reads the body, keeps identifiers)."""
    facts = read_envelope_facts(message_body(message)) if has_data_body(message) else EnvelopeFacts()
    properties = application_properties(message)
    return DeadLetter(
        sequence_number=int(message.sequence_number),
        message_id=_shown(message.message_id, MAX_SHOWN_ID),
        reason=_shown(message.dead_letter_reason, MAX_REASON),
        description=_shown(message.dead_letter_error_description, MAX_DESCRIPTION),
        delivery_count=int(message.delivery_count or 0),
        enqueued_time=message.enqueued_time_utc,
        notification_id=facts.notification_id,
        notification_type=facts.notification_type,
        amazon_order_id=facts.amazon_order_id or _order_id(properties.get(AMAZON_ORDER_ID_PROPERTY)),
        replay_count=count_property(properties.get(REPLAY_COUNT)),
    )


def _order_id(value: object) -> str | None:
    return value if isinstance(value, str) and _ORDER_ID.fullmatch(value) else None


def _shown(value: object, limit: int) -> str | None:
    """Text the broker holds, as it may be shown: anyone could have written it (the sender chose the
    message id; another app may have dead-lettered with any reason), so it is redacted, escaped and capped
    like everything the app writes out."""
    return None if value is None else public_text(value, limit)


class QueueClient(Protocol):
    """The two calls of azure.servicebus.ServiceBusClient used here (tests pass fakes)."""

    def get_queue_receiver(self, queue_name: str, **kwargs: Any) -> Any: ...

    def get_queue_sender(self, queue_name: str, **kwargs: Any) -> Any: ...


def list_dead_letters(client: QueueClient, queue: str, *, limits: Limits | None = None) -> DeadLetterList:
    """Peek every dead letter of `queue` (at most limits.max_list), without locking or changing any."""
    limits = limits or Limits()
    with client.get_queue_receiver(queue, **dead_letter_receiver_options()) as receiver:
        return peek_all(receiver, queue, limits)


def peek_all(receiver: Any, queue: str, limits: Limits) -> DeadLetterList:
    letters: list[DeadLetter] = []
    next_sequence_number = 1
    while len(letters) < limits.max_list:
        wanted = min(limits.page_size, limits.max_list - len(letters))
        page = _peek(receiver, next_sequence_number, wanted)
        if not page:
            return DeadLetterList(queue, tuple(letters))
        letters.extend(describe(message) for message in page)
        next_sequence_number = max(int(message.sequence_number) for message in page) + 1
    more = bool(_peek(receiver, next_sequence_number, 1))
    return DeadLetterList(queue, tuple(letters), truncated=more)


def _peek(receiver: Any, from_sequence_number: int, count: int) -> list[Any]:
    page = receiver.peek_messages(max_message_count=count, sequence_number=from_sequence_number)
    # Only what lies ahead: a broker answering out of range must not make the paging go round in circles.
    return sorted(
        (m for m in page if int(m.sequence_number) >= from_sequence_number), key=lambda m: m.sequence_number
    )


def has_data_body(message: Any) -> bool:
    body_type = getattr(message, "body_type", None)
    return body_type is None or str(getattr(body_type, "value", body_type)) == "data"


def dead_letter_receiver_options(*, auto_lock_renewer: AutoLockRenewer | None = None) -> dict[str, Any]:
    from azure.servicebus import ServiceBusReceiveMode, ServiceBusSubQueue

    options: dict[str, Any] = {
        "sub_queue": ServiceBusSubQueue.DEAD_LETTER,
        "receive_mode": ServiceBusReceiveMode.PEEK_LOCK,  # peeking locks nothing in any mode
        "prefetch_count": 0,  # lock only what we ask for
    }
    if auto_lock_renewer is not None:  # renews the locks of the messages a replay holds
        options["auto_lock_renewer"] = auto_lock_renewer
    return options
