"""Asynchronous jobs (reports, feeds): IN_QUEUE -> IN_PROGRESS -> DONE over emulated time, and their listing.

Amazon processes reports and feeds in the background; clients poll getReport/getFeed. A job here moves on
the emulator's clock (queue and processing delays), so a test either advances its clock or calls
``finish_now`` instead of sleeping. getReports and getFeeds share the listing rules implemented here:
the type filter or a ``nextToken`` is required, and a ``nextToken`` must come alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from sandbox.http_emulator import EmulatorRequest
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.errors import invalid_input
from sandbox.spapi_emulator.params import (
    enum_list,
    int_parameter,
    iso,
    time_parameter,
)

PROCESSING_STATUSES: Final = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")
RETENTION: Final = timedelta(days=90)  # "Reports are retained for a maximum of 90 days."
DEFAULT_QUEUE_TIME: Final = timedelta(seconds=30)
DEFAULT_PROCESSING_TIME: Final = timedelta(seconds=60)
MAX_TYPES: Final = 10
MAX_MARKETPLACES: Final = 10

Outcome = Literal["DONE", "CANCELLED", "FATAL"]


@dataclass
class Job:
    job_id: str
    job_type: str
    marketplace_ids: list[str]
    created: datetime
    starts: datetime
    ends: datetime
    outcome: Outcome | None = None  # decided once, when processing ends
    cancelled_at: datetime | None = None
    document_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self, now: datetime) -> str:
        if self.cancelled_at is not None:
            return "CANCELLED"
        if now < self.starts:
            return "IN_QUEUE"
        if now < self.ends or self.outcome is None:
            return "IN_PROGRESS"
        return self.outcome

    def finish_now(self, now: datetime) -> None:
        """Test hook: make the job's processing end at `now` (or earlier, if it already has)."""
        self.starts = min(self.starts, now)
        self.ends = min(self.ends, now)


