"""Glue between the Service Bus SDK-type binding and a flow: decode, run, settle every message explicitly.

With `auto_complete_messages=False` nothing is settled for us, so each message ends exactly one way:
completed, abandoned (transient failure; Service Bus delivers it again at once and counts the delivery),
left locked (out of quota: Service Bus delivers it again when the lock expires, a backoff as long as the
queue's lock duration) or dead-lettered with a reason and description (permanent failure; it waits in the
dead-letter queue for a human and the replay tool). If the flow itself crashes, every message is abandoned and the error is
re-raised so the invocation shows as failed in Application Insights.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from shared.messaging import InboundMessage, Outcome, Settlement

log = logging.getLogger(__name__)


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


def to_inbound(message: Any) -> InboundMessage:
    message_id = message.message_id or f"seq-{message.sequence_number}"
    # AMQP delivery-count counts earlier failed attempts (0 on the first); ours is this attempt's number.
    return InboundMessage(str(message_id), message_body(message), int(message.delivery_count or 0) + 1)


def run_and_settle(
    messages: Sequence[Any], actions: MessageActions, flow: Callable[[list[InboundMessage]], FlowReport]
) -> FlowReport | None:
    """Run `flow` over the batch and settle every message according to its Settlement."""
    inbound = [to_inbound(message) for message in messages]
    originals = {id(item): message for item, message in zip(inbound, messages, strict=True)}
    try:
        report = flow(inbound)
    except Exception:
        log.exception("Flow crashed; abandoning %d messages", len(messages))
        for message in messages:
            _safely(actions.abandon, message)
        raise
    settled: set[int] = set()
    for settlement in report.settlements:
        original = originals.get(id(settlement.message))
        if original is None or id(settlement.message) in settled:
            continue
        settled.add(id(settlement.message))
        _settle(actions, original, settlement)
    for item in inbound:
        if id(item) not in settled:  # a flow must decide every message; if one slipped through, retry it
            log.error("Message %s had no settlement; abandoning it", item.message_id)
            _safely(actions.abandon, originals[id(item)])
    return report


def _settle(actions: MessageActions, message: Any, settlement: Settlement) -> None:
    if settlement.outcome is Outcome.COMPLETE:
        _safely(actions.complete, message)
    elif settlement.outcome is Outcome.ABANDON:
        _safely(actions.abandon, message)
    elif settlement.outcome is Outcome.RETRY_LATER:
        log.info(
            "Message %s left locked until its lock expires (%s)",
            settlement.message.message_id,
            settlement.reason,
        )
    else:
        _safely(
            actions.deadletter,
            message,
            deadletter_reason=settlement.reason,
            deadletter_error_description=settlement.description,
        )


def _safely(call: Callable[..., None], message: Any, **kwargs: Any) -> None:
    """A failed settlement (lock lost) is logged, not raised: Service Bus will redeliver the message,
    and the flow's dedupe makes the second delivery harmless."""
    try:
        call(message, **kwargs)
    except Exception as exc:  # noqa: BLE001
        log.warning("Settling message %s failed: %s", getattr(message, "message_id", "?"), type(exc).__name__)
