"""Orders API v2026-01-01: getOrder for single orders, searchOrders when many are wanted at once.

Why v2026-01-01: v0 getOrders/getOrder/getOrderItems are deprecated (migrate before 2027-03-27), and
v2026 returns the items with the order and needs no Restricted Data Token: one call per order instead
of three. It only returns the datasets named in `includedData`, so we ask for what the mapping needs
(SPAPI_INCLUDED_DATA).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.amazon.client import ORDERS_2026, SpApiSession
from shared.amazon.errors import SpApiPermanentError
from shared.amazon.order_translation import AmazonOrderInvalid, to_canonical
from shared.model.order import Order

# Search results lag about two minutes, and Amazon refuses a `lastUpdatedBefore` later than now - 2 min.
SEARCH_LAG = timedelta(minutes=2)
SEARCH_PAGE_SIZE = 100  # the maximum Amazon allows
# Amazon order ids are three groups of digits, 3-7-7 (113-1234567-1234567); an id from outside (an HTTP
# request) that does not look like one is refused before it costs a getOrder call.
ORDER_ID_PATTERN = r"^[0-9]{3}-[0-9]{7}-[0-9]{7}$"


def _iso(moment: datetime) -> str:  # Amazon wants second precision
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OrdersApi:
    def __init__(self, session: SpApiSession) -> None:
        self._session = session

    @property
    def search_tokens_available(self) -> float:
        """Requests searchOrders could make right now without waiting (its bucket refills very slowly)."""
        return self._session.buckets["searchOrders"].available()

    @property
    def get_order_tokens_available(self) -> float:
        return self._session.buckets["getOrder"].available()

    def get_order(self, order_id: str) -> Order:
        """The order with its items and the configured datasets."""
        included = ",".join(self._session.config.included_data)
        response = self._session.call(
            "getOrder", ORDERS_2026, lambda client: client.get_order(order_id, includedData=included)
        )
        order = (response.payload or {}).get("order")
        if not isinstance(order, dict):
            raise SpApiPermanentError("getOrder answered without an order object")
        return to_canonical(order)

    def search_orders(
        self,
        *,
        last_updated_after: datetime,
        last_updated_before: datetime | None = None,
        marketplace_ids: Sequence[str] | None = None,
        max_pages: int | None = None,
    ) -> Iterator[Order | AmazonOrderInvalid]:
        """Orders updated in the window, 100 per page; each page is rate-limited and retried on its own.
        An order Amazon sends in a form we cannot read comes as its error, so the page's others still count."""
        token: str | None = None
        pages = 0
        while True:
            page = self.search_page(
                last_updated_after=last_updated_after,
                last_updated_before=last_updated_before,
                marketplace_ids=marketplace_ids,
                pagination_token=token,
            )
            pages += 1
            yield from page.orders
            token = page.next_token
            if not token or (max_pages is not None and pages >= max_pages):
                return

    def search_page(
        self,
        *,
        last_updated_after: datetime,
        last_updated_before: datetime | None = None,
        marketplace_ids: Sequence[str] | None = None,
        pagination_token: str | None = None,
    ) -> SearchPage:
        """One page of searchOrders. A caller that keeps `next_token` between runs (it lives 24 h) must send
        the same window and marketplaces with it: Amazon refuses a token whose other parameters changed."""
        params: dict[str, Any] = {
            "lastUpdatedAfter": _iso(last_updated_after),
            # Passed explicitly: otherwise the library adds marketplace parameters of its own.
            "marketplaceIds": ",".join(marketplace_ids or self._session.config.marketplace_ids),
            "includedData": ",".join(self._session.config.included_data),
            "maxResultsPerPage": SEARCH_PAGE_SIZE,
        }
        if last_updated_before is not None:
            params["lastUpdatedBefore"] = _iso(last_updated_before)
        if pagination_token is not None:
            params["paginationToken"] = pagination_token
        try:
            response = self._session.call(
                "searchOrders", ORDERS_2026, functools.partial(_search_page, params=params)
            )
        except SpApiPermanentError as exc:
            if pagination_token is not None and exc.status == 400:
                # Why this matters: a token older than 24 h (or one Amazon no longer knows) is a 400; the
                # caller starts its window again instead of treating the whole search as broken.
                raise PaginationTokenRefused(
                    "searchOrders refused the pagination token (expired or unknown)",
                    status=400,
                    code=exc.code,
                ) from None
            raise
        payload = response.payload or {}
        return SearchPage(
            orders=tuple(_translated(raw) for raw in payload.get("orders") or []),
            next_token=response.next_token or None,
        )


@dataclass(frozen=True)
class SearchPage:
    orders: tuple[Order | AmazonOrderInvalid, ...]
    next_token: str | None  # None on the last page


class PaginationTokenRefused(SpApiPermanentError):
    reason = "PaginationTokenRefused"


def _translated(raw: Any) -> Order | AmazonOrderInvalid:
    if not isinstance(raw, dict):
        return AmazonOrderInvalid("searchOrders returned an entry that is not an order object")
    try:
        return to_canonical(raw)
    except AmazonOrderInvalid as exc:
        return exc


def _search_page(client: Any, *, params: dict[str, Any]) -> Any:
    return client.search_orders(**params)


def latest_searchable(now: datetime | None = None) -> datetime:
    """The latest `lastUpdatedBefore` Amazon accepts right now."""
    return (now or datetime.now(UTC)) - SEARCH_LAG - timedelta(seconds=5)
