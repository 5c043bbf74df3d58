"""The SQS -> Service Bus bridge: one timer run long-polls SQS and forwards what arrives, losing nothing.

A run, within `BridgeOptions.max_seconds` (BRIDGE_MAX_SECONDS):

1. ReceiveMessage: up to 10 messages, long poll of at most 20 s (shorter near the end of the budget), with an
   explicit VisibilityTimeout (40 s) that covers the poll, one send and the delete with time to spare.
2. Each message becomes a Service Bus message: body = the SQS body bytes unchanged, message_id = the
   notification's NotificationId (PascalCase or camelCase envelope), else the SQS MessageId; content type
   application/json; subject = NotificationType when readable; SQS's attributes as string application
   properties (`sqs.MessageId`, `sqs.SentTimestamp`, ..., message attributes as `sqs.attr.<name>`). A body that is not a notification is forwarded all the same:
   the order-sync trigger dead-letters it with a reason, so nothing disappears here.
3. One batched send, bounded by a timeout that ends before the messages' visibility timeout does (less the
   time kept for the delete) and before the run's budget does.
4. DeleteMessageBatch for exactly the messages Service Bus accepted; never for the others.

Failures never lose a message:

- Service Bus refuses or times out: nothing of that batch is deleted; the messages are released
  (ChangeMessageVisibility 0) so the next receive gets them at once rather than after the visibility timeout,
  and the run stops, because the SDK has already retried within the timeout. The next run forwards them; if a
  timed-out send landed after all, Service Bus duplicate detection drops the repeat.
- A crash after the send and before the delete: SQS delivers the messages again after their visibility
  timeout; the repeat carries the same message_id and duplicate detection drops it (10-minute window), and
  order sync's NotificationId dedupe covers anything older.
- A delete that fails (whole call or single entries): reported; the messages come back and are dropped as
  duplicates the same way.
- A send that overran the visibility timeout (the SDK or the host stalled): the receipts may have expired and
  another consumer may have the messages already. We still delete them, because Service Bus holds them and
  deleting a message that is safely forwarded cannot lose it; SQS either refuses the stale receipt (reported
  as a failed delete; the message comes back and is dropped as a duplicate) or deletes the message (for a
  standard queue a stale receipt may still work). Not deleting would be worse: a message whose forwarding
  is always slow would cycle until SQS's redrive policy or retention took it. Such deletes are counted as
  `late_deletes`.

Logs carry ids and counts only, never bodies (other notification types carry personal data).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.amazon.notifications import read_envelope_facts
from shared.bridge.sqs import MAX_MESSAGES, MAX_WAIT_SECONDS, BatchOutcome, SqsMessage, SqsQueue
from shared.errors import SyncError, TransientError
from shared.servicebus.sender import (
    NotificationSender,
    OutgoingMessage,
    PropertyValue,
    SendResult,
)

if TYPE_CHECKING:
    from shared.config import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], float]

PROPERTY_PREFIX = "sqs."
MESSAGE_ATTRIBUTE_PREFIX = "sqs.attr."


class BridgeFailed(TransientError):
    """A bridge run could not forward or delete everything it received; nothing was lost, the next run
    picks the messages up again."""

    reason = "BridgeFailed"


# --- options and report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BridgeOptions:
    """Timing of one run.

    The visibility timeout is counted, conservatively, from the moment we *ask* for messages, so a long poll
    eats into it. The long poll is therefore capped at visibility_timeout - send_timeout - delete_reserve:
    whatever a receive returns, its send gets its full timeout and still ends delete_reserve seconds before
    SQS could hand the messages to anyone else. With the defaults: 40 s = 20 s poll + 10 s send + 5 s for the
    delete + 5 s to spare.
    """

    max_seconds: float = 50.0  # the run's budget (BRIDGE_MAX_SECONDS)
    visibility_timeout: int = 40  # seconds SQS hides a received message from other consumers
    send_timeout: float = 10.0  # the most one batched send may take, SDK retries included
    delete_reserve: float = 5.0  # time kept between the end of a send and the end of the visibility timeout
    forward_reserve: float = 2.0  # budget kept free after the last long poll to forward what it returned
    min_send_timeout: float = 0.5  # below this, do not start a send: release the messages instead

    def __post_init__(self) -> None:
        if (
            self.max_seconds <= 0
            or self.send_timeout <= 0
            or self.delete_reserve < 0
            or self.forward_reserve < 0
        ):
            raise ValueError("bridge timings must be positive")
        if not 1 <= self.visibility_timeout <= 43_200:
            raise ValueError("an SQS visibility timeout is 1 second to 12 hours")
        if self.longest_poll < 1:
            raise ValueError(
                "visibility_timeout must exceed send_timeout + delete_reserve by a second at least"
            )
        if self.min_send_timeout > self.send_timeout:
            raise ValueError("min_send_timeout cannot exceed send_timeout")

    @property
    def longest_poll(self) -> int:
        """The longest WaitTimeSeconds that still leaves a full send and the delete inside the visibility timeout."""
        spare = self.visibility_timeout - self.send_timeout - self.delete_reserve
        return min(MAX_WAIT_SECONDS, math.floor(spare)) if spare >= 0 else 0

    @classmethod
    def from_settings(cls, settings: Settings) -> BridgeOptions:
        budget = settings.bridge_max_seconds
        # A tiny budget still long-polls: keep at most a third of it for forwarding.
        return cls(max_seconds=budget, forward_reserve=min(cls.forward_reserve, budget / 3))


@dataclass
class BridgeReport:
    """What one run did; received = forwarded + duplicates_skipped + failed_sends + deferred.

    - received: SQS messages received; receives: ReceiveMessage calls.
    - forwarded: Service Bus messages accepted (one per distinct message_id within a receive batch).
    - duplicates_skipped: SQS messages not sent because another one of the same receive batch carried their
      message_id (deleted with it once Service Bus accepted it).
    - deleted: SQS messages deleted, only ever after Service Bus accepted them.
    - failed_sends: SQS messages not in Service Bus: refused, timed out, not attempted after a failure, too
      large. They stay in SQS.
    - failed_deletes: forwarded but not deleted; SQS delivers them again and duplicate detection drops them.
    - deferred: received too close to the end of the budget to send; released for the next run.
    - late_deletes: deletes attempted when the receipts' visibility timeout may have expired.
    - released: unsent messages made visible again at once (ChangeMessageVisibility 0).
    - errors: what went wrong (error kinds and SQS codes, never bodies); empty means the run was clean.
    - latencies: seconds from SQS SentTimestamp to Service Bus accepting the message, per forwarded message.
    """

    received: int = 0
    forwarded: int = 0
    duplicates_skipped: int = 0
    deleted: int = 0
    failed_sends: int = 0
    failed_deletes: int = 0
    deferred: int = 0
    late_deletes: int = 0
    released: int = 0
    receives: int = 0
    elapsed: float = 0.0
    skipped: str | None = None  # why the run did nothing at all (disabled, no queue)
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_failures(self) -> None:
        """Raise BridgeFailed when the run could not forward or delete something (the timer's failure signal)."""
        if not self.ok:
            raise BridgeFailed(
                f"bridge run incomplete: {self.failed_sends} not forwarded, {self.failed_deletes} not deleted "
                f"({'; '.join(self.errors)})"
            )

    def summary(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "forwarded": self.forwarded,
            "duplicates_skipped": self.duplicates_skipped,
            "deleted": self.deleted,
            "failed_sends": self.failed_sends,
            "failed_deletes": self.failed_deletes,
            "deferred": self.deferred,
            "late_deletes": self.late_deletes,
            "released": self.released,
            "receives": self.receives,
            "elapsed": round(self.elapsed, 3),
        }


# --- mapping an SQS message to a Service Bus message ---------------------------------------------------------


def application_properties(message: SqsMessage) -> dict[str, PropertyValue]:
    """SQS's identity and attributes of the message, for operators and for latency measurements.

    Values are the strings SQS returns (timestamps in epoch milliseconds): an epoch-millisecond integer does
    not fit the 32-bit AMQP int the SDK encodes Python ints as, and text survives every transport unchanged.
    """
    properties: dict[str, PropertyValue] = {f"{PROPERTY_PREFIX}MessageId": message.message_id}
    for name, value in message.attributes.items():
        properties[f"{PROPERTY_PREFIX}{name}"] = value
    for name, attribute in message.message_attributes.items():
        properties[f"{MESSAGE_ATTRIBUTE_PREFIX}{name}"] = attribute
    return properties


def to_service_bus(message: SqsMessage) -> OutgoingMessage:
    ids = read_envelope_facts(message.body)  # identifier-like and at most 100 characters, or None
    return OutgoingMessage(
        body=message.body.encode("utf-8"),
        message_id=ids.notification_id or message.message_id,
        application_properties=application_properties(message),
        subject=ids.notification_type,
    )


# --- the run -------------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """A receive batch ready to send: distinct Service Bus messages and the SQS messages each one covers."""

    outgoing: list[OutgoingMessage]
    covers: list[list[SqsMessage]]

    @classmethod
    def of(cls, messages: Sequence[SqsMessage]) -> _Plan:
        outgoing: list[OutgoingMessage] = []
        covers: list[list[SqsMessage]] = []
        position_of: dict[str, int] = {}
        for message in messages:
            candidate = to_service_bus(message)
            position = position_of.get(candidate.message_id)
            if position is None:
                position_of[candidate.message_id] = len(outgoing)
                outgoing.append(candidate)
                covers.append([message])
            else:
                covers[position].append(message)
        return cls(outgoing, covers)


class Bridge:
    """Runs over two connectors, one per timer invocation; clocks are injected so tests control time."""

    def __init__(
        self,
        sqs: SqsQueue,
        sender: NotificationSender,
        options: BridgeOptions | None = None,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self._sqs = sqs
        self._sender = sender
        self._options = options or BridgeOptions()
        self._clock = clock
        self._wall_clock = wall_clock

    def close(self) -> None:
        """Close both connectors; a failure to close one is logged and does not stop the other."""
        for connector in (self._sender, self._sqs):
            try:
                connector.close()
            except Exception:  # closing must not hide anything else
                log.warning("bridge: closing %s failed", type(connector).__name__, exc_info=True)

    def run(self) -> BridgeReport:
        report = BridgeReport()
        started = self._clock()
        deadline = started + self._options.max_seconds
        busy = False
        try:
            while (wait := self._next_wait(deadline, busy=busy)) is not None:
                received_from = self._clock()
                try:
                    messages = self._sqs.receive(
                        max_messages=MAX_MESSAGES,
                        wait_seconds=wait,
                        visibility_timeout=self._options.visibility_timeout,
                    )
                except SyncError as exc:
                    _fail(report, f"receive: {exc}")
                    break
                report.receives += 1
                report.received += len(messages)
                busy = bool(messages)
                # The visibility timeout starts when SQS hands the messages out, which is after we asked.
                visible_until = received_from + self._options.visibility_timeout
                if messages and not self._forward(messages, visible_until, deadline, report):
                    break
        finally:
            report.elapsed = self._clock() - started
            log.info("bridge run: %s errors=%s", report.summary(), report.errors)
        return report

    def _next_wait(self, deadline: float, *, busy: bool) -> int | None:
        """WaitTimeSeconds for the next receive, or None when the run must end.

        A long poll needs at least a second of budget (WaitTimeSeconds is whole seconds). With less left, a
        queue that just returned messages still gets short polls (wait 0) until the budget is used; an idle
        one does not, so an empty queue is never spun on.
        """
        usable = deadline - self._clock() - self._options.forward_reserve
        if usable >= 1:
            return min(self._options.longest_poll, math.floor(usable))
        return 0 if busy and usable > 0 else None

    def _send_timeout(self, visible_until: float, deadline: float) -> float:
        now = self._clock()
        return min(
            self._options.send_timeout, visible_until - self._options.delete_reserve - now, deadline - now
        )

    def _forward(
        self, messages: Sequence[SqsMessage], visible_until: float, deadline: float, report: BridgeReport
    ) -> bool:
        """Send one receive batch, delete what Service Bus accepted, release the rest; False stops the run."""
        plan = _Plan.of(messages)
        timeout = self._send_timeout(visible_until, deadline)
        if timeout < self._options.min_send_timeout:
            report.deferred += len(messages)
            self._release(messages, report)
            log.info("bridge: no time left to forward %d messages; released", len(messages))
            return False
        result = self._sender.send(plan.outgoing, timeout=timeout)
        accepted_at = self._wall_clock()
        sent = self._account_sent(plan, result, accepted_at, report)
        self._delete(sent, visible_until, report)
        self._settle_unsent(plan, result, report)
        return result.error is None

    def _account_sent(
        self, plan: _Plan, result: SendResult, accepted_at: float, report: BridgeReport
    ) -> list[SqsMessage]:
        sent: list[SqsMessage] = []
        for position in result.accepted:
            first, *repeats = plan.covers[position]
            sent.extend(plan.covers[position])
            report.forwarded += 1
            report.duplicates_skipped += len(repeats)
            if first.sent_at is not None:
                report.latencies.append(max(0.0, accepted_at - first.sent_at))
        return sent

    def _delete(self, sent: list[SqsMessage], visible_until: float, report: BridgeReport) -> None:
        if not sent:
            return
        if self._clock() >= visible_until:
            # Safe to delete (Service Bus holds them); see the module docstring for why we still try.
            report.late_deletes += len(sent)
            log.warning(
                "bridge: %d messages forwarded after their visibility timeout; deleting with possibly stale receipts",
                len(sent),
            )
        outcome = self._sqs.delete(sent)
        report.deleted += len(outcome.succeeded)
        report.failed_deletes += len(outcome.failed)
        if outcome.failed:
            codes = sorted({failure.code for failure in outcome.failed})
            _fail(report, f"delete: {len(outcome.failed)} not deleted ({', '.join(codes)})")
            for failure in outcome.failed:
                log.warning(
                    "bridge: SQS message %s forwarded but not deleted: %s", failure.message_id, failure.code
                )

    def _settle_unsent(self, plan: _Plan, result: SendResult, report: BridgeReport) -> None:
        accepted = set(result.accepted)
        too_large = set(result.too_large)
        unsent = [
            message
            for position, covered in enumerate(plan.covers)
            if position not in accepted and position not in too_large
            for message in covered
        ]
        oversized = [message for position in result.too_large for message in plan.covers[position]]
        report.failed_sends += len(unsent) + len(oversized)
        if oversized:
            # Left in flight, not released: they would come straight back. SQS's redrive policy parks them.
            _fail(report, f"send: {len(oversized)} too large for a Service Bus message")
            for message in oversized:
                log.error(
                    "bridge: SQS message %s is too large for Service Bus; left in SQS", message.message_id
                )
        if result.error is not None:
            _fail(report, f"send: {result.error}")
            log.warning(
                "bridge: Service Bus send failed (%s, outcome unknown: %s); %d messages stay in SQS",
                type(result.error).__name__,
                result.error.outcome_unknown,
                len(unsent),
            )
        if unsent:
            self._release(unsent, report)

    def _release(self, messages: Sequence[SqsMessage], report: BridgeReport) -> None:
        """Make unsent messages visible again now; if that fails they reappear after their visibility timeout."""
        outcome: BatchOutcome = self._sqs.release(messages)
        report.released += len(outcome.succeeded)
        if outcome.failed:
            log.info(
                "bridge: %d unsent messages not released; they reappear after the visibility timeout",
                len(outcome.failed),
            )


def _fail(report: BridgeReport, what: str) -> None:
    report.errors.append(what)


# --- entry point for the timer -----------------------------------------------------------------------------
BRIDGE_DISABLED = "BRIDGE_ENABLED is false"


def idle_reason(settings: Settings) -> str | None:
    """Why the bridge has nothing to do in this deployment, or None when it should run."""
    if not settings.bridge_enabled:
        return BRIDGE_DISABLED
    if not settings.sqs_queue_url:
        return "SQS_QUEUE_URL is not set"
    return None


def run_bridge(
    settings: Settings,
    *,
    options: BridgeOptions | None = None,
    sqs: SqsQueue | None = None,
    sender: NotificationSender | None = None,
    clock: Clock = time.monotonic,
    wall_clock: Clock = time.time,
) -> BridgeReport:
    """One timer run: long-poll SQS_QUEUE_URL for up to BRIDGE_MAX_SECONDS and forward to
    AMAZON_NOTIFICATIONS_QUEUE. Returns at once when the bridge is disabled or has no queue. Transient failures
    are in the report (`report.raise_for_failures()` turns them into an error); configuration errors and
    crashes propagate. Connectors passed in are used as given and not closed; those built here are."""
    idle = idle_reason(settings) if sqs is None else (None if settings.bridge_enabled else BRIDGE_DISABLED)
    if idle is not None:
        log.info("bridge: %s; nothing to do", idle)
        return BridgeReport(skipped=idle)
    options = options or BridgeOptions.from_settings(settings)
    owned: list[SqsQueue | NotificationSender] = []
    try:
        if sqs is None:
            from shared.bridge.sqs import Boto3SqsQueue

            sqs = Boto3SqsQueue.from_settings(settings)
            owned.append(sqs)
        if sender is None:
            from shared.servicebus.sender import ServiceBusQueueSender

            sender = ServiceBusQueueSender.from_settings(settings)
            owned.append(sender)
        return Bridge(sqs, sender, options, clock=clock, wall_clock=wall_clock).run()
    finally:
        for connector in reversed(owned):
            try:
                connector.close()
            except Exception:  # closing must not hide the run's own outcome
                log.warning("bridge: closing %s failed", type(connector).__name__, exc_info=True)
