"""The order sweep: the safety net under notifications. Every ORDERS_SWEEP_SCHEDULE (10 minutes) it reads
searchOrders for the orders Amazon changed since the last sweep and applies them through order sync, so an
order whose notification was lost (a subscription gap, a purged queue, an outage longer than SQS keeps
messages) still lands, and one whose notification did arrive costs nothing (it is stale).

The watermark (state table, row p-orders-sweep/orders-sweep) says "every change up to here is applied":
- a run reads the window (watermark - OVERLAP, now - Amazon's data lag], page by page; the page token and
  the window are saved after every applied page, so a run that must stop (time budget, quota share,
  passing trouble) hands the rest to the next run, which sends the same window with the token;
- the watermark moves to the window's end only after its last page is applied. A crash between applying a
  page and saving the token makes the next run read that page again: its orders are stale by then and cost
  no write (order sync's checkpoints decide, as they do for notifications);
- orders that fail permanently are recorded (flows/order_pages.py) and passed; a page with passing trouble is
  read again next run, so the watermark never moves past an order that may still land.

Before reading, the run is skipped with a log line when a dependency's circuit breaker is open; afterwards
the rest of its time budget goes to backfill jobs (flows/orders_backfill.py), which is also where report
jobs are polled when their REPORT_PROCESSING_FINISHED notification does not come.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.amazon.orders import latest_searchable
from shared.errors import SyncError
from shared.flows.order_search import Deadline, SearchWalk, Stop
from shared.state.store import ConcurrentUpdate
from shared.state.watermarks import ProgressStore, Watermark, Window
from shared.timeutil import utc_now

if TYPE_CHECKING:
    from shared.flows.backfill_job import BackfillJob
    from shared.flows.orders_backfill import OrdersBackfill

log = logging.getLogger(__name__)

SWEEP_KIND = SWEEP_NAME = "orders-sweep"
# Amazon's data lag is "about" two minutes: an order indexed a little late still falls in the next window.
OVERLAP = timedelta(minutes=5)
# A watermark this far behind means the sweep keeps stopping early (quota, trouble): say so every run.
BEHIND_WARNING = timedelta(hours=1)


@dataclass(frozen=True)
class SweepOptions:
    max_seconds: float = 240.0  # the run's time budget; the Functions timeout is 10 minutes
    first_lookback: timedelta = timedelta(hours=24)  # where the very first sweep starts


@dataclass
class SweepReport:
    skipped: bool = False
    stop: Stop | None = None
    pages: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    watermark: datetime | None = None
    backfill: list[BackfillJob] = field(default_factory=list)


class OrdersSweep:
    def __init__(
        self,
        *,
        walk: SearchWalk,
        progress: ProgressStore,
        options: SweepOptions,
        backfill: OrdersBackfill | None = None,
        blocked: Callable[[], bool] = lambda: False,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._walk = walk
        self._progress = progress
        self._options = options
        self._backfill = backfill
        # True when a dependency's circuit breaker is open (it logs which); the run is skipped then.
        self._blocked = blocked
        self._clock = clock
        self._monotonic = monotonic

    def run(self) -> SweepReport:
        if self._blocked():
            return SweepReport(skipped=True)
        deadline = Deadline(self._options.max_seconds, clock=self._monotonic)
        report = self._sweep(deadline)
        if self._backfill is not None:
            report.backfill = self._backfill.resume(deadline)
        log.info(
            "orders_sweep run: stop=%s pages=%d watermark=%s %s; backfill jobs=%d",
            report.stop.value if report.stop else "-",
            report.pages,
            report.watermark.isoformat() if report.watermark else "-",
            ", ".join(f"{name}={count}" for name, count in sorted(report.counts.items())),
            len(report.backfill),
        )
        return report

    def _sweep(self, deadline: Deadline) -> SweepReport:
        report = SweepReport()
        now = self._clock()
        try:
            row = self._progress.read(SWEEP_KIND, SWEEP_NAME)
        except SyncError as exc:
            log.warning("orders_sweep: cannot read its watermark (%s); run skipped", exc.reason)
            report.stop = Stop.TROUBLE
            return report
        watermark = (
            Watermark.of(row)
            if row is not None
            else Watermark.new(SWEEP_KIND, SWEEP_NAME, now - self._options.first_lookback)
        )
        if now - watermark.position > BEHIND_WARNING:
            log.warning("orders_sweep: the watermark is %s behind", now - watermark.position)
        window = watermark.window or self._next_window(watermark, now)
        if window is None:
            report.watermark = watermark.position
            report.stop = Stop.FINISHED
            return report
        state = {"watermark": watermark}

        def save(following: Window | None) -> bool:
            current = state["watermark"]
            moved = (
                replace(current, window=following)
                if following is not None
                else replace(current, position=window.end, window=None)
            )
            try:
                saved = self._progress.save(moved.to_row(Updated=self._clock()))
            except ConcurrentUpdate:
                return False
            state["watermark"] = replace(moved, row=saved)
            return True

        try:
            walked = self._walk.walk(window, deadline=deadline, save=save, source="orders_sweep")
        except SyncError as exc:  # Amazon refused the search itself: a configuration problem, say it loudly
            log.error("orders_sweep: searchOrders refused (%s): %s", exc.reason, exc)
            raise
        report.stop, report.pages, report.counts = walked.stop, walked.pages, walked.counts
        report.watermark = state["watermark"].position
        return report

    @staticmethod
    def _next_window(watermark: Watermark, now: datetime) -> Window | None:
        """(watermark - OVERLAP, latest searchable], whole seconds (the token must meet the same values)."""
        end = latest_searchable(now).replace(microsecond=0)
        if end <= watermark.position:
            return None
        return Window((watermark.position - OVERLAP).replace(microsecond=0), end)
