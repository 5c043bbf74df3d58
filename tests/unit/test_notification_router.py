"""The notification router: each NotificationType reaches its handler; everything else reaches order sync."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.flows.notification_router import NotificationRouter, RoutedReport
from shared.messaging import InboundMessage, Settlement
from tests.builders import order_change


@dataclass
class Recorder:
    seen: list[tuple[str, str | None]] = field(default_factory=list)

    def handle(self, messages: Sequence[InboundMessage], *, invocation_id: str | None = None) -> RoutedReport:
        self.seen += [(message.message_id, invocation_id) for message in messages]
        return RoutedReport([Settlement.complete(message) for message in messages])


def message(message_id: str, notification_type: str | None) -> InboundMessage:
    envelope = order_change(notification_id=message_id)
    if notification_type is None:
        return InboundMessage(message_id, b"not json")
    envelope["NotificationType"] = notification_type
    return InboundMessage(message_id, json.dumps(envelope).encode())


def test_each_type_reaches_its_handler_and_the_rest_reach_order_sync() -> None:
    """A registered type goes to its handler, ORDER_CHANGE, unknown types and unreadable bodies to the
    default (order sync, which dead-letters or completes them); every message is settled once."""
    orders, reports = Recorder(), Recorder()
    router = NotificationRouter(orders, {"REPORT_PROCESSING_FINISHED": reports})
    batch = [
        message("a", "ORDER_CHANGE"),
        message("b", "REPORT_PROCESSING_FINISHED"),
        message("c", "ANY_OFFER_CHANGED"),
        message("d", None),
    ]
    report = router.handle(batch, invocation_id="inv-1")
    assert orders.seen == [("a", "inv-1"), ("c", "inv-1"), ("d", "inv-1")]
    assert reports.seen == [("b", "inv-1")]
    assert sorted(s.message.message_id for s in report.settlements) == ["a", "b", "c", "d"]
