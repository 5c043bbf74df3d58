"""What a flow receives from a queue and what it decides about each message.

Triggers translate their binding into InboundMessage and carry out each Settlement, so flows never see a
Service Bus type and can be driven by the sandbox, the tests and the real host alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Dead-letter reason and description limits of Service Bus (the description is a 4 KB property).
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
        return cls(message, Outcome.ABANDON, reason[:MAX_REASON], description[:MAX_DESCRIPTION])

    @classmethod
    def reschedule(
        cls, message: InboundMessage, reason: str, description: str, *, delay: float | None = None
    ) -> Settlement:
        return cls(message, Outcome.RESCHEDULE, reason[:MAX_REASON], description[:MAX_DESCRIPTION], delay)

    @classmethod
    def dead_letter(cls, message: InboundMessage, reason: str, description: str) -> Settlement:
        return cls(message, Outcome.DEAD_LETTER, reason[:MAX_REASON], description[:MAX_DESCRIPTION])
