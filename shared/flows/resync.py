"""Resync jobs, the asking side: a job names Amazon orders, a date range, or SKUs whose listings should show
the CRM's stock and prices again; it is recorded in the state table, its work is queued on the resync queue
(the resync function does it, never the request), and its status is read back from what the work recorded.

    start_orders(ids) / start_range(start, end) / start_skus(skus)
        -> job row, messages on the queue -> ResyncStatus (queued)
    status(job id) -> ResyncStatus: order-id and SKU jobs count their items' outcome rows; range jobs read the
                      backfill job of the same id (which the resync function starts and the sweep continues)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.errors import TransientError
from shared.flows.backfill_job import BackfillJob, JobStatus
from shared.flows.orders_backfill import OrdersBackfill
from shared.flows.resync_messages import order_message, range_message, sku_message
from shared.servicebus.sender import NotificationSender, OutgoingMessage
from shared.state.resync_jobs import ItemOutcome, ResyncJobRecord, ResyncJobStore
from shared.timeutil import utc_now

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 30.0  # 1,000 order messages are a handful of batches
SHOWN_FAILURES = 20  # failed orders or SKUs named in a status; the counts cover them all
APPLIED_COUNTS = ("written", "stale", "unchanged", "closed_in_crm")  # a backfill's orders the CRM now holds


class ResyncKind(StrEnum):
    ORDERS = "orders"
    RANGE = "range"
    LISTINGS = "listings"  # by SKU: the CRM's stock and prices sent to Amazon's listings again


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ResyncQueueUnavailable(TransientError):
    """Service Bus did not take the job's messages (all or some): the job is recorded as failed."""

    reason = "ResyncQueueUnavailable"


@dataclass(frozen=True)
class FailedItem:
    item: str  # the Amazon order id, or the SKU
    reason: str


@dataclass(frozen=True)
class ResyncStatus:
    job_id: str
    kind: str
    state: JobState
    queued: int  # order-id and SKU jobs: the orders or SKUs named; range jobs: the orders found so far
    applied: int
    failed: int
    created_at: datetime
    updated_at: datetime
    failures: tuple[FailedItem, ...] = ()  # the first SHOWN_FAILURES
    note: str | None = None  # why the job failed, or where a range job stands


class Resync:
    def __init__(
        self,
        *,
        jobs: ResyncJobStore,
        queue: NotificationSender,
        backfill: OrdersBackfill,
        clock: Callable[[], datetime] = utc_now,
        new_job_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._jobs = jobs
        self._queue = queue
        self._backfill = backfill
        self._clock = clock
        self._new_job_id = new_job_id

    def start_orders(self, order_ids: Sequence[str]) -> ResyncStatus:
        """One message per order (a repeated id once): each order is fetched, applied or retried on its own."""
        unique = list(dict.fromkeys(order_ids))
        job = ResyncJobRecord(self._new_job_id(), ResyncKind.ORDERS, len(unique), self._clock())
        return self._start(job, [order_message(job.job_id, order_id) for order_id in unique])

    def start_range(self, start: datetime, end: datetime) -> ResyncStatus:
        """One message for the range: the resync function runs it as a backfill job of the same id."""
        job = ResyncJobRecord(
            self._new_job_id(), ResyncKind.RANGE, 0, self._clock(), range_start=start, range_end=end
        )
        return self._start(job, [range_message(job.job_id, start, end)])

    def start_skus(self, skus: Sequence[str]) -> ResyncStatus:
        """One message per SKU (a repeated SKU once): each SKU's listings are sent, retried or failed on their own.
        The job's moment travels with them: a listing answered after it needs no second send for this job."""
        unique = list(dict.fromkeys(skus))
        job = ResyncJobRecord(self._new_job_id(), ResyncKind.LISTINGS, len(unique), self._clock())
        return self._start(job, [sku_message(job.job_id, sku, job.created_at) for sku in unique])

    def status(self, job_id: str) -> ResyncStatus | None:
        job = self._jobs.read(job_id)
        if job is None:
            return None
        if job.kind == ResyncKind.RANGE:
            return _range_status(job, self._backfill.job(job_id))
        return _items_status(job, self._jobs.outcomes(job_id))

    def _start(self, job: ResyncJobRecord, messages: list[OutgoingMessage]) -> ResyncStatus:
        self._jobs.create(job)
        sent = self._queue.send(messages, timeout=SEND_TIMEOUT_SECONDS)
        if len(sent.accepted) < len(messages):
            why = sent.error.reason if sent.error is not None else "messages too large"
            note = f"{len(sent.accepted)} of {len(messages)} messages queued ({why}); start the resync again"
            log.error("Resync job %s failed: %s", job.job_id, note)
            self._jobs.mark_failed(job.job_id, note, at=self._clock())
            raise ResyncQueueUnavailable(f"resync job {job.job_id}: {note}", retry_after=30.0)
        log.info("Resync job %s queued: %s, %d messages", job.job_id, job.kind, len(messages))
        return _range_status(job, None) if job.kind == ResyncKind.RANGE else _items_status(job, [])


def _items_status(job: ResyncJobRecord, outcomes: Sequence[ItemOutcome]) -> ResyncStatus:
    applied = sum(1 for outcome in outcomes if outcome.applied)
    failed = [outcome for outcome in outcomes if not outcome.applied]
    finished = applied + len(failed)
    state = (
        JobState.FAILED
        if job.failure
        else JobState.DONE
        if finished >= job.queued
        else JobState.RUNNING
        if finished
        else JobState.QUEUED
    )
    updated = max([job.updated_at or job.created_at, *(outcome.at for outcome in outcomes)])
    return ResyncStatus(
        job.job_id,
        job.kind,
        state,
        job.queued,
        applied,
        len(failed),
        job.created_at,
        updated,
        tuple(FailedItem(outcome.item, outcome.detail) for outcome in failed[:SHOWN_FAILURES]),
        job.failure,
    )


def _range_status(job: ResyncJobRecord, backfill: BackfillJob | None) -> ResyncStatus:
    if backfill is None:  # the resync function has not taken the message yet
        state = JobState.FAILED if job.failure else JobState.QUEUED
        updated = job.updated_at or job.created_at
        return ResyncStatus(job.job_id, job.kind, state, 0, 0, 0, job.created_at, updated, note=job.failure)
    counts = backfill.counts
    applied = sum(counts[name] for name in APPLIED_COUNTS)
    failed = counts["failed"]
    state = {
        JobStatus.RUNNING: JobState.RUNNING,
        JobStatus.DONE: JobState.DONE,
        JobStatus.FAILED: JobState.FAILED,
    }[backfill.status]
    last_change = backfill.row.fields.get("Updated")
    updated = last_change if isinstance(last_change, datetime) else job.updated_at or job.created_at
    return ResyncStatus(
        job.job_id,
        job.kind,
        state,
        applied + failed,
        applied,
        failed,
        job.created_at,
        updated,
        note=backfill.note or None,
    )
