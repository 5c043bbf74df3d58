"""The dead-letter tools bound to the app's settings: list / replay on one Service Bus client."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Self

from shared.servicebus.deadletters.listing import DeadLetterList, Limits, QueueClient, list_dead_letters
from shared.servicebus.deadletters.replay import ReplayReport, Selection, replay_dead_letters

if TYPE_CHECKING:
    from shared.config import Settings


def app_queues(settings: Settings) -> tuple[str, ...]:
    """The Service Bus queues this app reads (the ones whose dead letters are ours)."""
    return (settings.amazon_notifications_queue, settings.resync_queue)


class DeadLetters:
    """list / replay on one Service Bus client, defaulting to the app's notifications queue.

    `DeadLetters.from_settings(load_settings())` connects the way the app does (ServiceBusConnection, or the
    managed identity on ServiceBusConnection__fullyQualifiedNamespace; replaying needs *Data Owner*).
    """

    def __init__(
        self,
        client: QueueClient,
        *,
        queues: Sequence[str],
        limits: Limits | None = None,
        owns_client: bool = False,
    ) -> None:
        if not queues:
            raise ValueError("at least one queue")
        self.client = client
        self.queues = tuple(queues)
        self.limits = limits or Limits()
        self._owns_client = owns_client

    @classmethod
    def from_settings(cls, settings: Settings, *, limits: Limits | None = None) -> DeadLetters:
        from shared.servicebus.client import service_bus_client

        return cls(service_bus_client(settings), queues=app_queues(settings), limits=limits, owns_client=True)

    @property
    def default_queue(self) -> str:
        return self.queues[0]

    def list(self, queue: str | None = None) -> DeadLetterList:
        """The dead letters of `queue` (default: the notifications queue)."""
        return list_dead_letters(self.client, queue or self.default_queue, limits=self.limits)

    def replay(
        self,
        queue: str | None = None,
        *,
        sequence_numbers: Iterable[int] | None = None,
        reason: str | None = None,
        all: bool = False,
        dry_run: bool = False,
    ) -> ReplayReport:
        """Replay dead letters of `queue` chosen by sequence numbers, by reason, or all (exactly one)."""
        selection = Selection.of(sequence_numbers=sequence_numbers, reason=reason, all=all)
        return replay_dead_letters(
            self.client, queue or self.default_queue, selection, dry_run=dry_run, limits=self.limits
        )

    def close(self) -> None:
        if self._owns_client:
            close = getattr(self.client, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
