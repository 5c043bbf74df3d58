"""Dead letters of the app's Service Bus queues: list them without touching them, replay the chosen ones.

Listing peeks the `$DeadLetterQueue` sub-queue page by page by sequence number: nothing is locked, nothing
changes, not even a delivery count. Each dead letter is described by what Service Bus knows (sequence number,
message id, reason, description, delivery count, enqueued time) and by three identifiers read from the body
when it is an SP-API envelope (PascalCase or camelCase keys): NotificationId, NotificationType and, for
ORDER_CHANGE, the AmazonOrderId. Nothing else of the body is kept: it holds buyer data (the destination
postal code alone is personal data), and a listing ends up in terminals, tickets and HTTP answers.

Replaying first takes the same peek snapshot and picks the messages to replay from it (by sequence number,
by dead-letter reason, or all), so a dry run shows exactly what a real run would do without locking
anything. The real run then receives the dead-letter queue in peek-lock, and for each chosen message sends
a copy to the queue (same body, content type, correlation id, subject and application properties, minus the
DeadLetterReason/DeadLetterErrorDescription Service Bus added, plus `replay.*` markers) and completes the dead
letter only after the send succeeded. Messages it was not asked to replay are held locked while it looks
further (so the receiver moves past them; their locks are renewed) and released at the end, unchanged
(Service Bus counts the release in their delivery count, which has no limit in a dead-letter queue); a
message whose send failed is released too and stays. The receive stops as soon as every chosen message is
dealt with, so messages behind the last one are never locked.

The copy's message id is `<original message id>:replay:<dead-letter sequence number>`. It differs from the
original id, which may still be inside the queue's duplicate-detection window (the bridge sets message_id
= NotificationId), so Service Bus does not drop the copy. It is also deterministic: if a run dies after the
send and before removing the dead letter, the next run sends the same id and duplicate detection drops the
second copy. Beyond the window, order sync's NotificationId dedupe (the body is unchanged) applies it once.

Everything here is bounded (page sizes, a maximum number listed and replayed, a receive wait) and returns
small frozen dataclasses with `to_json()`, so the command line (`python -m shared.servicebus.deadletters`,
see shared/deadletters_cli.py) and a later HTTP endpoint serialise the same thing. azure.servicebus is
imported inside the functions that talk to Service Bus.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from shared.servicebus.settlement import message_body

if TYPE_CHECKING:
    from azure.servicebus import AutoLockRenewer, ServiceBusMessage

    from shared.config import Settings

ORDER_CHANGE = "ORDER_CHANGE"

# Application properties the replay writes on each copy.
REPLAY_COUNT = "replay.count"  # 1 for the first replay of a notification, 2 when a replayed copy is replayed
REPLAY_FROM_SEQUENCE_NUMBER = "replay.from_sequence_number"  # the dead letter's sequence number
REPLAY_ORIGINAL_MESSAGE_ID = "replay.original_message_id"  # the first message id, kept across replays
REPLAY_DEAD_LETTER_REASON = "replay.dead_letter_reason"  # why the replayed message had been dead-lettered
REPLAYED_AT = "replay.replayed_at"  # ISO 8601 UTC

# Service Bus writes these application properties on a dead-lettered message; a copy must not carry them.
DEAD_LETTER_PROPERTIES = frozenset({"DeadLetterReason", "DeadLetterErrorDescription"})

NO_REASON = "(none)"  # how a dead letter without a reason shows in summaries and is selected by --reason
MAX_MESSAGE_ID = 128  # Service Bus limit

# What an identifier read from a body may look like: NotificationIds are UUIDs, AmazonOrderIds look like
# 113-1234567-1234567, types like ORDER_CHANGE. Anything else (a name, an address, an email) is not shown.
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")


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


# --- what a body may tell --------------------------------------------------------------------------------
@dataclass(frozen=True)
class NotificationFacts:
    """The identifiers of an SP-API notification, and nothing else of its body."""

    notification_id: str | None = None
    notification_type: str | None = None
    amazon_order_id: str | None = None  # ORDER_CHANGE only


def notification_facts(body: bytes) -> NotificationFacts:
    """NotificationId, NotificationType and (ORDER_CHANGE only) AmazonOrderId of a body, as far as present.

    Lenient on purpose: dead letters are often malformed notifications, and whatever identifiers they do
    carry help find them. Each value must look like an identifier, or it is left out.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or absurdly nested
        return NotificationFacts()
    if not isinstance(data, dict):
        return NotificationFacts()
    metadata = _envelope_field(data, "NotificationMetadata")
    notification_id = (
        _identifier(_envelope_field(metadata, "NotificationId")) if isinstance(metadata, dict) else None
    )
    notification_type = _identifier(_envelope_field(data, "NotificationType"))
    amazon_order_id = None
    if notification_type == ORDER_CHANGE:
        payload = _envelope_field(data, "Payload")
        change = payload.get("OrderChangeNotification") if isinstance(payload, dict) else None
        if isinstance(change, dict):  # ORDER_CHANGE payloads are PascalCase only (Amazon's schema)
            amazon_order_id = _identifier(change.get("AmazonOrderId"))
    return NotificationFacts(notification_id, notification_type, amazon_order_id)


