"""Reading a window of searchOrders page by page, each page applied before the next is asked for, with the
page token kept so a run that must stop hands the window on to the next run.

Shared by the order sweep (a window that rolls forward behind a watermark) and the backfill (a fixed window).
Amazon's rules that shape it (why this matters, one line each):
- searchOrders refills one request per ~3 minutes after a burst of 20: the walk takes only pages above
  SEARCH_RESERVE and stops when the share is used, never waiting for a token; the reserve is what order sync
  needs when a backlog of notifications arrives (10 pages = 1,000 orders read at once);
- a page token lives 24 hours and is only valid with the same window and marketplaces: the window is fixed
  when it starts, and a token older than TOKEN_LIFETIME (or one Amazon refuses) starts the window again;
  its first pages then cost quota but no writes (their orders are stale);
- each run has a time budget, checked before every page against the longest page so far.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from shared.amazon.orders import OrdersApi, PaginationTokenRefused
from shared.errors import SyncError
from shared.flows.order_pages import PageApplier
from shared.model.order import Order
from shared.state.watermarks import Window
from shared.timeutil import utc_now

log = logging.getLogger(__name__)

# Half of searchOrders' published burst of 20 stays for order sync's backlogs (OrderFetcher reads them 100
# per page). The sweep needs one page per run in steady state, and the bucket refills ~3 per 10-minute run.
SEARCH_RESERVE = 10
# Amazon's tokens live 24 h; an hour's margin covers a run that starts just before the limit.
TOKEN_LIFETIME = timedelta(hours=23)
# Before a page: the budget must still hold the longest page seen so far, and at least this.
MIN_PAGE_SECONDS = 15.0


class Deadline:
    """A run's time budget on a monotonic clock."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends = clock() + seconds

    def remaining(self) -> float:
        return self._ends - self._clock()

    def allows(self, seconds: float) -> bool:
        return self.remaining() >= seconds


class Stop(StrEnum):
    FINISHED = "finished"  # the window's last page was applied
    TIME = "time budget"
    QUOTA = "quota share used"
    TROUBLE = "passing trouble"  # a page, or some of its orders, must be read again
    PAGES = "page limit"  # as many pages as the caller asked for
    LOST_RACE = "another run moved the progress"


@dataclass
class WalkResult:
    window: Window | None  # None when finished; otherwise where the next run goes on
    stop: Stop
    pages: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    newest_update: datetime | None = None  # the latest lastUpdatedTime seen (the backfill's estimate)
    next_token: str | None = None


# Called after each applied page with the window as it now stands (None: finished). It saves the caller's
# progress and returns False when another run changed it first (the walk then stops).
SaveProgress = Callable[[Window | None], bool]


class SearchWalk:
    def __init__(
        self,
        orders: OrdersApi,
        pages: PageApplier,
        *,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._orders = orders
        self._pages = pages
        self._clock = clock
        self._monotonic = monotonic

    def walk(
        self,
        window: Window,
        *,
        deadline: Deadline,
        save: SaveProgress,
        source: str,
        max_pages: int | None = None,
    ) -> WalkResult:
        result = WalkResult(window, Stop.FINISHED)
        if window.cursor and window.cursor_issued and self._clock() - window.cursor_issued > TOKEN_LIFETIME:
            log.info("%s: the page token is older than %s; reading the window again", source, TOKEN_LIFETIME)
            window = replace(window, cursor=None, cursor_issued=None)
        longest = MIN_PAGE_SECONDS
        while True:
            if max_pages is not None and result.pages >= max_pages:
                return self._stopped(result, window, Stop.PAGES)
            if not deadline.allows(longest):
                return self._stopped(result, window, Stop.TIME)
            if self._orders.search_tokens_available < SEARCH_RESERVE + 1:
                return self._stopped(result, window, Stop.QUOTA)
            started = self._monotonic()
            try:
                page = self._orders.search_page(
                    last_updated_after=window.start,
                    last_updated_before=window.end,
                    pagination_token=window.cursor,
                )
            except PaginationTokenRefused:
                log.warning("%s: Amazon refused the page token; reading the window again", source)
                window = replace(window, cursor=None, cursor_issued=None)
                continue
            except SyncError as exc:
                if not exc.transient:
                    raise
                log.warning("%s: searchOrders failed (%s); the next run goes on", source, exc.reason)
                return self._stopped(result, window, Stop.TROUBLE)
            result.pages += 1
            result.next_token = page.next_token
            orders = [found for found in page.orders if isinstance(found, Order)]
            if orders:
                newest = max(order.last_updated for order in orders)
                result.newest_update = max(newest, result.newest_update or newest)
            applied = self._pages.apply(page.orders, source=source)
            result.counts.update(applied.counts)
            result.counts["orders_read"] += len(page.orders)
            if not applied.done:
                return self._stopped(result, window, Stop.TROUBLE)
            following = (
                replace(window, cursor=page.next_token, cursor_issued=self._clock())
                if page.next_token
                else None
            )
            if not save(following):
                return self._stopped(result, window, Stop.LOST_RACE)
            longest = max(longest, self._monotonic() - started)
            if following is None:
                result.window = None
                return result
            window = following

    @staticmethod
    def _stopped(result: WalkResult, window: Window, stop: Stop) -> WalkResult:
        result.window = window
        result.stop = stop
        return result