@dataclass
class JobQueue:
    """Jobs of one kind plus the callback that completes a job the first time its processing time is over."""

    ctx: EmulatorContext
    complete: Callable[[Job], None]
    queue_time: timedelta = DEFAULT_QUEUE_TIME
    processing_time: timedelta = DEFAULT_PROCESSING_TIME
    jobs: dict[str, Job] = field(default_factory=dict)

    def add(self, job_type: str, marketplace_ids: Sequence[str], **extra: Any) -> Job:
        now = self.ctx.now()
        job = Job(
            job_id=self.ctx.numeric_id(11),
            job_type=job_type,
            marketplace_ids=list(marketplace_ids),
            created=now,
            starts=now + self.queue_time,
            ends=now + self.queue_time + self.processing_time,
            extra=dict(extra),
        )
        with self.ctx.lock:
            self.jobs[job.job_id] = job
        return job

    def add_finished(
        self, job_type: str, marketplace_ids: Sequence[str], created: datetime, **extra: Any
    ) -> Job:
        """A job Amazon ran on its own (settlement reports): already DONE when it appears."""
        job = Job(
            self.ctx.numeric_id(11),
            job_type,
            list(marketplace_ids),
            created,
            created,
            created,
            extra=dict(extra),
        )
        with self.ctx.lock:
            self.jobs[job.job_id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        with self.ctx.lock:
            job = self.jobs.get(job_id)
            if job is not None:
                self._settle(job)
            return job

    def finish_now(self, job_id: str | None = None) -> None:
        """Test hook: finish one job (or all) at the current emulated time."""
        with self.ctx.lock:
            now = self.ctx.now()
            for job in self.jobs.values():
                if job_id is None or job.job_id == job_id:
                    job.finish_now(now)
                    self._settle(job)

    def all(self) -> list[Job]:
        with self.ctx.lock:
            for job in self.jobs.values():
                self._settle(job)
            return list(self.jobs.values())

    def _settle(self, job: Job) -> None:
        if job.outcome is None and job.cancelled_at is None and self.ctx.now() >= job.ends:
            self.complete(job)
            if job.outcome is None:
                job.outcome = "DONE"


@dataclass(frozen=True)
class JobFilter:
    types: frozenset[str]
    statuses: frozenset[str]
    marketplace_ids: frozenset[str]
    since: datetime
    until: datetime
    page_size: int

    def matches(self, job: Job, now: datetime) -> bool:
        return (
            job.job_type in self.types
            and (not self.statuses or job.status(now) in self.statuses)
            and (not self.marketplace_ids or bool(self.marketplace_ids & set(job.marketplace_ids)))
            and self.since <= job.created <= self.until
        )


def listing_parameters(types_parameter: str) -> tuple[str, ...]:
    """The query parameters of getReports (reportTypes) / getFeeds (feedTypes)."""
    return (
        types_parameter,
        "processingStatuses",
        "marketplaceIds",
        "pageSize",
        "createdSince",
        "createdUntil",
        "nextToken",
    )


def job_filter(request: EmulatorRequest, now: datetime, *, types_parameter: str) -> JobFilter:
    """getReports / getFeeds filters, with Amazon's defaults (90 days back, 10 per page)."""
    types = request.query_list(types_parameter)
    if not types:
        raise invalid_input(f"Either {types_parameter} or nextToken is required.")
    if len(types) > MAX_TYPES:
        raise invalid_input(f"{types_parameter} accepts at most {MAX_TYPES} values.")
    marketplace_ids = request.query_list("marketplaceIds")
    if len(marketplace_ids) > MAX_MARKETPLACES:
        raise invalid_input(f"marketplaceIds accepts at most {MAX_MARKETPLACES} values.")
    since = time_parameter(request, "createdSince") or now - RETENTION
    until = time_parameter(request, "createdUntil") or now
    if since > until:
        raise invalid_input("createdSince must be before createdUntil.")
    return JobFilter(
        types=frozenset(types),
        statuses=frozenset(enum_list(request, "processingStatuses", PROCESSING_STATUSES)),
        marketplace_ids=frozenset(marketplace_ids),
        since=since,
        until=until,
        page_size=int_parameter(request, "pageSize", low=1, high=100, default=10),
    )


def only_next_token(request: EmulatorRequest) -> str | None:
    """The nextToken when paging; Amazon refuses any other parameter next to it."""
    token = request.query_value("nextToken")
    if token is None:
        return None
    # python-amazon-sp-api adds nothing when paging these operations (it checks for nextToken first).
    others = sorted(set(request.query) - {"nextToken"})
    if others:
        raise invalid_input(f"nextToken must be the only parameter; also got {', '.join(others)}.")
    return token


def job_times(job: Job, now: datetime) -> dict[str, str]:
    """processingStartTime / processingEndTime as far as the job has come."""
    times = {}
    status = job.status(now)
    if status not in ("IN_QUEUE",) and job.cancelled_at is None:
        times["processingStartTime"] = iso(job.starts)
    if status in ("DONE", "FATAL"):
        times["processingEndTime"] = iso(job.ends)
    return times


class JobPager:
    """getReports / getFeeds paging: newest first; a nextToken replays the first call's filters."""

    def __init__(self, ctx: EmulatorContext, types_parameter: str) -> None:
        self._ctx = ctx
        self._types_parameter = types_parameter
        self._pages: dict[str, tuple[JobFilter, int]] = {}

    def reset(self) -> None:
        with self._ctx.lock:
            self._pages.clear()

    def listing(
        self, request: EmulatorRequest, queue: JobQueue, key: str, render: Callable[[Job], dict[str, Any]]
    ) -> dict[str, Any]:
        """The getReports / getFeeds body: the page's jobs under `key`, and nextToken if more remain."""
        jobs, next_token = self.page(request, queue)
        body: dict[str, Any] = {key: [render(job) for job in jobs]}
        if next_token:
            body["nextToken"] = next_token
        return body

    def page(self, request: EmulatorRequest, queue: JobQueue) -> tuple[list[Job], str | None]:
        now = self._ctx.now()
        token = only_next_token(request)
        with self._ctx.lock:
            if token is not None:
                state = self._pages.get(token)
                if state is None:
                    raise invalid_input("The nextToken is invalid or has expired.")
                flt, offset = state
            else:
                flt, offset = job_filter(request, now, types_parameter=self._types_parameter), 0
            found = sorted(
                (job for job in queue.all() if flt.matches(job, now)),
                key=lambda j: (j.created, j.job_id),
                reverse=True,
            )
            page = found[offset : offset + flt.page_size]
            next_token = None
            if offset + flt.page_size < len(found):
                next_token = self._ctx.token(40)
                self._pages[next_token] = (flt, offset + flt.page_size)
            return page, next_token
