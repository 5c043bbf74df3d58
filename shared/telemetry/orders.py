"""One span per order that order sync finished, carrying the ids that join an order's trail (Amazon order id,
NotificationIds, Dataverse salesorder id), plus the order metrics: orders synced, sync lag, failures.

Order sync works on batches (one fetch, one $batch for many orders), so an order has no block of code of its
own to wrap in a span. Its span is made when the batch is done, from the batch's start to the moment its
outcome was known, as a child of the current span (the invocation's).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shared import telemetry
from shared.telemetry.names import (
    AMAZON_ORDER_ID,
    CRM_ID,
    LAG_SECONDS,
    NOTIFICATION_ID,
    ORDER_SPAN,
    ORDERS_SYNCED,
    OUTCOME,
    REASON,
    SOURCE,
    SYNC_LAG,
    TRANSIENT,
)


@dataclass(frozen=True)
class OrderTrace:
    """What became of one order in a batch, in plain values (the flow fills it in)."""

    order_id: str
    outcome: str  # written, stale, unchanged, closed_in_crm; or dead_lettered, rescheduled, abandoned, failed
    notification_ids: tuple[str, ...] = ()
    crm_id: str | None = None
    amazon_updated: datetime | None = None  # set for orders written now: the sync lag is measured from it
    reason: str | None = None  # a failure's reason code
    description: str | None = None  # a failure's description (scrubbed on export)
    transient: bool = False

    @property
    def failed(self) -> bool:
        return self.reason is not None


def record_orders(traces: Sequence[OrderTrace], *, source: str, started_ns: int) -> None:
    """A span per order and the order metrics (failures are counted where they are settled or recorded:
    shared/servicebus/settlement.py, flows/order_pages.py)."""
    backend = telemetry.active()
    if backend is None or not traces:
        return
    from opentelemetry.trace import Status, StatusCode

    now = datetime.now(UTC)
    end_ns = time.time_ns()
    for trace in traces:
        attributes: dict[str, str | bool | float] = {
            AMAZON_ORDER_ID: trace.order_id,
            OUTCOME: trace.outcome,
            SOURCE: source,
        }
        if trace.notification_ids:
            attributes[NOTIFICATION_ID] = ",".join(trace.notification_ids)
        if trace.crm_id:
            attributes[CRM_ID] = trace.crm_id
        if trace.amazon_updated is not None:
            lag = max(0.0, (now - trace.amazon_updated).total_seconds())
            attributes[LAG_SECONDS] = round(lag, 3)
            telemetry.record(SYNC_LAG, lag, source=source)
        if trace.failed:
            attributes[REASON] = trace.reason or ""
            attributes[TRANSIENT] = trace.transient
        else:
            telemetry.add(ORDERS_SYNCED, outcome=trace.outcome, source=source)
        order_span = backend.tracer.start_span(ORDER_SPAN, attributes=attributes, start_time=started_ns)
        if trace.failed:
            order_span.set_status(Status(StatusCode.ERROR, f"{trace.reason}: {trace.description or ''}"))
        order_span.end(end_time=end_ns)
