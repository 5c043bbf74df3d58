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
    ABANDON = "abandon"  # transient failure: deliver again now
    # Out of quota (Amazon's or Dataverse's): leave the message locked. Service Bus delivers it again when
    # the lock expires, so the queue's lock duration is the backoff; abandoning would redeliver at once
    # and spend the message's delivery count in seconds.
    RETRY_LATER = "retry_later"
    DEAD_LETTER = "dead_letter"  # permanent failure: park it with a reason for a human


@dataclass(frozen=True)
class Settlement:
    message: InboundMessage
    outcome: Outcome
    reason: str | None = None
    description: str | None = None

    @classmethod
    def complete(cls, message: InboundMessage) -> Settlement:
        return cls(message, Outcome.COMPLETE)

    @classmethod
    def abandon(cls, message: InboundMessage, reason: str, description: str) -> Settlement:
        return cls(message, Outcome.ABANDON, reason[:MAX_REASON], description[:MAX_DESCRIPTION])

    @classmethod
    def retry_later(cls, message: InboundMessage, reason: str, description: str) -> Settlement:
        return cls(message, Outcome.RETRY_LATER, reason[:MAX_REASON], description[:MAX_DESCRIPTION])

    @classmethod
    def dead_letter(cls, message: InboundMessage, reason: str, description: str) -> Settlement:
        return cls(message, Outcome.DEAD_LETTER, reason[:MAX_REASON], description[:MAX_DESCRIPTION])
