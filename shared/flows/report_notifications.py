"""REPORT_PROCESSING_FINISHED notifications, handed to whoever waits for that report type (the order backfill
now, the settlement timer later). The notification router sends every message of that type here.

Each message is settled on its own: a malformed or foreign one is dead-lettered with its reason; passing trouble
reschedules it; a report type nobody waits for (Amazon notifies every report the seller's apps create) is
completed with a log line. Handling is idempotent (the consumer records the report's status on its job), so a
redelivery costs a lookup and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shared.amazon.notifications import check_versions, parse_envelope
from shared.amazon.reports import ReportFinished, parse_report_finished
from shared.errors import PermanentError, SyncError
from shared.messaging import InboundMessage, Settlement

log = logging.getLogger(__name__)


class ReportConsumer(Protocol):
    def report_finished(self, finished: ReportFinished) -> bool:
        """Take the report on; False when nothing waited for it."""
        ...


class ForeignSellerReport(PermanentError):
    reason = "ForeignSeller"


@dataclass
class ReportNotificationsReport:
    settlements: list[Settlement] = field(default_factory=list)


class ReportNotifications:
    def __init__(self, consumers: Mapping[str, ReportConsumer], *, seller_id: str) -> None:
        self._consumers = dict(consumers)
        self._seller_id = seller_id

    def handle(
        self, messages: Sequence[InboundMessage], *, invocation_id: str | None = None
    ) -> ReportNotificationsReport:
        report = ReportNotificationsReport()
        for message in messages:
            report.settlements.append(self._settle(message))
        return report

    def _settle(self, message: InboundMessage) -> Settlement:
        try:
            envelope = parse_envelope(message.body)
            check_versions(envelope)
            finished = parse_report_finished(envelope)
            if finished.seller_id != self._seller_id:
                raise ForeignSellerReport(
                    f"notification {envelope.notification_id} is for another seller, not SPAPI_SELLER_ID"
                )
            consumer = self._consumers.get(finished.report.report_type)
            if consumer is None or not consumer.report_finished(finished):
                log.info(
                    "Report %s (%s) finished %s: nothing here waits for it; completed",
                    finished.report.report_id,
                    finished.report.report_type,
                    finished.report.processing_status,
                )
            return Settlement.complete(message)
        except SyncError as exc:
            if exc.transient:
                log.warning("Report notification %s: passing trouble (%s)", message.message_id, exc.reason)
                return Settlement.reschedule(message, exc.reason, str(exc), delay=exc.retry_after)
            log.error("Report notification %s dead-lettered: %s", message.message_id, exc)
            return Settlement.dead_letter(message, exc.reason, str(exc))