def _envelope_field(data: dict[str, Any], name: str) -> Any:
    """An envelope field in PascalCase (most types) or camelCase (REPORT_PROCESSING_FINISHED and newer)."""
    if name in data:
        return data[name]
    return data.get(name[0].lower() + name[1:])


def _identifier(value: object) -> str | None:
    return value if isinstance(value, str) and _IDENTIFIER.fullmatch(value) else None


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
    facts = notification_facts(message_body(message)) if _has_data_body(message) else NotificationFacts()
    properties = application_properties(message)
    return DeadLetter(
        sequence_number=int(message.sequence_number),
        message_id=None if message.message_id is None else str(message.message_id),
        reason=message.dead_letter_reason,
        description=message.dead_letter_error_description,
        delivery_count=int(message.delivery_count or 0),
        enqueued_time=message.enqueued_time_utc,
        notification_id=facts.notification_id,
        notification_type=facts.notification_type,
        amazon_order_id=facts.amazon_order_id,
        replay_count=_count(properties.get(REPLAY_COUNT)),
    )


class QueueClient(Protocol):
    """The two calls of azure.servicebus.ServiceBusClient used here (tests pass fakes)."""

    def get_queue_receiver(self, queue_name: str, **kwargs: Any) -> Any: ...

    def get_queue_sender(self, queue_name: str, **kwargs: Any) -> Any: ...


def list_dead_letters(client: QueueClient, queue: str, *, limits: Limits | None = None) -> DeadLetterList:
    """Peek every dead letter of `queue` (at most limits.max_list), without locking or changing any."""
    limits = limits or Limits()
    with client.get_queue_receiver(queue, **_dead_letter_receiver_options()) as receiver:
        return _peek_all(receiver, queue, limits)


def _peek_all(receiver: Any, queue: str, limits: Limits) -> DeadLetterList:
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


# --- choosing what to replay -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    """Which dead letters to replay: some sequence numbers, all of one reason, or all. Exactly one."""

    sequence_numbers: frozenset[int] | None = None
    reason: str | None = None
    all: bool = False

    def __post_init__(self) -> None:
        chosen = (self.sequence_numbers is not None) + (self.reason is not None) + self.all
        if chosen != 1:
            raise ValueError("choose exactly one of: sequence numbers, a reason, or all")
        if self.sequence_numbers is not None and not self.sequence_numbers:
            raise ValueError("no sequence numbers given")
        if self.reason is not None and not self.reason.strip():
            raise ValueError("the reason is empty")

    @classmethod
    def of(
        cls, *, sequence_numbers: Iterable[int] | None = None, reason: str | None = None, all: bool = False
    ) -> Selection:
        numbers = None if sequence_numbers is None else frozenset(int(n) for n in sequence_numbers)
        return cls(numbers, reason, all)

    def matches(self, letter: DeadLetter) -> bool:
        if self.all:
            return True
        if self.sequence_numbers is not None:
            return letter.sequence_number in self.sequence_numbers
        # Reasons are codes (UnknownSku); case does not matter, "(none)" picks dead letters without one.
        return letter.reason_key.casefold() == (self.reason or "").strip().casefold()

    def describe(self) -> str:
        if self.all:
            return "all"
        if self.sequence_numbers is not None:
            return "sequence " + ", ".join(str(n) for n in sorted(self.sequence_numbers))
        return f"reason {self.reason}"


