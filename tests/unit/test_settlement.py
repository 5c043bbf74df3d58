"""Settlement: every message of a batch ends exactly one way, as the flow decided."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.messaging import InboundMessage, Settlement
from shared.servicebus.sender import OutgoingMessage, SendResult
from shared.servicebus.settlement import (
    RETRY_COUNT,
    RETRY_FIRST_ENQUEUED,
    RETRY_ORIGINAL_MESSAGE_ID,
    Rescheduling,
    RetrySchedule,
    retry_message_id,
    run_and_settle,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@dataclass
class Message:
    message_id: str
    body: bytes = b"{}"
    delivery_count: int = 0
    sequence_number: int = 1
    application_properties: dict[Any, Any] = field(default_factory=dict)
    enqueued_time_utc: datetime = NOW - timedelta(minutes=1)
    content_type: str = "application/json"
    subject: str | None = None


@dataclass
class Sender:
    """A Service Bus sender that accepts everything (or nothing) and keeps what it was given."""

    accept: bool = True
    sent: list[OutgoingMessage] = field(default_factory=list)

    def send(self, messages: Sequence[OutgoingMessage], *, timeout: float) -> SendResult:
        self.sent.extend(messages)
        return SendResult(accepted=tuple(range(len(messages))) if self.accept else ())

    def close(self) -> None:
        pass


def rescheduling(sender: Sender, **schedule: Any) -> Rescheduling:
    return Rescheduling(sender, RetrySchedule(**schedule))


@dataclass
class Actions:
    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    def complete(self, message: Message) -> None:
        self.calls.append(("complete", message.message_id, None))

    def abandon(self, message: Message) -> None:
        self.calls.append(("abandon", message.message_id, None))

    def deadletter(
        self,
        message: Message,
        deadletter_reason: str | None = None,
        deadletter_error_description: str | None = None,
    ) -> None:
        self.calls.append(
            ("deadletter", message.message_id, (deadletter_reason, deadletter_error_description))
        )


@dataclass
class Report:
    settlements: list[Settlement]


def test_each_outcome_maps_to_its_settlement_call() -> None:
    """complete -> complete; abandon -> abandon; dead-letter -> deadletter with reason; reschedule -> a delayed
    copy is sent, then the original is completed (no delivery count spent)."""
    messages = [Message("a"), Message("b"), Message("c"), Message("d")]

    def flow(inbound: list[InboundMessage]) -> Report:
        a, b, c, d = inbound
        return Report(
            [
                Settlement.complete(a),
                Settlement.abandon(b, "UnexpectedError", "bug"),
                Settlement.dead_letter(c, "MalformedNotification", "not JSON"),
                Settlement.reschedule(d, "RateLimited", "quota", delay=30.0),
            ]
        )

    actions, sender = Actions(), Sender()
    run_and_settle(messages, actions, flow, rescheduling=rescheduling(sender), clock=lambda: NOW)
    assert actions.calls == [
        ("complete", "a", None),
        ("abandon", "b", None),
        ("deadletter", "c", ("MalformedNotification", "not JSON")),
        ("complete", "d", None),
    ]
    [copy] = sender.sent
    assert copy.message_id == "d:retry:1"
    assert copy.scheduled_enqueue_time is not None
    assert copy.scheduled_enqueue_time >= NOW + timedelta(seconds=30)  # at least what the dependency asked


def test_a_rescheduled_copy_carries_its_history_and_waits_longer_each_time() -> None:
    """The copy keeps the body and properties, counts its attempt, remembers the first enqueue time and the
    original message id; the second copy of the same notification waits longer than the first could."""
    original = Message("n-1", body=b'{"x": 1}', application_properties={b"sqs.MessageId": b"m-1"})
    sender = Sender()

    def reschedule(inbound: list[InboundMessage]) -> Report:
        return Report([Settlement.reschedule(inbound[0], "DataverseUnavailable", "503")])

    schedule = {"base_seconds": 10.0, "max_delay_seconds": 900.0}
    run_and_settle(
        [original], Actions(), reschedule, rescheduling=rescheduling(sender, **schedule), clock=lambda: NOW
    )
    first = sender.sent[0]
    assert first.body == b'{"x": 1}'
    assert first.application_properties["sqs.MessageId"] == "m-1"
    assert first.application_properties[RETRY_COUNT] == 1
    assert first.application_properties[RETRY_ORIGINAL_MESSAGE_ID] == "n-1"
    assert first.application_properties[RETRY_FIRST_ENQUEUED] == original.enqueued_time_utc.isoformat()
    assert first.scheduled_enqueue_time is not None
    assert NOW + timedelta(seconds=5) <= first.scheduled_enqueue_time <= NOW + timedelta(seconds=10)

    again = Message(
        first.message_id, body=first.body, application_properties=dict(first.application_properties)
    )
    run_and_settle(
        [again], Actions(), reschedule, rescheduling=rescheduling(sender, **schedule), clock=lambda: NOW
    )
    second = sender.sent[1]
    assert second.message_id == "n-1:retry:2"
    assert second.application_properties[RETRY_COUNT] == 2
    assert second.scheduled_enqueue_time is not None
    assert second.scheduled_enqueue_time >= NOW + timedelta(seconds=10)


def test_a_message_that_keeps_meeting_trouble_is_dead_lettered_after_the_maximum_age() -> None:
    """Past max_age since its first enqueue, a message is not rescheduled again but dead-lettered."""
    first = (NOW - timedelta(hours=25)).isoformat()
    old = Message("n-1:retry:40", application_properties={RETRY_FIRST_ENQUEUED: first, RETRY_COUNT: 40})
    actions, sender = Actions(), Sender()
    run_and_settle(
        [old],
        actions,
        lambda inbound: Report([Settlement.reschedule(inbound[0], "SpApiUnavailable", "503")]),
        rescheduling=rescheduling(sender, max_age=timedelta(hours=24)),
        clock=lambda: NOW,
    )
    assert sender.sent == []
    [(call, message_id, (reason, description))] = actions.calls
    assert (call, message_id, reason) == ("deadletter", "n-1:retry:40", "RetriesExhausted")
    assert "SpApiUnavailable" in description


def test_a_copy_that_cannot_be_sent_leaves_the_original_to_be_delivered_again() -> None:
    """If Service Bus refuses the copy, the original is abandoned: nothing is lost."""
    actions = Actions()
    run_and_settle(
        [Message("a")],
        actions,
        lambda inbound: Report([Settlement.reschedule(inbound[0], "Transient", "x")]),
        rescheduling=rescheduling(Sender(accept=False)),
        clock=lambda: NOW,
    )
    assert actions.calls == [("abandon", "a", None)]


def test_retry_message_ids_stay_within_the_service_bus_limit() -> None:
    """A long original id is hashed so the copy's id keeps Service Bus's 128-character limit."""
    assert retry_message_id("n", 3) == "n:retry:3"
    long_id = retry_message_id("x" * 200, 3)
    assert len(long_id) <= 128
    assert long_id.endswith(":retry:3")


def test_messages_the_flow_forgot_are_abandoned() -> None:
    """A message without a settlement is abandoned rather than left to time out silently."""
    actions = Actions()
    run_and_settle(
        [Message("a"), Message("b")], actions, lambda inbound: Report([Settlement.complete(inbound[0])])
    )
    assert actions.calls == [("complete", "a", None), ("abandon", "b", None)]


def test_a_crashing_flow_abandons_everything_and_raises() -> None:
    """If the flow fails on every message, all go back and the invocation fails visibly."""
    actions = Actions()

    def flow(inbound: list[InboundMessage]) -> Report:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        run_and_settle([Message("a"), Message("b")], actions, flow)
    assert actions.calls == [("abandon", "a", None), ("abandon", "b", None)]


def test_one_poison_message_does_not_take_its_batch() -> None:
    """The flow crashes on a batch because of one message: each message is run alone, the others settle by
    their own outcome, only the poison one is abandoned, and the crash is still reported."""
    actions = Actions()

    def flow(inbound: list[InboundMessage]) -> Report:
        if any(json.loads(item.body).get("poison") for item in inbound):
            raise RecursionError("maximum recursion depth exceeded")
        return Report([Settlement.complete(item) for item in inbound])

    batch = [Message("a"), Message("b", body=b'{"poison": true}'), Message("c")]
    with pytest.raises(RecursionError):
        run_and_settle(batch, actions, flow)
    assert actions.calls == [("complete", "a", None), ("abandon", "b", None), ("complete", "c", None)]


def test_a_failed_settlement_does_not_stop_the_others() -> None:
    """A lost lock on one message is logged; the rest are still settled."""

    class Flaky(Actions):
        def complete(self, message: Message) -> None:
            if message.message_id == "a":
                raise RuntimeError("lock lost")
            super().complete(message)

    actions = Flaky()
    run_and_settle(
        [Message("a"), Message("b")],
        actions,
        lambda inbound: Report([Settlement.complete(m) for m in inbound]),
    )
    assert actions.calls == [("complete", "b", None)]


def test_inbound_messages_carry_body_id_and_attempt_number() -> None:
    """The AMQP delivery count (earlier attempts) becomes the attempt number; bodies are joined bytes."""
    seen: list[InboundMessage] = []

    def flow(inbound: list[InboundMessage]) -> Report:
        seen.extend(inbound)
        return Report([Settlement.complete(m) for m in inbound])

    message = Message("a", body=b'{"x": 1}', delivery_count=2)
    run_and_settle([message], Actions(), flow)
    assert seen == [InboundMessage("a", b'{"x": 1}', 3)]
