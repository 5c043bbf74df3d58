"""Dead letters of the app's Service Bus queues: list them without touching them, replay the chosen ones.

- `listing`: peek the dead-letter sub-queue; broker facts and identifiers, never a body;
- `replay`: choose (by sequence number, reason, or all), send a copy back, then remove the dead letter;
- `tool`: both bound to the app's settings and queues (`DeadLetters`), for the command line and HTTP;
- `cli`: `python -m shared.servicebus.deadletters list|replay ...`.

Everything is bounded (page sizes, a maximum number listed and replayed, a receive wait) and returns small
frozen dataclasses with `to_json()`, so the command line and HTTP endpoints serialise the same thing.
azure.servicebus is imported inside the functions that talk to Service Bus.
"""

from shared.servicebus.deadletters.listing import (
    NO_REASON,
    REPLAY_COUNT,
    DeadLetter,
    DeadLetterList,
    Limits,
    describe,
    list_dead_letters,
)
from shared.servicebus.deadletters.replay import (
    DEAD_LETTER_PROPERTIES,
    MAX_MESSAGE_ID,
    REPLAY_DEAD_LETTER_REASON,
    REPLAY_FROM_SEQUENCE_NUMBER,
    REPLAY_ORIGINAL_MESSAGE_ID,
    REPLAYED_AT,
    ReplayCopy,
    ReplayItem,
    ReplayReport,
    ReplayStatus,
    Selection,
    replay_copy,
    replay_dead_letters,
    replay_message_id,
)
from shared.servicebus.deadletters.tool import DeadLetters, app_queues
from shared.servicebus.settlement import application_properties

__all__ = [
    "DEAD_LETTER_PROPERTIES",
    "MAX_MESSAGE_ID",
    "NO_REASON",
    "REPLAYED_AT",
    "REPLAY_COUNT",
    "REPLAY_DEAD_LETTER_REASON",
    "REPLAY_FROM_SEQUENCE_NUMBER",
    "REPLAY_ORIGINAL_MESSAGE_ID",
    "DeadLetter",
    "DeadLetterList",
    "DeadLetters",
    "Limits",
    "ReplayCopy",
    "ReplayItem",
    "ReplayReport",
    "ReplayStatus",
    "Selection",
    "app_queues",
    "application_properties",
    "describe",
    "list_dead_letters",
    "replay_copy",
    "replay_dead_letters",
    "replay_message_id",
]
