"""Backfill: every order Amazon changed in a date range, through the same path as the sweep (order sync's
staleness, claim and write rules), as a resumable job whose progress lives in the state table.

    backfill(range) -> BackfillJob        creates the job (idempotent per job id) and takes a first step;
                                          the sweep timer and REPORT_PROCESSING_FINISHED take the next ones

Small ranges go through searchOrders pages; large ones through Amazon's all-orders report. Which one is
decided by the first page (it is applied either way): searchOrders has no count, so the number of pages is
estimated from how much of the range the first 100 orders cover (pages come in lastUpdatedTime order).
Above REPORT_ABOVE_PAGES the report wins: searchOrders gives 10 pages at once (its share above the reserve),
then one per ~3 minutes, so 5,000 orders would take two hours of its quota; a report costs about four calls
(createReport, getReport, getReportDocument, maybe one fresh URL) whatever its size.

The report path, per segment (one report per marketplace and per REPORT_SPAN of the range):
    createReport -> REPORT_PROCESSING_FINISHED (or getReport from the timer) -> document -> orders in chunks
Progress (report id, status, lines applied) is saved after every chunk, so a crash resumes at the chunk that
was being applied; its orders are stale by then and cost no write. The flat file has no order item ids, so
an order is written from the report only when the CRM has never held it and it is final in Amazon (shipped,
cancelled): its salesorder is closed by the write, and no later write can add Amazon's own lines next to the
report's. Every other order of the report (still open, or held by the CRM in an older version, or in a row
that could not be read) is fetched with getOrder, within a share of its quota (above GET_ORDER_RESERVE).
"""

from __future__ import annotations

import copy
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from shared.amazon.order_report import (
    ALL_ORDERS_BY_LAST_UPDATE,
    ReportOrder,
    UnreadableOrder,
    read_all_orders,
)
from shared.amazon.orders import OrdersApi, latest_searchable
from shared.amazon.reports import FINISHED_STATUSES, ReportFinished, ReportsApi
from shared.errors import SyncError
from shared.flows.backfill_job import (
    JOB_KIND,
    BackfillJob,
    BackfillOptions,
    BackfillRange,
    BackfillRangeInvalid,
    JobStatus,
    Mode,
    job_id_for,
)
from shared.flows.order_pages import PageApplier, PageResult
from shared.flows.order_search import Deadline, SearchWalk, Stop, WalkResult
from shared.model.order import FINAL_RANK, Order
from shared.resilience import RateLimited
from shared.state.store import ConcurrentUpdate, StateStore
from shared.state.watermarks import FailureRecord, ProgressRow, ProgressStore, Window
from shared.timeutil import utc_now

log = logging.getLogger(__name__)

REPORT_ABOVE_PAGES = 10  # see the module docstring
CHUNK_ORDERS = 500  # orders applied (and progress saved) at a time from a report
GET_ORDER_RESERVE = 15  # half of getOrder's burst of 30 stays for notifications
MAX_REPORT_ATTEMPTS = 3  # a report that ends FATAL is requested again this often
MIN_STEP_SECONDS = 15.0
LEASE_MARGIN = timedelta(minutes=1)


