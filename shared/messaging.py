"""What a flow receives from a queue and what it decides about each message.

Triggers translate their binding into InboundMessage and carry out each Settlement, so flows never see a
Service Bus type and can be driven by the sandbox, the tests and the real host alike.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from shared.sanitize import public_text

# Service Bus SDKs (.NET, JavaScript) refuse a dead-letter reason or description over 4,096 characters;
# the Python SDK sends whatever it is given. Ours stay well below: the reason is a code people select
# dead letters by (`replay --reason`), the description one readable sentence.
MAX_REASON = 120
MAX_DESCRIPTION = 1000


@dataclass(frozen=True)
class InboundMessage:
    message_id: str
    body: bytes
    delivery_count: int = 1


class Outcome(StrEnum):
    COMPLETE = "complete"  # done (applied, duplicate, stale, or deliberately ignored)
    # Passing trouble (an outage, an empty quota, a lost race): try again later without spending one of the
    # message's deliveries. The glue schedules a copy for later and completes the original; abandoning (or
    # leaving it locked) would count a delivery each time, and a long outage would dead-letter valid orders.
    RESCHEDULE = "reschedule"
    ABANDON = "abandon"  # the flow itself failed on this message: deliver again now, counting the delivery
    DEAD_LETTER = "dead_letter"  # permanent failure: park it with a reason for a human


@dataclass(frozen=True)
class Settlement:
    """What to do with one message; its reason and description are made fit to leave the app here.

    They end up in Service Bus, the dead-letter tools, terminals and tickets, and often quote what a
    stranger wrote (a notification's seller id): `public_text` redacts secrets and buyer data, escapes
    what is not printable or not encodable (a lone surrogate would make the settlement call itself fail,
    and the message would be delivered again until its count runs out) and caps the length.
    """

    message: InboundMessage
    outcome: Outcome
    reason: str | None = None
    description: str | None = None
    delay: float | None = None  # RESCHEDULE: the least wait the dependency asked for (seconds)

    @classmethod
    def complete(cls, message: InboundMessage) -> Settlement:
        return cls(message, Outcome.COMPLETE)

    @classmethod
    def abandon(cls, message: InboundMessage, reason: str, description: str) -> Settlement:
        return cls(message, Outcome.ABANDON, *_outbound(reason, description))

    @classmethod
    def reschedule(
        cls, message: InboundMessage, reason: str, description: str, *, delay: float | None = None
    ) -> Settlement:
        return cls(message, Outcome.RESCHEDULE, *_outbound(reason, description), delay)

    @classmethod
    def dead_letter(cls, message: InboundMessage, reason: str, description: str) -> Settlement:
        return cls(message, Outcome.DEAD_LETTER, *_outbound(reason, description))


def _outbound(reason: str, description: str) -> tuple[str, str]:
    return public_text(reason, MAX_REASON), public_text(description, MAX_DESCRIPTION)


@dataclass
class BatchReport:
    """What a flow decided about a batch: one settlement per message, and counts by outcome for its log line."""

    settlements: list[Settlement] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
