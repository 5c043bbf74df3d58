"""The resync function's flow over fakes: how each order message ends (outcome in its job, settlement),
getOrder's share, range messages, and jobs' status read back. No sockets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from shared.amazon.errors import SpApiTransientError
from shared.amazon.orders import OrdersApi
from shared.errors import PermanentError, SyncError
from shared.flows.backfill_job import BackfillJob, BackfillRange, JobStatus
from shared.flows.listings_resync import ListingsResync
from shared.flows.orders_backfill import OrdersBackfill
from shared.flows.resync import JobState, Resync
from shared.flows.resync_messages import order_message, range_message
from shared.flows.resync_worker import ResyncReport, ResyncWorker
from shared.messaging import InboundMessage
from shared.servicebus.sender import NotificationSender, OutgoingMessage, SendResult, ServiceBusSendFailed
from shared.state.resync_jobs import ItemOutcome, ResyncJobRecord, ResyncJobStore
from shared.state.store import StateUnavailable
from shared.state.watermarks import ProgressRow
from tests.builders import amazon_order
from tests.unit.test_order_sync import NOW, ORDER_ID, Rig

JOB = "0123456789abcdef0123456789abcdef"
OTHER_ORDER = "113-7654321-7654321"


@dataclass
class MemoryJobs:
    """ResyncJobStore in memory; `down` makes recording fail like an unreachable Table Storage."""

    jobs: dict[str, ResyncJobRecord] = field(default_factory=dict)
    rows: dict[str, dict[str, ItemOutcome]] = field(default_factory=dict)
    down: bool = False

    def create(self, job: ResyncJobRecord) -> None:
        self.jobs[job.job_id] = job

    def read(self, job_id: str) -> ResyncJobRecord | None:
        return self.jobs.get(job_id)

    def mark_failed(self, job_id: str, failure: str, *, at: datetime) -> None:
        job = self.jobs[job_id]
        self.jobs[job_id] = ResyncJobRecord(
            job.job_id, job.kind, job.queued, job.created_at, at, failure=failure
        )

    def record_outcomes(self, job_id: str, outcomes: Sequence[ItemOutcome]) -> None:
        if self.down:
            raise StateUnavailable("Table Storage down")
        self.rows.setdefault(job_id, {}).update((outcome.item, outcome) for outcome in outcomes)

    def outcomes(self, job_id: str) -> list[ItemOutcome]:
        return list(self.rows.get(job_id, {}).values())


@dataclass
class FakeBackfill:
    started: list[tuple[BackfillRange, str | None]] = field(default_factory=list)
    failure: Exception | None = None
    jobs: dict[str, BackfillJob] = field(default_factory=dict)

    def backfill(self, backfill_range: BackfillRange, *, job_id: str | None = None) -> BackfillJob:
        if self.failure is not None:
            raise self.failure
        self.started.append((backfill_range, job_id))
        job = BackfillJob(
            ProgressRow("orders-backfill", job_id or ""),
            job_id or "",
            backfill_range.start,
            backfill_range.end,
            (),
        )
        self.jobs[job.job_id] = job
        return job

    def job(self, job_id: str) -> BackfillJob | None:
        return self.jobs.get(job_id)


@dataclass
class WorkerRig:
    orders: Rig = field(default_factory=Rig)
    jobs: MemoryJobs = field(default_factory=MemoryJobs)
    backfill: FakeBackfill = field(default_factory=FakeBackfill)
    listings: ListingsResync | None = None  # SKU messages (test_listings_resync.py); orders need none

    def worker(self) -> ResyncWorker:
        return ResyncWorker(
            orders=cast(OrdersApi, self.orders.amazon),
            sync=self.orders.sync(),
            jobs=cast(ResyncJobStore, self.jobs),
            backfill=cast(OrdersBackfill, self.backfill),
            listings=cast(ListingsResync, self.listings),
            clock=lambda: NOW,
        )

    def handle(self, *messages: OutgoingMessage | InboundMessage) -> ResyncReport:
        inbound = [
            message
            if isinstance(message, InboundMessage)
            else InboundMessage(message.message_id, message.body)
            for message in messages
        ]
        return self.worker().handle(inbound)


@pytest.fixture
def rig() -> WorkerRig:
    """Amazon holds the builders' order; the CRM and the state are empty."""
    rig = WorkerRig()
    rig.orders.amazon.put(amazon_order())
    return rig