class OrdersBackfill:
    def __init__(
        self,
        *,
        orders: OrdersApi,
        reports: ReportsApi,
        state: StateStore,
        progress: ProgressStore,
        pages: PageApplier,
        walk: SearchWalk,
        options: BackfillOptions,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._orders = orders
        self._reports = reports
        self._state = state
        self._progress = progress
        self._pages = pages
        self._walk = walk
        self._options = options
        self._clock = clock
        self._monotonic = monotonic

    def with_options(self, options: BackfillOptions) -> OrdersBackfill:
        """The same backfill with other options (a test's marketplaces, the benchmark's step budget)."""
        other = copy.copy(self)
        other._options = options
        return other

    # --- entry points ---------------------------------------------------------------------------------
    def backfill(self, backfill_range: BackfillRange, *, job_id: str | None = None) -> BackfillJob:
        """Start (or continue) the backfill of `backfill_range` and take one step; returns its progress."""
        start = backfill_range.start.replace(microsecond=0)
        end = min(backfill_range.end, latest_searchable(self._clock())).replace(microsecond=0)
        if start >= end:
            raise BackfillRangeInvalid(
                "the backfill range must start before it ends (and before now - 2 minutes)"
            )
        marketplaces = tuple(self._options.marketplaces)
        job_id = job_id or job_id_for(BackfillRange(start, end), marketplaces)
        row = self._progress.read(JOB_KIND, job_id)
        if row is None:
            job = BackfillJob(ProgressRow(JOB_KIND, job_id), job_id, start, end, marketplaces)
            try:
                job = self._save(job)
                log.info("Backfill %s created for %s .. %s", job_id, start.isoformat(), end.isoformat())
            except ConcurrentUpdate:  # created a moment ago by a redelivery of the same request
                row = self._progress.read(JOB_KIND, job_id)
        if row is not None:
            job = BackfillJob.of(row)
        return self._step(job, Deadline(self._options.step_seconds, clock=self._monotonic))

    def job(self, job_id: str) -> BackfillJob | None:
        row = self._progress.read(JOB_KIND, job_id)
        return BackfillJob.of(row) if row is not None else None

    def jobs(self) -> list[BackfillJob]:
        return sorted(
            (BackfillJob.of(row) for row in self._progress.read_all(JOB_KIND)),
            key=lambda job: job.start,
        )

    def resume(self, deadline: Deadline) -> list[BackfillJob]:
        """Take a step of every running job while the deadline allows (the sweep timer calls this)."""
        try:
            running = [job for job in self.jobs() if job.status is JobStatus.RUNNING]
        except SyncError as exc:
            log.warning("Backfill: cannot list jobs (%s)", exc.reason)
            return []
        stepped = []
        for job in running:
            if not deadline.allows(MIN_STEP_SECONDS):
                break
            stepped.append(self._step(job, deadline))
        return stepped

    def report_finished(self, finished: ReportFinished) -> bool:
        """REPORT_PROCESSING_FINISHED for an all-orders report: record it on its job and take a step.
        False when no running job waits for that report (created elsewhere, or already read)."""
        report = finished.report
        job = next(
            (j for j in self.jobs() if j.report_id == report.report_id and j.status is JobStatus.RUNNING),
            None,
        )
        if job is None:
            log.info(
                "Report %s finished (%s): no backfill job waits for it",
                report.report_id,
                report.processing_status,
            )
            return False
        if self._leased_elsewhere(job, owner=None):
            return True  # the run holding the job polls getReport itself
        if job.report_status not in FINISHED_STATUSES:
            job = self._save(
                replace(job, report_status=report.processing_status, document_id=report.document_id)
            )
        self._step(job, Deadline(self._options.step_seconds, clock=self._monotonic))
        return True

    # --- one step -------------------------------------------------------------------------------------
    def _step(self, job: BackfillJob, deadline: Deadline) -> BackfillJob:
        if job.status is not JobStatus.RUNNING:
            return job
        owner = uuid.uuid4().hex
        if self._leased_elsewhere(job, owner=owner):
            return job
        try:
            job = self._save(
                replace(
                    job,
                    lease_owner=owner,
                    lease_until=self._clock()
                    + timedelta(seconds=max(deadline.remaining(), 0))
                    + LEASE_MARGIN,
                )
            )
            while job.status is JobStatus.RUNNING and deadline.allows(MIN_STEP_SECONDS):
                if job.mode is Mode.PROBE:
                    job, going = self._probe(job, deadline)
                elif job.mode is Mode.SEARCH:
                    job, going = self._search(job, deadline)
                else:
                    job, going = self._report(job, deadline)
                if not going:
                    break
            return self._save(replace(job, lease_owner=None, lease_until=None))
        except ConcurrentUpdate:
            log.info("Backfill %s: another run moved the job; this step stops", job.job_id)
            return job
        except SyncError as exc:
            if exc.transient:
                log.warning("Backfill %s: passing trouble (%s); the next run goes on", job.job_id, exc.reason)
                return job
            log.error("Backfill %s failed: %s", job.job_id, exc)
            return self._save(
                replace(
                    job,
                    status=JobStatus.FAILED,
                    note=f"{exc.reason}: {exc}",
                    lease_owner=None,
                    lease_until=None,
                )
            )

    def _leased_elsewhere(self, job: BackfillJob, *, owner: str | None) -> bool:
        return (
            job.lease_until is not None
            and job.lease_until > self._clock()
            and job.lease_owner is not None
            and job.lease_owner != owner
        )

    def _save(self, job: BackfillJob) -> BackfillJob:
        saved = self._progress.save(job.to_row())
        return replace(job, row=saved)

    # --- search -----------------------------------------------------------------------------------------
    def _probe(self, job: BackfillJob, deadline: Deadline) -> tuple[BackfillJob, bool]:
        job, walked = self._walk_pages(job, Window(job.start, job.end), deadline, max_pages=1)
        if walked.pages == 0 or job.status is not JobStatus.RUNNING or walked.stop is not Stop.PAGES:
            return job, False
        estimate = estimated_pages(job.start, job.end, walked.newest_update)
        if estimate > REPORT_ABOVE_PAGES:
            note = f"first page covers too little of the range (~{estimate:.0f} pages): all-orders report"
            log.info("Backfill %s: %s", job.job_id, note)
            return self._save(replace(job, mode=Mode.REPORT, window=None, note=note)), True
        return job, True

    def _search(self, job: BackfillJob, deadline: Deadline) -> tuple[BackfillJob, bool]:
        job, walked = self._walk_pages(job, job.window or Window(job.start, job.end), deadline)
        return job, walked.stop is Stop.FINISHED

    def _walk_pages(
        self, job: BackfillJob, window: Window, deadline: Deadline, max_pages: int | None = None
    ) -> tuple[BackfillJob, WalkResult]:
        holder = [job]

        def save(following: Window | None) -> bool:
            current = holder[0]
            moved = (
                replace(current, mode=Mode.SEARCH, window=following)
                if following is not None
                else replace(
                    current, mode=Mode.SEARCH, window=None, status=JobStatus.DONE, note="all pages applied"
                )
            )
            try:
                holder[0] = self._save(moved)
            except ConcurrentUpdate:
                return False
            return True

        walked = self._walk.walk(
            window, deadline=deadline, save=save, source=f"backfill {job.job_id}", max_pages=max_pages
        )
        job = holder[0]
        if walked.counts:
            job = self._save(replace(job, counts=job.counts + _order_counts(walked.counts)))
        return job, walked

    # --- report -----------------------------------------------------------------------------------------
    def _report(self, job: BackfillJob, deadline: Deadline) -> tuple[BackfillJob, bool]:
        segments = job.segments()
        if job.segment >= len(segments):
            return self._save(replace(job, status=JobStatus.DONE, note="every report applied")), False
        data_start, data_end, marketplace = segments[job.segment]
        if job.report_id is None:
            report_id = self._reports.create_report(
                ALL_ORDERS_BY_LAST_UPDATE,
                marketplace_ids=[marketplace],
                data_start=data_start,
                data_end=data_end,
            )
            note = f"report {report_id} requested ({job.segment + 1} of {len(segments)})"
            log.info("Backfill %s: %s", job.job_id, note)
            job = replace(job, report_id=report_id, report_status="IN_QUEUE", document_id=None, lines_done=0)
            return self._save(replace(job, note=note)), False  # REPORT_PROCESSING_FINISHED or a poll goes on
        if job.report_status not in FINISHED_STATUSES:
            report = self._reports.get_report(job.report_id)
            if report.processing_status != job.report_status or report.document_id != job.document_id:
                job = self._save(
                    replace(job, report_status=report.processing_status, document_id=report.document_id)
                )
            if not report.finished:
                return job, False
        if job.report_status == "DONE" and job.document_id:
            job, complete = self._read_document(job, marketplace, deadline)
            return (self._next_segment(job) if complete else job), complete
        if job.report_status == "CANCELLED" or job.report_status == "DONE":
            # Amazon cancels a report that has no data; nothing changed in that segment.
            return self._next_segment(job), True
        attempts = job.report_attempts + 1  # FATAL
        if attempts >= MAX_REPORT_ATTEMPTS:
            note = f"report {job.report_id} ended FATAL {attempts} times"
            return self._save(
                replace(job, status=JobStatus.FAILED, note=note, report_attempts=attempts)
            ), False
        log.warning("Backfill %s: report %s ended FATAL; requesting it again", job.job_id, job.report_id)
        return self._save(replace(job, report_id=None, report_status=None, report_attempts=attempts)), True

    def _next_segment(self, job: BackfillJob) -> BackfillJob:
        return self._save(
            replace(
                job,
                segment=job.segment + 1,
                report_id=None,
                report_status=None,
                document_id=None,
                lines_done=0,
                report_attempts=0,
            )
        )

    def _read_document(
        self, job: BackfillJob, marketplace: str, deadline: Deadline
    ) -> tuple[BackfillJob, bool]:
        """Apply the report's orders chunk by chunk from where the job stands; True when all are applied."""
        assert job.document_id is not None
        longest = MIN_STEP_SECONDS
        with self._reports.open_document(job.document_id) as lines:
            for chunk in _chunks(
                read_all_orders(lines, marketplace_id=marketplace, skip_through=job.lines_done)
            ):
                if not deadline.allows(longest):
                    return job, False
                started = self._monotonic()
                result = self._apply_chunk(job, chunk, deadline)
                counts = job.counts + _order_counts(result.counts)
                if not result.done:
                    return self._save(replace(job, counts=counts)), False
                job = self._save(replace(job, lines_done=chunk[-1].last_line, counts=counts))
                longest = max(longest, self._monotonic() - started)
        return job, True

    def _apply_chunk(
        self, job: BackfillJob, chunk: Sequence[ReportOrder | UnreadableOrder], deadline: Deadline
    ) -> PageResult:
        source = f"backfill {job.job_id} report {job.report_id}"
        result = PageResult()
        own = PageResult()  # failures met here rather than in order sync (unreadable rows, getOrder)
        readable = [item.order for item in chunk if isinstance(item, ReportOrder)]
        deferred: list[str] = []
        for item in chunk:
            if isinstance(item, UnreadableOrder):
                log.warning(
                    "%s: order %s unreadable: %s", source, item.order_id or "?", "; ".join(item.errors)
                )
                own.counts["unreadable"] += 1
                if item.order_id:
                    deferred.append(item.order_id)  # getOrder tells the whole order
                else:
                    own.permanent.append(
                        FailureRecord(
                            f"{source} line {item.first_line}",
                            "ReportRowUnreadable",
                            "; ".join(item.errors),
                            source,
                        )
                    )
        try:
            checkpoints = self._state.get_orders(order.order_id for order in readable)
        except SyncError as exc:
            result.transient.update((order.order_id, exc) for order in readable)
            return result
        direct: list[Order] = []
        for order in readable:
            checkpoint = checkpoints.get(order.order_id)
            settled = checkpoint.settled if checkpoint is not None else None
            if checkpoint is None and order.status.rank == FINAL_RANK:
                direct.append(order)
            elif settled is not None and settled.amazon_updated >= order.last_updated:
                result.counts["stale"] += 1
            else:
                deferred.append(order.order_id)
        result.merge(self._pages.apply(direct, source=source))
        fetched = self._fetch(deferred, own, deadline, source)
        own.counts["fetched_with_get_order"] += len(fetched)
        result.merge(self._pages.apply(fetched, source=source))
        self._pages.record(own, source=source)
        result.merge(own)
        return result

    def _fetch(
        self, order_ids: Sequence[str], result: PageResult, deadline: Deadline, source: str
    ) -> list[Order]:
        """getOrder for orders the report cannot write, within the share above GET_ORDER_RESERVE."""
        fetched = []
        for order_id in order_ids:
            if self._orders.get_order_tokens_available < GET_ORDER_RESERVE + 1 or not deadline.allows(5.0):
                result.transient[order_id] = RateLimited("getOrder share of this run used")
                continue
            try:
                fetched.append(self._orders.get_order(order_id))
            except SyncError as exc:
                if exc.transient:
                    result.transient[order_id] = exc
                else:
                    result.permanent.append(
                        FailureRecord(order_id, exc.reason, str(exc), f"{source} getOrder")
                    )
        return fetched


def estimated_pages(start: datetime, end: datetime, newest_update: datetime | None) -> float:
    """Pages the whole range would take at the density of the first page (which ended at `newest_update`)."""
    if newest_update is None:
        return 1.0
    covered = (newest_update - start).total_seconds()
    if covered <= 0:
        return float("inf")
    return (end - start).total_seconds() / covered


def _order_counts(counts: Counter[str]) -> Counter[str]:
    wanted = (
        "written",
        "stale",
        "unchanged",
        "closed_in_crm",
        "failed",
        "unreadable",
        "fetched_with_get_order",
    )
    return Counter({name: counts[name] for name in wanted if counts[name]})


def _chunks(
    items: Iterator[ReportOrder | UnreadableOrder],
) -> Iterator[list[ReportOrder | UnreadableOrder]]:
    chunk: list[ReportOrder | UnreadableOrder] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= CHUNK_ORDERS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
