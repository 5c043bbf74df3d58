"""Settlement: every message of a batch ends exactly one way, as the flow decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.messaging import InboundMessage, Settlement
from shared.servicebus.settlement import run_and_settle


@dataclass
class Message:
    message_id: str
    body: bytes = b"{}"
    delivery_count: int = 0
    sequence_number: int = 1


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
    """complete -> complete; abandon -> abandon; dead-letter -> deadletter with reason; retry-later -> no call."""
    messages = [Message("a"), Message("b"), Message("c"), Message("d")]

    def flow(inbound: list[InboundMessage]) -> Report:
        a, b, c, d = inbound
        return Report(
            [
                Settlement.complete(a),
                Settlement.abandon(b, "Transient", "503"),
                Settlement.dead_letter(c, "MalformedNotification", "not JSON"),
                Settlement.retry_later(d, "RateLimited", "quota"),
            ]
        )

    actions = Actions()
    run_and_settle(messages, actions, flow)
    assert actions.calls == [
        ("complete", "a", None),
        ("abandon", "b", None),
        ("deadletter", "c", ("MalformedNotification", "not JSON")),
    ]


def test_messages_the_flow_forgot_are_abandoned() -> None:
    """A message without a settlement is abandoned rather than left to time out silently."""
    actions = Actions()
    run_and_settle(
        [Message("a"), Message("b")], actions, lambda inbound: Report([Settlement.complete(inbound[0])])
    )
    assert actions.calls == [("complete", "a", None), ("abandon", "b", None)]


def test_a_crashing_flow_abandons_everything_and_raises() -> None:
    """If the flow itself fails, all messages go back and the invocation fails visibly."""
    actions = Actions()

    def flow(inbound: list[InboundMessage]) -> Report:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        run_and_settle([Message("a"), Message("b")], actions, flow)
    assert actions.calls == [("abandon", "a", None), ("abandon", "b", None)]


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
