"""The dead letters of the app's queues, for operators: listed (identifiers and reasons, never a body),
counted, and replayed, on the dead-letter module (shared/servicebus/deadletters).

Each call opens its own Service Bus client and closes it (the SDK's clients are not meant to be shared
between threads, and these calls are rare). A queue that cannot be read is reported with why, and the other
queues are still listed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from shared.flows.health import failure_detail
from shared.servicebus.deadletters import DeadLetterList, DeadLetters, Limits, ReplayReport

log = logging.getLogger(__name__)

# The status page counts dead letters on every refresh: it peeks at most this many per queue.
SUMMARY_LIMITS = Limits(max_list=1000)

OpenDeadLetters = Callable[[Limits], DeadLetters]


@dataclass(frozen=True)
class QueueFailures:
    queue: str
    listing: DeadLetterList | None  # None when the queue could not be read
    error: str | None = None


@dataclass(frozen=True)
class FailureSummary:
    total: int
    by_reason: dict[str, int]
    truncated: bool  # some queue holds more than was peeked
    errors: dict[str, str]  # queue -> why it could not be read


class Failures:
    def __init__(self, open_dead_letters: OpenDeadLetters, queues: Sequence[str]) -> None:
        self._open = open_dead_letters
        self.queues = tuple(queues)

    def list(
        self, queues: Iterable[str] | None = None, *, limits: Limits | None = None
    ) -> list[QueueFailures]:
        chosen = tuple(queues) if queues is not None else self.queues
        with self._open(limits or Limits()) as dead_letters:
            return [_listed(dead_letters, queue) for queue in chosen]

    def replay(
        self,
        queue: str | None,
        *,
        sequence_numbers: Sequence[int] | None = None,
        reason: str | None = None,
        dry_run: bool = False,
    ) -> ReplayReport:
        """Replay the chosen dead letters of `queue` (default: the notifications queue). Errors before anything
        was replayed (the queue is missing, no connection) raise; errors during the pass are in the report."""
        with self._open(Limits()) as dead_letters:
            report = dead_letters.replay(
                queue or self.queues[0], sequence_numbers=sequence_numbers, reason=reason, dry_run=dry_run
            )
        log.info("Replay over HTTP: %s %s -> %s", report.queue, report.selection, report.counts)
        return report

    def summary(self) -> FailureSummary:
        by_reason: Counter[str] = Counter()
        truncated = False
        errors = {}
        for found in self.list(limits=SUMMARY_LIMITS):
            if found.listing is None:
                errors[found.queue] = found.error or "unreadable"
                continue
            by_reason.update(found.listing.by_reason)
            truncated = truncated or found.listing.truncated
        ordered = dict(sorted(by_reason.items(), key=lambda item: (-item[1], item[0])))
        return FailureSummary(sum(by_reason.values()), ordered, truncated, errors)


def _listed(dead_letters: DeadLetters, queue: str) -> QueueFailures:
    try:
        return QueueFailures(queue, dead_letters.list(queue))
    except Exception as exc:  # noqa: BLE001 - one unreadable queue must not hide the others
        log.warning("Dead letters of %s not listed (%s)", queue, type(exc).__name__)
        return QueueFailures(queue, None, failure_detail(exc))
