"""Fetching orders from Amazon for a batch of notifications, at the lowest quota cost.

getOrder is the default: one call per order, a burst of 30 and 0.5 per second after that. When a batch
holds more orders than getOrder's bucket can serve right away (a backlog), searchOrders reads them 100 per
page while its own small quota lasts (a burst of 20 pages, then one per three minutes). Orders changed in the
last two minutes are not searchable yet (Amazon's data lag); they, like any the pages miss, are read with
getOrder, several side by side under the shared token bucket.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.amazon.order_translation import AmazonOrderInvalid
from shared.amazon.orders import OrdersApi, latest_searchable
from shared.errors import SyncError
from shared.model.order import Order
from shared.timeutil import utc_now

log = logging.getLogger(__name__)

# Below this many orders getOrder is the better deal: searchOrders refills one request per ~3 minutes.
SEARCH_MIN_ORDERS = 10
# Notification time and Amazon's lastUpdatedTime of the same change can differ by a little.
SEARCH_MARGIN = timedelta(seconds=5)
# Parallel getOrder calls per invocation (Amazon's getOrder burst is 30).
FETCH_CONCURRENCY = 8


@dataclass(frozen=True)
class FetchRequest:
    order_id: str
    oldest_change: datetime  # the span of the changes the notifications announced
    newest_change: datetime


@dataclass
class FetchResult:
    orders: dict[str, Order] = field(default_factory=dict)
    errors: dict[str, SyncError] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)


class OrderFetcher:
    def __init__(self, orders: OrdersApi, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._orders = orders
        self._clock = clock

    def fetch(self, requests: Sequence[FetchRequest]) -> FetchResult:
        result = FetchResult()
        if len(requests) >= SEARCH_MIN_ORDERS:
            self._search(requests, result)
        remaining = [
            request.order_id
            for request in requests
            if request.order_id not in result.orders and request.order_id not in result.errors
        ]
        self.get_orders(remaining, result)
        return result

    def get_orders(self, order_ids: Sequence[str], result: FetchResult | None = None) -> FetchResult:
        """getOrder for each id, several side by side under the shared token bucket (resync uses this too)."""
        result = result if result is not None else FetchResult()
        if order_ids:
            with ThreadPoolExecutor(max_workers=min(FETCH_CONCURRENCY, len(order_ids))) as pool:
                answers = list(pool.map(self._get_order, order_ids))
            for order_id, answer in zip(order_ids, answers, strict=True):
                if isinstance(answer, SyncError):
                    result.errors[order_id] = answer
                else:
                    result.orders[order_id] = answer
                    result.counts["amazon_get_order"] += 1
        return result

    def _get_order(self, order_id: str) -> Order | SyncError:
        try:
            return self._orders.get_order(order_id)
        except SyncError as exc:
            return exc

    def _search(self, requests: Sequence[FetchRequest], result: FetchResult) -> None:
        before = latest_searchable(self._clock())
        searchable = {request.order_id: request for request in requests if request.newest_change <= before}
        pages = int(self._orders.search_tokens_available)
        if len(searchable) < SEARCH_MIN_ORDERS or pages < 1:
            return
        if len(requests) <= self._orders.get_order_tokens_available:
            return  # getOrder can take them all now; keep search pages for when it cannot
        after = min(request.oldest_change for request in searchable.values()) - SEARCH_MARGIN
        # A window just wide enough for the wanted orders keeps unrelated orders off the pages.
        before = min(before, max(request.newest_change for request in searchable.values()) + SEARCH_MARGIN)
        missing = set(searchable)
        try:
            for found in self._orders.search_orders(
                last_updated_after=after, last_updated_before=before, max_pages=pages
            ):
                order_id = found.order_id if isinstance(found, Order) else found.order_id or ""
                if order_id not in missing:
                    continue
                if isinstance(found, AmazonOrderInvalid):
                    result.errors[order_id] = found
                else:
                    result.orders[order_id] = found
                missing.discard(order_id)
                result.counts["amazon_search_hit"] += 1
                if not missing:
                    break
        except SyncError as exc:
            log.warning("searchOrders failed (%s); falling back to getOrder", type(exc).__name__)