# --- the copy --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplayCopy:
    """What is sent back to the queue for one dead letter."""

    body: bytes
    message_id: str
    content_type: str | None
    correlation_id: str | None
    subject: str | None
    application_properties: dict[str, Any] = field(default_factory=dict)

    def to_message(self) -> ServiceBusMessage:
        from azure.servicebus import ServiceBusMessage

        return ServiceBusMessage(
            self.body,
            message_id=self.message_id,
            content_type=self.content_type,
            correlation_id=self.correlation_id,
            subject=self.subject,
            application_properties=dict(self.application_properties),  # type: ignore[arg-type]
        )


def replay_message_id(original_message_id: str | None, sequence_number: int) -> str:
    """The copy's message id: not the original (duplicate detection would drop it), but deterministic per
    dead letter, so sending the same dead letter twice is dropped as a duplicate."""
    base = original_message_id or "dead-letter"
    suffix = f":replay:{sequence_number}"
    if len(base) + len(suffix) > MAX_MESSAGE_ID:
        base = hashlib.sha256(base.encode("utf-8")).hexdigest()[:40]
    return base + suffix


def replay_copy(message: Any, *, now: datetime | None = None) -> ReplayCopy:
    """The copy of a dead-lettered message (data body) that goes back to its queue."""
    properties = {
        key: value
        for key, value in application_properties(message).items()
        if key not in DEAD_LETTER_PROPERTIES
    }
    sequence_number = int(message.sequence_number)
    original_id = properties.get(REPLAY_ORIGINAL_MESSAGE_ID)
    if not isinstance(original_id, str) or not original_id:
        original_id = None if message.message_id is None else str(message.message_id)
    properties[REPLAY_COUNT] = _count(properties.get(REPLAY_COUNT)) + 1
    properties[REPLAY_FROM_SEQUENCE_NUMBER] = sequence_number
    properties[REPLAYED_AT] = (now or datetime.now(UTC)).isoformat()
    if original_id is not None:
        properties[REPLAY_ORIGINAL_MESSAGE_ID] = original_id
    reason = message.dead_letter_reason
    if reason:
        properties[REPLAY_DEAD_LETTER_REASON] = str(reason)
    return ReplayCopy(
        body=message_body(message),
        message_id=replay_message_id(original_id, sequence_number),
        content_type=message.content_type,
        correlation_id=None if message.correlation_id is None else str(message.correlation_id),
        subject=message.subject,
        application_properties=properties,
    )


def application_properties(message: Any) -> dict[str, Any]:
    """A received message's application properties with str keys; the SDK hands AMQP strings back as
    bytes, which are decoded (values that are not UTF-8 stay bytes)."""
    result: dict[str, Any] = {}
    for key, value in (message.application_properties or {}).items():
        name = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        if isinstance(value, bytes):
            with contextlib.suppress(UnicodeDecodeError):
                value = value.decode("utf-8")
        result[name] = value
    return result


