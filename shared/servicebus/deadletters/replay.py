"""Replaying dead letters: send a copy back to the queue, then remove the dead letter.

Replaying first takes the listing's peek snapshot and picks the messages to replay from it (by sequence
number, by dead-letter reason, or all), so a dry run shows exactly what a real run would do without locking
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
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.messaging import MAX_REASON
from shared.sanitize import public_text, safe_text
from shared.servicebus.deadletters.listing import (
    REPLAY_COUNT,
    DeadLetter,
    DeadLetterList,
    Limits,
    QueueClient,
    dead_letter_receiver_options,
    has_data_body,
    peek_all,
)
from shared.servicebus.settlement import application_properties, count_property, message_body

if TYPE_CHECKING:
    from azure.servicebus import AutoLockRenewer, ServiceBusMessage

# Application properties the replay writes on each copy.
REPLAY_FROM_SEQUENCE_NUMBER = "replay.from_sequence_number"  # the dead letter's sequence number
REPLAY_ORIGINAL_MESSAGE_ID = "replay.original_message_id"  # the first message id, kept across replays
REPLAY_DEAD_LETTER_REASON = "replay.dead_letter_reason"  # why the replayed message had been dead-lettered
REPLAYED_AT = "replay.replayed_at"  # ISO 8601 UTC

# Service Bus writes these application properties on a dead-lettered message; a copy must not carry them.
DEAD_LETTER_PROPERTIES = frozenset({"DeadLetterReason", "DeadLetterErrorDescription"})

MAX_MESSAGE_ID = 128  # Service Bus limit


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
    properties[REPLAY_COUNT] = count_property(properties.get(REPLAY_COUNT)) + 1
    properties[REPLAY_FROM_SEQUENCE_NUMBER] = sequence_number
    properties[REPLAYED_AT] = (now or datetime.now(UTC)).isoformat()
    if original_id is not None:
        properties[REPLAY_ORIGINAL_MESSAGE_ID] = original_id
    reason = message.dead_letter_reason
    if reason:
        properties[REPLAY_DEAD_LETTER_REASON] = safe_text(reason, MAX_REASON)
    return ReplayCopy(
        body=message_body(message),
        message_id=replay_message_id(original_id, sequence_number),
        content_type=message.content_type,
        correlation_id=None if message.correlation_id is None else str(message.correlation_id),
        subject=message.subject,
        application_properties=properties,
    )


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
        options = dead_letter_receiver_options(auto_lock_renewer=renewer)
        with client.get_queue_receiver(queue, **options) as receiver:
            listing = peek_all(receiver, queue, limits)
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
        if not has_data_body(message):
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
    return f"{type(exc).__name__}: {public_text(text, 200)}" if text else type(exc).__name__
