"""Resync jobs, the doing side: the resync function's flow over a batch of resync messages.

- An order message: getOrder, then order sync's `apply`, the same staleness, claim and write rules as
  notifications and the sweep, so an order the CRM already holds in Amazon's current version costs one
  getOrder and one Table Storage lookup and writes nothing. The order's outcome is recorded in its job
  (applied, or failed with the reason) and the message completed; a permanent failure is the job's to
  report, not a dead letter (resyncing it again fails the same way until someone fixes the cause).
  Passing trouble (an outage, a lost race, getOrder's share used) reschedules the message, as on the
  notifications queue; a bug abandons it, so Service Bus dead-letters it after ten deliveries.
- getOrder's share: only tokens above GET_ORDER_RESERVE (half its burst of 30), as the backfill takes, so a
  resync of many orders never starves the notifications of live orders. The rest of a batch waits.
- A range message: the backfill of the range as a job of the same id (one step here; the sweep timer
  continues it within its time budget).
- A SKU message: the CRM's current stock and prices sent to the SKU's listings again (listings_resync.py), its
  outcome recorded in its job like an order's.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.amazon.orders import OrdersApi
from shared.errors import SyncError
from shared.flows.backfill_job import BackfillRange
from shared.flows.listings_resync import ListingsResync
from shared.flows.order_fetch import OrderFetcher
from shared.flows.order_sync import Done, OrderSync, Outcome, UnexpectedFailure
from shared.flows.orders_backfill import GET_ORDER_RESERVE, OrdersBackfill
from shared.flows.resync_messages import (
    MalformedResyncMessage,
    OrderResync,
    RangeResync,
    SkuResync,
    read_message,
)
from shared.messaging import InboundMessage, Settlement
from shared.resilience import RateLimited
from shared.state.resync_jobs import ItemOutcome, ResyncJobStore
from shared.timeutil import utc_now

log = logging.getLogger(__name__)


@dataclass
class ResyncReport:
    settlements: list[Settlement] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)


class ResyncWorker:
    def __init__(
        self,
        *,
        orders: OrdersApi,
        sync: OrderSync,
        jobs: ResyncJobStore,
        backfill: OrdersBackfill,
        listings: ListingsResync,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._orders = orders
        self._listings = listings
        self._fetcher = OrderFetcher(orders, clock=clock)
        self._sync = sync
        self._jobs = jobs
        self._backfill = backfill
        self._clock = clock

    def handle(self, messages: Sequence[InboundMessage], *, invocation_id: str | None = None) -> ResyncReport:
        report = ResyncReport()
        wanted: list[tuple[InboundMessage, OrderResync]] = []
        skus: list[tuple[InboundMessage, SkuResync]] = []
        for message in messages:
            try:
                job = read_message(message.body)
            except MalformedResyncMessage as exc:
                log.warning("Resync message %s dead-lettered: %s", message.message_id, exc)
                report.counts["malformed"] += 1
                report.settlements.append(Settlement.dead_letter(message, exc.reason, str(exc)))
                continue
            if isinstance(job, RangeResync):
                self._run_range(message, job, report)
            elif isinstance(job, SkuResync):
                skus.append((message, job))
            else:
                wanted.append((message, job))
        if wanted:
            self._run_orders(wanted, report, invocation_id)
        if skus:
            settlements, counts = self._listings.run(skus, owner=invocation_id or uuid.uuid4().hex)
            report.settlements += settlements
            report.counts.update(counts)
        log.info("Resync: %s", ", ".join(f"{name}={count}" for name, count in sorted(report.counts.items())))
        return report

    # --- orders by id -------------------------------------------------------------------------------------
    def _run_orders(
        self, wanted: list[tuple[InboundMessage, OrderResync]], report: ResyncReport, owner: str | None
    ) -> None:
        outcomes = self._outcomes(list(dict.fromkeys(job.amazon_order_id for _, job in wanted)), owner)
        unrecorded = self._record(wanted, outcomes)
        for message, job in wanted:
            outcome = outcomes[job.amazon_order_id]
            if _finished(outcome) and job.job_id in unrecorded:
                outcome = unrecorded[job.job_id]  # the job must count it: run it again later
            report.settlements.append(_settlement(message, job, outcome))
            report.counts[_count_name(outcome)] += 1

    def _outcomes(self, order_ids: list[str], owner: str | None) -> dict[str, Outcome]:
        share = max(0, int(self._orders.get_order_tokens_available) - GET_ORDER_RESERVE)
        outcomes: dict[str, Outcome] = {
            order_id: RateLimited("getOrder's share for resyncs is used; the order waits its turn")
            for order_id in order_ids[share:]
        }
        fetched = self._fetcher.get_orders(order_ids[:share])
        outcomes.update(fetched.errors)
        if fetched.orders:
            try:
                outcomes.update(self._sync.apply(list(fetched.orders.values()), invocation_id=owner))
            except SyncError as exc:  # Table Storage could not even be read: nothing was written
                outcomes.update((order_id, exc) for order_id in fetched.orders)
        return outcomes

    def _record(
        self, wanted: list[tuple[InboundMessage, OrderResync]], outcomes: dict[str, Outcome]
    ) -> dict[str, SyncError]:
        """Write the finished orders' outcomes into their jobs; the jobs whose rows could not be written."""
        now = self._clock()
        by_job: dict[str, dict[str, ItemOutcome]] = defaultdict(dict)
        for _, job in wanted:
            outcome = outcomes[job.amazon_order_id]
            if _finished(outcome):
                applied = isinstance(outcome, Done)
                detail = outcome.value if isinstance(outcome, Done) else outcome.reason
                by_job[job.job_id][job.amazon_order_id] = ItemOutcome(
                    job.amazon_order_id, applied, detail, now
                )
        unrecorded: dict[str, SyncError] = {}
        for job_id, rows in by_job.items():
            try:
                self._jobs.record_outcomes(job_id, list(rows.values()))
            except SyncError as exc:
                log.warning(
                    "Resync job %s: outcomes of %d orders not recorded (%s)", job_id, len(rows), exc.reason
                )
                unrecorded[job_id] = exc
        return unrecorded

    # --- a date range -------------------------------------------------------------------------------------
    def _run_range(self, message: InboundMessage, job: RangeResync, report: ResyncReport) -> None:
        try:
            backfill = self._backfill.backfill(BackfillRange(job.start, job.end), job_id=job.job_id)
        except SyncError as exc:
            if exc.transient:
                report.counts["rescheduled"] += 1
                report.settlements.append(
                    Settlement.reschedule(message, exc.reason, str(exc), delay=exc.retry_after)
                )
                return
            log.error("Resync job %s: the range cannot be read: %s", job.job_id, exc)
            self._jobs.mark_failed(job.job_id, f"{exc.reason}: {exc}", at=self._clock())
            report.counts["failed"] += 1
            report.settlements.append(Settlement.complete(message))
            return
        log.info("Resync job %s: backfill %s after its first step", job.job_id, backfill.status.value)
        report.counts["range_started"] += 1
        report.settlements.append(Settlement.complete(message))


def _finished(outcome: Outcome) -> bool:
    """The order's resync is over: it landed (or was there already) or failed for good."""
    return isinstance(outcome, Done) or not (outcome.transient or isinstance(outcome, UnexpectedFailure))


def _settlement(message: InboundMessage, job: OrderResync, outcome: Outcome) -> Settlement:
    if isinstance(outcome, Done):
        return Settlement.complete(message)
    if isinstance(outcome, UnexpectedFailure):
        return Settlement.abandon(message, outcome.reason, str(outcome))
    if outcome.transient:
        return Settlement.reschedule(message, outcome.reason, str(outcome), delay=outcome.retry_after)
    log.warning("Resync job %s: order %s failed: %s", job.job_id, job.amazon_order_id, outcome.reason)
    return Settlement.complete(message)


def _count_name(outcome: Outcome) -> str:
    if isinstance(outcome, Done):
        return outcome.value
    if isinstance(outcome, UnexpectedFailure):
        return "abandoned"
    return "rescheduled" if outcome.transient else "failed"