def _count(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def _has_data_body(message: Any) -> bool:
    body_type = getattr(message, "body_type", None)
    return body_type is None or str(getattr(body_type, "value", body_type)) == "data"


# --- replay ----------------------------------------------------------------------------------------------
class ReplayStatus(StrEnum):
    REPLAYED = "replayed"  # the copy is on the queue, the dead letter is gone
    WOULD_REPLAY = "would_replay"  # dry run
    FAILED = "failed"  # the send failed: the dead letter stays
    SENT_NOT_REMOVED = "sent_not_removed"  # the copy is on the queue but the dead letter could not be removed
    NOT_FOUND = "not_found"  # a chosen sequence number is not in the dead-letter queue (replayed already?)
    NOT_RECEIVED = "not_received"  # listed, but gone or locked by someone else when the replay came to it
    OVER_LIMIT = "over_limit"  # chosen, but beyond limits.max_replay: run again
    UNSUPPORTED = "unsupported"  # not a data body (nothing in this app sends one); left in place


# Outcomes after which the caller should look and run again; the rest are fine (or nothing to do).
PROBLEMS = frozenset(
    {ReplayStatus.FAILED, ReplayStatus.SENT_NOT_REMOVED, ReplayStatus.NOT_RECEIVED, ReplayStatus.UNSUPPORTED}
)


@dataclass(frozen=True)
class ReplayItem:
    """What happened to one chosen dead letter."""

    sequence_number: int
    status: ReplayStatus
    message_id: str | None = None
    replay_message_id: str | None = None
    reason: str | None = None
    notification_id: str | None = None
    amazon_order_id: str | None = None
    detail: str | None = None

    @classmethod
    def of(cls, letter: DeadLetter, status: ReplayStatus, **changes: Any) -> ReplayItem:
        values: dict[str, Any] = {
            "message_id": letter.message_id,
            "reason": letter.reason,
            "notification_id": letter.notification_id,
            "amazon_order_id": letter.amazon_order_id,
        }
        values.update(changes)
        return cls(letter.sequence_number, status, **values)

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence_number": self.sequence_number,
            "status": self.status.value,
            "message_id": self.message_id,
            "replay_message_id": self.replay_message_id,
            "reason": self.reason,
            "notification_id": self.notification_id,
            "amazon_order_id": self.amazon_order_id,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ReplayReport:
    """The outcome of one replay call, item by item in sequence-number order."""

    queue: str
    selection: str
    dry_run: bool
    items: tuple[ReplayItem, ...]
    released: int = 0  # dead letters received while looking, not chosen, released untouched
    error: str | None = None  # why the replay stopped early (connection lost, queue missing...)

    def with_status(self, status: ReplayStatus) -> tuple[ReplayItem, ...]:
        return tuple(item for item in self.items if item.status is status)

    @property
    def counts(self) -> dict[str, int]:
        counts = Counter(item.status.value for item in self.items)
        return {status.value: counts[status.value] for status in ReplayStatus if counts[status.value]}

    @property
    def ok(self) -> bool:
        return self.error is None and not any(item.status in PROBLEMS for item in self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "selection": self.selection,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "counts": self.counts,
            "released": self.released,
            "error": self.error,
            "items": [item.to_json() for item in self.items],
        }


def replay_dead_letters(
    client: QueueClient,
    queue: str,
    selection: Selection,
    *,
    dry_run: bool = False,
    limits: Limits | None = None,
) -> ReplayReport:
    """Send the chosen dead letters of `queue` back to it; remove each one only after its copy was sent.

    The choice is made on a peek of the dead-letter queue; a dry run stops there. Errors before anything
    was replayed (queue missing, no connection) raise; errors during the pass end up in the report.
    """
    limits = limits or Limits()
    renewer = None if dry_run else _lock_renewer(limits)
    try:
        options = _dead_letter_receiver_options(auto_lock_renewer=renewer)
        with client.get_queue_receiver(queue, **options) as receiver:
            listing = _peek_all(receiver, queue, limits)
            chosen = [letter for letter in listing.messages if selection.matches(letter)]
            planned, over = chosen[: limits.max_replay], chosen[limits.max_replay :]
            items = [ReplayItem.of(letter, ReplayStatus.OVER_LIMIT) for letter in over]
            items += _not_found(selection, listing)
            released, error = 0, None
            if dry_run:
                items += [ReplayItem.of(letter, ReplayStatus.WOULD_REPLAY) for letter in planned]
            elif planned:
                replay = _Replay(receiver, {letter.sequence_number: letter for letter in planned}, limits)
                replay.run(lambda: client.get_queue_sender(queue))
                items += replay.items()
                released, error = replay.released, replay.error
    finally:
        if renewer is not None:
            renewer.close()
    return ReplayReport(
        queue=queue,
        selection=selection.describe(),
        dry_run=dry_run,
        items=tuple(sorted(items, key=lambda item: item.sequence_number)),
        released=released,
        error=error,
    )


def _not_found(selection: Selection, listing: DeadLetterList) -> list[ReplayItem]:
    if selection.sequence_numbers is None:
        return []
    listed = {letter.sequence_number for letter in listing.messages}
    detail = "not in the dead-letter queue" + (
        f" (only the first {len(listing.messages)} were looked at)" if listing.truncated else ""
    )
    return [
        ReplayItem(number, ReplayStatus.NOT_FOUND, detail=detail)
        for number in selection.sequence_numbers - listed
    ]


class _Replay:
    """One peek-lock pass over the dead-letter queue that replays the planned messages."""

    def __init__(self, receiver: Any, planned: dict[int, DeadLetter], limits: Limits) -> None:
        self.receiver = receiver
        self.planned = planned
        self.limits = limits
        self.results: dict[int, ReplayItem] = {}
        self.held: list[Any] = []  # locked messages to release at the end
        self.released = 0
        self.error: str | None = None

    def run(self, open_sender: Callable[[], Any]) -> None:
        try:
            with open_sender() as sender:
                try:
                    self._receive(self.receiver, sender)
                finally:
                    self._release(self.receiver)
        except Exception as exc:  # noqa: BLE001 - reported, with what was done before it
            self.error = _brief(exc)

    def _receive(self, receiver: Any, sender: Any) -> None:
        looked_at = 0
        while len(self.results) < len(self.planned) and looked_at < self.limits.max_list:
            # Ask for no more than is still to be replayed: what else comes along is locked for nothing.
            outstanding = len(self.planned) - len(self.results)
            wanted = min(self.limits.batch_size, outstanding, self.limits.max_list - looked_at)
            batch = receiver.receive_messages(
                max_message_count=wanted, max_wait_time=self.limits.max_wait_seconds
            )
            if not batch:
                return
            looked_at += len(batch)
            for message in batch:
                number = int(message.sequence_number)
                letter = self.planned.get(number)
                if letter is None or number in self.results:
                    self.held.append(message)  # not ours to replay: hold it so the next receive moves on
                    continue
                item = self._replay_one(receiver, sender, message, letter)
                self.results[number] = item
                if item.status is not ReplayStatus.REPLAYED:
                    self.held.append(message)

    def _replay_one(self, receiver: Any, sender: Any, message: Any, letter: DeadLetter) -> ReplayItem:
        if not _has_data_body(message):
            return ReplayItem.of(letter, ReplayStatus.UNSUPPORTED, detail="the body is not an AMQP data body")
        copy = replay_copy(message)
        try:
            sender.send_messages(copy.to_message())
        except Exception as exc:  # noqa: BLE001 - the dead letter stays; the report says why
            return ReplayItem.of(
                letter, ReplayStatus.FAILED, replay_message_id=copy.message_id, detail=_brief(exc)
            )
        try:
            receiver.complete_message(message)
        except Exception as exc:  # noqa: BLE001 - sent but still dead-lettered; a rerun is deduplicated
            return ReplayItem.of(
                letter,
                ReplayStatus.SENT_NOT_REMOVED,
                replay_message_id=copy.message_id,
                detail=f"{_brief(exc)}; a new replay sends the same message id, which duplicate detection "
                "drops within its window (and order sync's NotificationId dedupe after it)",
            )
        return ReplayItem.of(letter, ReplayStatus.REPLAYED, replay_message_id=copy.message_id)

    def _release(self, receiver: Any) -> None:
        for message in self.held:
            try:
                receiver.abandon_message(message)
            except Exception:  # noqa: BLE001, S112 - its lock lapses on its own; nothing is lost
                continue
            if int(message.sequence_number) not in self.planned:
                self.released += 1
        self.held.clear()

    def items(self) -> list[ReplayItem]:
        missing = [
            ReplayItem.of(
                letter,
                ReplayStatus.NOT_RECEIVED,
                detail="listed, but not received: removed meanwhile, locked by another receiver, or the run stopped",
            )
            for number, letter in self.planned.items()
            if number not in self.results
        ]
        return [*self.results.values(), *missing]


def _dead_letter_receiver_options(*, auto_lock_renewer: AutoLockRenewer | None = None) -> dict[str, Any]:
    from azure.servicebus import ServiceBusReceiveMode, ServiceBusSubQueue

    options: dict[str, Any] = {
        "sub_queue": ServiceBusSubQueue.DEAD_LETTER,
        "receive_mode": ServiceBusReceiveMode.PEEK_LOCK,  # peeking locks nothing in any mode
        "prefetch_count": 0,  # lock only what we ask for
    }
    if auto_lock_renewer is not None:  # renews the locks of the messages a replay holds
        options["auto_lock_renewer"] = auto_lock_renewer
    return options


def _lock_renewer(limits: Limits) -> AutoLockRenewer | None:
    if not limits.lock_renewal_seconds:
        return None
    from azure.servicebus import AutoLockRenewer

    # One worker: with several, the SDK (7.15, pyamqp) renews locks of one receiver from parallel threads
    # and can give two management requests the same delivery id, which the broker answers by closing the
    # connection ("sequencing error"). Renewals are a few small requests; one thread keeps up.
    return AutoLockRenewer(max_lock_renewal_duration=limits.lock_renewal_seconds, max_workers=1)


def _brief(exc: BaseException) -> str:
    """An error for a report: its type and the first line of its message (SDK errors carry no body)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


# --- bound to the app's settings -------------------------------------------------------------------------
def app_queues(settings: Settings) -> tuple[str, ...]:
    """The Service Bus queues this app reads (the ones whose dead letters are ours)."""
    return (settings.amazon_notifications_queue,)


class DeadLetters:
    """list / replay on one Service Bus client, defaulting to the app's notifications queue.

    `DeadLetters.from_settings(load_settings())` connects the way the app does (ServiceBusConnection, or the
    managed identity on ServiceBusConnection__fullyQualifiedNamespace; replaying needs *Data Owner*).
    """

    def __init__(
        self,
        client: QueueClient,
        *,
        queues: Sequence[str],
        limits: Limits | None = None,
        owns_client: bool = False,
    ) -> None:
        if not queues:
            raise ValueError("at least one queue")
        self.client = client
        self.queues = tuple(queues)
        self.limits = limits or Limits()
        self._owns_client = owns_client

    @classmethod
    def from_settings(cls, settings: Settings, *, limits: Limits | None = None) -> DeadLetters:
        from shared.servicebus.client import service_bus_client

        return cls(service_bus_client(settings), queues=app_queues(settings), limits=limits, owns_client=True)

    @property
    def default_queue(self) -> str:
        return self.queues[0]

    def list(self, queue: str | None = None) -> DeadLetterList:
        """The dead letters of `queue` (default: the notifications queue)."""
        return list_dead_letters(self.client, queue or self.default_queue, limits=self.limits)

    def replay(
        self,
        queue: str | None = None,
        *,
        sequence_numbers: Iterable[int] | None = None,
        reason: str | None = None,
        all: bool = False,
        dry_run: bool = False,
    ) -> ReplayReport:
        """Replay dead letters of `queue` chosen by sequence numbers, by reason, or all (exactly one)."""
        selection = Selection.of(sequence_numbers=sequence_numbers, reason=reason, all=all)
        return replay_dead_letters(
            self.client, queue or self.default_queue, selection, dry_run=dry_run, limits=self.limits
        )

    def close(self) -> None:
        if self._owns_client:
            close = getattr(self.client, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


if __name__ == "__main__":  # python -m shared.servicebus.deadletters ...
    from shared.deadletters_cli import main

    raise SystemExit(main())
