"""Glue between the Service Bus SDK-type binding and a flow: decode, run, settle every message explicitly.

With `auto_complete_messages=False` nothing is settled for us, so each message ends exactly one way:
- completed;
- dead-lettered with a reason and description (permanent failure; it waits for a human and the replay tool);
- rescheduled (passing trouble: an outage, an empty quota, a lost race): a copy of the message is sent to
  the same queue with a scheduled enqueue time and a fresh message id, then the original is completed. A
  redelivery would spend one of the queue's ten deliveries per attempt, so a long outage would dead-letter
  valid orders; the copy starts at zero instead. The wait grows per attempt (`RetrySchedule`) and honours
  what the dependency asked for; after `max_age` the message is dead-lettered as RetriesExhausted. This is
  safe because every flow here dedupes by NotificationId: a copy that lands twice is applied once;
- abandoned (the flow failed on this very message, or the copy could not be sent): Service Bus delivers it
  again and counts the delivery, so a message that keeps crashing the flow is eventually dead-lettered.

If the flow crashes on a batch, each message is run again on its own, so one poison message cannot take
its batch with it: the others settle by their own outcome, and only the message that crashes alone is
abandoned. The crash is re-raised after settling, so the invocation shows as failed in Application Insights
(a bug was met, even when every message found its way).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared import telemetry
from shared.messaging import MAX_DESCRIPTION, MAX_REASON, InboundMessage, Outcome, Settlement
from shared.sanitize import public_text
from shared.servicebus.sender import MAX_MESSAGE_ID_LENGTH, NotificationSender, OutgoingMessage
from shared.timeutil import as_utc, utc_now

log = logging.getLogger(__name__)

# Application properties a rescheduled copy carries.
RETRY_COUNT = "retry.count"  # 1 for the first copy
RETRY_FIRST_ENQUEUED = "retry.first_enqueued_time"  # ISO 8601: when the first delivery was enqueued
RETRY_ORIGINAL_MESSAGE_ID = "retry.original_message_id"
RETRY_REASON = "retry.reason"
RETRIES_EXHAUSTED = "RetriesExhausted"
SEND_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class RetrySchedule:
    """How long a message waits before its next attempt, and when trying stops.

    The wait doubles per attempt from `base_seconds` up to `max_delay_seconds`, with jitter so a batch that
    failed together does not come back together, and never shorter than what the dependency asked for
    (Retry-After, Amazon's rate header, an open circuit breaker).
    """

    base_seconds: float = 10.0
    max_delay_seconds: float = 900.0
    max_age: timedelta = timedelta(hours=24)

    def delay(
        self, attempt: int, *, at_least: float | None = None, rng: random.Random | None = None
    ) -> float:
        ceiling = min(self.max_delay_seconds, self.base_seconds * (2 ** max(attempt - 1, 0)))
        jittered = (rng or random).uniform(ceiling / 2, ceiling)
        return min(self.max_delay_seconds, max(jittered, at_least or 0.0))


@dataclass(frozen=True)
class Rescheduling:
    """Where delayed copies go (a sender to the queue the messages came from) and how long they wait."""

    sender: NotificationSender
    schedule: RetrySchedule = RetrySchedule()


class MessageActions(Protocol):
    """The settlement calls of azurefunctions' ServiceBusMessageActions (and of the sandbox host)."""

    def complete(self, message: Any) -> None: ...

    def abandon(self, message: Any) -> None: ...

    def deadletter(
        self,
        message: Any,
        deadletter_reason: str | None = None,
        deadletter_error_description: str | None = None,
    ) -> None: ...


class FlowReport(Protocol):
    settlements: list[Settlement]


Flow = Callable[[list[InboundMessage]], FlowReport]


# --- reading a received message -------------------------------------------------------------------------
def message_body(message: Any) -> bytes:
    """The raw body of a received message, whichever AMQP body type the sender used."""
    body = message.body
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    try:
        return b"".join(bytes(section) for section in body)
    except TypeError:
        return str(body).encode("utf-8")


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


def to_inbound(message: Any) -> InboundMessage:
    message_id = message.message_id or f"seq-{message.sequence_number}"
    # AMQP delivery-count counts earlier failed attempts (0 on the first); ours is this attempt's number.
    return InboundMessage(str(message_id), message_body(message), int(message.delivery_count or 0) + 1)


# --- running and settling -------------------------------------------------------------------------------
def run_and_settle(
    messages: Sequence[Any],
    actions: MessageActions,
    flow: Flow,
    *,
    rescheduling: Rescheduling | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> list[FlowReport]:
    """Run `flow` over the batch and settle every message according to its Settlement. Without
    `rescheduling`, messages the flow wants to try later are abandoned instead."""
    inbound = [to_inbound(message) for message in messages]
    try:
        reports = [flow(inbound)]
        crash: Exception | None = None
    except Exception as exc:
        log.exception("Flow crashed on a batch of %d; running each message on its own", len(messages))
        reports, crash = _one_by_one(inbound, flow), exc
    decided = {id(s.message): s for report in reports for s in report.settlements}
    settler = _Settler(actions, rescheduling, clock)
    for item, original in zip(inbound, messages, strict=True):
        settlement = decided.get(id(item))
        if settlement is None:  # the flow crashed on it, or forgot it: deliver it again
            log.error("Message %s had no settlement; abandoning it", item.message_id)
            settlement = Settlement.abandon(item, "NoSettlement", "the flow did not decide this message")
        settler.add(original, settlement)
    settler.finish()
    if crash is not None:
        raise crash
    return reports


def _one_by_one(inbound: list[InboundMessage], flow: Flow) -> list[FlowReport]:
    reports: list[FlowReport] = []
    for item in inbound:
        try:
            reports.append(flow([item]))
        except Exception:
            log.exception("Flow crashed on message %s alone; it is abandoned", item.message_id)
    return reports


class _Settler:
    def __init__(
        self, actions: MessageActions, rescheduling: Rescheduling | None, clock: Callable[[], datetime]
    ) -> None:
        self._actions = actions
        self._rescheduler = rescheduling.sender if rescheduling else None
        self._schedule = rescheduling.schedule if rescheduling else RetrySchedule()
        self._clock = clock
        self._copies: list[tuple[Any, OutgoingMessage]] = []

    def add(self, message: Any, settlement: Settlement) -> None:
        outcome = settlement.outcome
        if outcome is Outcome.COMPLETE:
            _safely(self._actions.complete, message)
            return
        if (
            outcome is not Outcome.DEAD_LETTER
        ):  # dead letters count where they are sent (RetriesExhausted too)
            _count_failure(settlement.reason, outcome)
        if outcome is Outcome.ABANDON:
            _safely(self._actions.abandon, message)
        elif outcome is Outcome.DEAD_LETTER:
            self._dead_letter(message, settlement.reason, settlement.description)
        elif self._rescheduler is None:
            _safely(self._actions.abandon, message)
        else:
            copy = self._copy(message, settlement)
            if copy is not None:
                self._copies.append((message, copy))

    def finish(self) -> None:
        """Send every delayed copy in one go; complete the originals Service Bus accepted a copy of."""
        if not self._copies or self._rescheduler is None:
            return
        result = self._rescheduler.send([copy for _, copy in self._copies], timeout=SEND_TIMEOUT_SECONDS)
        accepted = set(result.accepted)
        for position, (message, copy) in enumerate(self._copies):
            if position in accepted:
                log.info("Message %s rescheduled as %s", getattr(message, "message_id", "?"), copy.message_id)
                _safely(self._actions.complete, message)
            else:
                log.warning("Message %s: the delayed copy was not sent; abandoning", copy.message_id)
                _safely(self._actions.abandon, message)

    def _copy(self, message: Any, settlement: Settlement) -> OutgoingMessage | None:
        properties = application_properties(message)
        now = self._clock()
        first = _first_enqueued(properties, message) or now
        if now - first > self._schedule.max_age:
            self._dead_letter(
                message,
                RETRIES_EXHAUSTED,
                f"still failing after {self._schedule.max_age}: {settlement.reason}: {settlement.description}",
            )
            return None
        attempt = count_property(properties.get(RETRY_COUNT)) + 1
        original_id = str(properties.get(RETRY_ORIGINAL_MESSAGE_ID) or settlement.message.message_id)
        delay = self._schedule.delay(attempt, at_least=settlement.delay)
        properties.update(
            {
                RETRY_COUNT: attempt,
                RETRY_FIRST_ENQUEUED: first.isoformat(),
                RETRY_ORIGINAL_MESSAGE_ID: original_id,
                RETRY_REASON: settlement.reason or "",
            }
        )
        return OutgoingMessage(
            body=message_body(message),
            message_id=retry_message_id(original_id, attempt),
            application_properties={k: v for k, v in properties.items() if _sendable(v)},
            content_type=getattr(message, "content_type", None) or "application/json",
            subject=getattr(message, "subject", None),
            scheduled_enqueue_time=now + timedelta(seconds=delay),
        )

    def _dead_letter(self, message: Any, reason: str | None, description: str | None) -> None:
        """The one way to the dead-letter queue: reason and description made safe and short there."""
        _count_failure(reason, Outcome.DEAD_LETTER)
        _safely(
            self._actions.deadletter,
            message,
            deadletter_reason=None if reason is None else public_text(reason, MAX_REASON),
            deadletter_error_description=None
            if description is None
            else public_text(description, MAX_DESCRIPTION),
        )


def _count_failure(reason: str | None, outcome: Outcome) -> None:
    telemetry.add(telemetry.FAILURES, reason=reason or "(none)", outcome=outcome.value)


def retry_message_id(original_message_id: str, attempt: int) -> str:
    """The copy's message id: new per attempt (duplicate detection would drop a reused one), the same for
    the same attempt (a copy sent twice by a crashed invocation is dropped as a duplicate)."""
    suffix = f":retry:{attempt}"
    base = original_message_id
    if len(base) + len(suffix) > MAX_MESSAGE_ID_LENGTH:
        base = hashlib.sha256(base.encode("utf-8", "backslashreplace")).hexdigest()[:40]
    return base + suffix


def _first_enqueued(properties: dict[str, Any], message: Any) -> datetime | None:
    text = properties.get(RETRY_FIRST_ENQUEUED)
    if isinstance(text, str):
        with contextlib.suppress(ValueError):
            return as_utc(datetime.fromisoformat(text))
    enqueued = getattr(message, "enqueued_time_utc", None)
    return as_utc(enqueued) if isinstance(enqueued, datetime) else None


def count_property(value: object) -> int:
    """A counter kept in an application property (replay.count, retry.count); 0 when absent or odd."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def _sendable(value: object) -> bool:
    return isinstance(value, str | int | float | bool | bytes)


def _safely(call: Callable[..., None], message: Any, **kwargs: Any) -> None:
    """A failed settlement (lock lost) is logged, not raised: Service Bus will redeliver the message,
    and the flow's dedupe makes the second delivery harmless."""
    try:
        call(message, **kwargs)
    except Exception as exc:  # noqa: BLE001
        log.warning("Settling message %s failed: %s", getattr(message, "message_id", "?"), type(exc).__name__)