def settled(report: ResyncReport) -> list[tuple[str, str | None]]:
    return [(settlement.outcome.value, settlement.reason) for settlement in report.settlements]


def test_an_order_is_fetched_written_and_recorded_as_applied_in_its_job(rig: WorkerRig) -> None:
    """One order message: getOrder, one write, the outcome row says applied (written), the message completes."""
    report = rig.handle(order_message(JOB, ORDER_ID))
    assert settled(report) == [("complete", None)]
    assert rig.orders.amazon.get_order_calls == [ORDER_ID]
    assert len(rig.orders.crm.written) == 1
    [outcome] = rig.jobs.outcomes(JOB)
    assert (outcome.item, outcome.applied, outcome.detail) == (ORDER_ID, True, "written")


def test_an_order_already_in_sync_writes_nothing_and_still_counts_as_applied(rig: WorkerRig) -> None:
    """The second resync of the same order: getOrder again, no write, applied (unchanged)."""
    rig.handle(order_message(JOB, ORDER_ID))
    writes = len(rig.orders.crm.written)
    report = rig.handle(order_message("f" * 32, ORDER_ID))
    assert settled(report) == [("complete", None)]
    assert len(rig.orders.crm.written) == writes
    assert [(o.applied, o.detail) for o in rig.jobs.outcomes("f" * 32)] == [(True, "unchanged")]


def test_an_order_amazon_does_not_know_fails_in_its_job_and_its_message_completes(rig: WorkerRig) -> None:
    """A permanent failure is the job's to report (resyncing again would fail the same way): no dead letter."""
    report = rig.handle(order_message(JOB, OTHER_ORDER))
    assert settled(report) == [("complete", None)]
    assert [(o.applied, o.detail) for o in rig.jobs.outcomes(JOB)] == [(False, "AmazonOrderNotFound")]


def test_passing_trouble_reschedules_the_message_and_records_nothing(rig: WorkerRig) -> None:
    """Amazon answering 503: the message is rescheduled (no delivery spent), the job does not count it yet."""
    rig.orders.amazon.failures[ORDER_ID] = SpApiTransientError("SP-API answered 503", status=503)
    report = rig.handle(order_message(JOB, ORDER_ID))
    assert settled(report) == [("reschedule", "SpApiUnavailable")]
    assert rig.jobs.outcomes(JOB) == []


def test_orders_beyond_getorders_share_wait_for_a_later_attempt(rig: WorkerRig) -> None:
    """With 16 getOrder tokens left, one is above the reserve of 15: the first order is read, the second is
    rescheduled without a call (notifications keep their half of the burst)."""
    rig.orders.amazon.put(amazon_order(orderId=OTHER_ORDER))
    rig.orders.amazon.get_order_tokens_available = 16
    report = rig.handle(order_message(JOB, ORDER_ID), order_message(JOB, OTHER_ORDER))
    assert settled(report) == [("complete", None), ("reschedule", "RateLimited")]
    assert rig.orders.amazon.get_order_calls == [ORDER_ID]


def test_an_applied_order_whose_outcome_cannot_be_recorded_is_rescheduled(rig: WorkerRig) -> None:
    """The job must count every order exactly: if its row cannot be written the message comes back (and
    costs a getOrder and a stale check, no second write)."""
    rig.jobs.down = True
    report = rig.handle(order_message(JOB, ORDER_ID))
    assert settled(report) == [("reschedule", "StateStorageUnavailable")]
    assert len(rig.orders.crm.written) == 1


def test_a_message_that_is_no_resync_job_is_dead_lettered_with_the_reason(rig: WorkerRig) -> None:
    """A body that is not ours (wrong kind, bad job id, not JSON): dead-lettered, naming where it is wrong."""
    report = rig.handle(
        InboundMessage("m-1", b'{"kind": "order", "jobId": "x", "amazonOrderId": "113-1234567-1234567"}'),
        InboundMessage("m-2", b"not json"),
    )
    assert [reason for _, reason in settled(report)] == ["MalformedResyncMessage"] * 2
    assert "jobId" in str(report.settlements[0].description)
    assert rig.orders.amazon.get_order_calls == []


