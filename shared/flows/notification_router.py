"""Routes the Amazon notifications queue by NotificationType: each handler gets its own messages.

Amazon delivers every subscribed type through the one SQS queue (and so the one Service Bus queue).
ORDER_CHANGE goes to order sync; other types go to the handler registered for them (report processing,
FBA inventory, listing status, issues and merchant quantity). Order sync also receives everything else: it
dead-letters what is malformed or a near miss of a known type, and completes types nobody handles, with a log
line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shared.amazon.notifications import read_envelope_facts
from shared.messaging import InboundMessage, Settlement


class NotificationHandler(Protocol):
    """A flow that settles every message it is given."""

    def handle(self, messages: Sequence[InboundMessage], *, invocation_id: str | None = None) -> _Settled: ...


class _Settled(Protocol):
    settlements: list[Settlement]


@dataclass
class RoutedReport:
    settlements: list[Settlement] = field(default_factory=list)


class NotificationRouter:
    def __init__(self, default: NotificationHandler, handlers: Mapping[str, NotificationHandler]) -> None:
        self._default = default
        self._handlers = dict(handlers)

    def handle(self, messages: Sequence[InboundMessage], *, invocation_id: str | None = None) -> RoutedReport:
        by_handler: dict[str | None, list[InboundMessage]] = defaultdict(list)
        for message in messages:
            kind = read_envelope_facts(message.body).notification_type
            by_handler[kind if kind in self._handlers else None].append(message)
        report = RoutedReport()
        for kind, routed in by_handler.items():
            handler = self._handlers[kind] if kind is not None else self._default
            report.settlements += handler.handle(routed, invocation_id=invocation_id).settlements
        return report