def test_a_range_message_starts_the_backfill_job_of_the_same_id(rig: WorkerRig) -> None:
    """A date range becomes a backfill job named after the resync job; the message completes."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    report = rig.handle(range_message(JOB, start, start + timedelta(days=2)))
    assert settled(report) == [("complete", None)]
    assert rig.backfill.started == [(BackfillRange(start, start + timedelta(days=2)), JOB)]


def test_a_range_the_backfill_refuses_fails_the_job(rig: WorkerRig) -> None:
    """A permanent backfill error: the job is marked failed with it, the message completes."""
    rig.jobs.create(ResyncJobRecord(JOB, "range", 0, NOW))
    rig.backfill.failure = PermanentError("range refused", reason="BackfillRangeInvalid")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    report = rig.handle(range_message(JOB, start, start + timedelta(days=1)))
    assert settled(report) == [("complete", None)]
    assert str(rig.jobs.jobs[JOB].failure).startswith("BackfillRangeInvalid")


# --- the asking side: start and status --------------------------------------------------------------------
class RecordingQueue:
    def __init__(self, error: ServiceBusSendFailed | None = None) -> None:
        self.sent: list[OutgoingMessage] = []
        self.error = error

    def send(self, messages: Sequence[OutgoingMessage], *, timeout: float) -> SendResult:
        if self.error is not None:
            return SendResult((), (), self.error)
        self.sent.extend(messages)
        return SendResult(tuple(range(len(messages))))

    def close(self) -> None:
        pass


def asking(rig: WorkerRig, queue: RecordingQueue) -> Resync:
    ids = iter(f"{n:032x}" for n in range(1, 100))
    return Resync(
        jobs=cast(ResyncJobStore, rig.jobs),
        queue=cast(NotificationSender, queue),
        backfill=cast(OrdersBackfill, rig.backfill),
        clock=lambda: NOW,
        new_job_id=lambda: next(ids),
    )


def test_a_job_is_queued_one_message_per_distinct_order_and_reads_queued_running_done(rig: WorkerRig) -> None:
    """Three ids, one repeated: two messages; the status moves queued -> running -> done as outcomes land."""
    queue = RecordingQueue()
    resync = asking(rig, queue)
    started = resync.start_orders([ORDER_ID, OTHER_ORDER, ORDER_ID])
    assert [message.message_id for message in queue.sent] == [
        f"resync:{started.job_id}:{ORDER_ID}",
        f"resync:{started.job_id}:{OTHER_ORDER}",
    ]
    assert (started.state, started.queued) == (JobState.QUEUED, 2)
    rig.handle(queue.sent[0])
    assert resync.status(started.job_id).state is JobState.RUNNING  # type: ignore[union-attr]
    rig.handle(queue.sent[1])
    done = resync.status(started.job_id)
    assert done is not None
    assert (done.state, done.applied, done.failed) == (JobState.DONE, 1, 1)
    assert [(item.item, item.reason) for item in done.failures] == [(OTHER_ORDER, "AmazonOrderNotFound")]


def test_a_job_service_bus_refuses_is_recorded_failed_and_the_request_told(rig: WorkerRig) -> None:
    """Nothing queued: the job reads failed with why, and starting raises passing trouble (503 over HTTP)."""
    queue = RecordingQueue(ServiceBusSendFailed("Service Bus send failed", outcome_unknown=False))
    resync = asking(rig, queue)
    with pytest.raises(SyncError) as raised:
        resync.start_orders([ORDER_ID])
    assert raised.value.transient
    [job] = rig.jobs.jobs.values()
    status = resync.status(job.job_id)
    assert status is not None
    assert status.state is JobState.FAILED
    assert "0 of 1 messages queued" in str(status.note)


def test_a_range_job_reads_its_state_and_counts_from_the_backfill(rig: WorkerRig) -> None:
    """Before the resync function takes it: queued. Afterwards the backfill's status and counts."""
    resync = asking(rig, RecordingQueue())
    start = datetime(2026, 11, 1, tzinfo=UTC)
    started = resync.start_range(start, start + timedelta(days=1))
    assert started.state is JobState.QUEUED
    job: Any = rig.backfill.backfill(BackfillRange(start, start + timedelta(days=1)), job_id=started.job_id)
    job.counts.update(written=7, stale=2, failed=1)
    rig.backfill.jobs[started.job_id] = BackfillJob(**{**job.__dict__, "status": JobStatus.DONE})
    status = resync.status(started.job_id)
    assert status is not None
    assert (status.state, status.queued, status.applied, status.failed) == (JobState.DONE, 10, 9, 1)
