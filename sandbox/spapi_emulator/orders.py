"""Orders API v2026-01-01: ``getOrder`` and ``searchOrders`` over an in-memory order store.

After Amazon's model ``orders_2026-01-01.json``: only the ``includedData`` datasets asked for are returned;
searchOrders takes exactly one of createdAfter / lastUpdatedAfter, hides the last ~2 minutes (data lag),
pages 100 orders at a time with pagination tokens that live 24 h and must be replayed with the same filters.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, get_args

from sandbox.amazon_samples import FulfillmentStatus
from sandbox.http_emulator import EmulatorRequest, EmulatorResponse
from sandbox.spapi_emulator.context import EmulatorContext
from sandbox.spapi_emulator.errors import invalid_input, not_found
from sandbox.spapi_emulator.params import (
    int_parameter,
    iso,
    parse_time,
    time_parameter,
)
from sandbox.spapi_emulator.routes import Access, Route

GET_ORDER: Final = "getOrder"
SEARCH_ORDERS: Final = "searchOrders"
ORDERS_PATH: Final = "/orders/2026-01-01/orders"

PAGINATION_TOKEN_LIFETIME: Final = timedelta(hours=24)
DATA_LAG: Final = timedelta(minutes=2)  # "at least two minutes before the time of the request"

# The includedData enum of both operations, and where each dataset lives in an Order.
INCLUDED_DATA: Final = (
    "BUYER",
    "RECIPIENT",
    "PROCEEDS",
    "EXPENSE",
    "PROMOTION",
    "CANCELLATION",
    "FULFILLMENT",
    "PACKAGES",
    "TAX",
    "PAYMENT",
    "FULFILLMENT_ORDERS",
)
ORDER_DATASET_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "BUYER": ("buyer",),
    "RECIPIENT": ("recipient",),
    "PROCEEDS": ("proceeds",),
    "FULFILLMENT": ("fulfillment",),
    "PACKAGES": ("packages",),
    "TAX": ("tax",),
    "PAYMENT": ("payment",),
    "FULFILLMENT_ORDERS": ("fulfillmentOrders",),
}
ITEM_DATASET_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "PROCEEDS": ("proceeds",),
    "EXPENSE": ("expense",),
    "PROMOTION": ("promotion",),
    "CANCELLATION": ("cancellation",),
    "FULFILLMENT": ("fulfillment",),
    "TAX": ("tax",),
}
FULFILLMENT_STATUSES: Final = frozenset(get_args(FulfillmentStatus))
FULFILLED_BY: Final = frozenset({"MERCHANT", "AMAZON"})
MAX_MARKETPLACE_IDS: Final = 50
MAX_RESULTS_PER_PAGE: Final = 100

SEARCH_PARAMETERS: Final = frozenset(
    {
        "createdAfter",
        "createdBefore",
        "lastUpdatedAfter",
        "lastUpdatedBefore",
        "fulfillmentStatuses",
        "marketplaceIds",
        "fulfilledBy",
        "maxResultsPerPage",
        "paginationToken",
        "includedData",
    }
)
GET_ORDER_PARAMETERS: Final = frozenset({"includedData"})


def filter_datasets(order: Mapping[str, Any], included: Iterable[str]) -> dict[str, Any]:
    """A deep copy of a full order holding only the requested includedData datasets (items always stay)."""
    wanted = set(included)
    result = copy.deepcopy(dict(order))
    for dataset, fields in ORDER_DATASET_FIELDS.items():
        if dataset not in wanted:
            for name in fields:
                result.pop(name, None)
    for item in result.get("orderItems", []):
        for dataset, fields in ITEM_DATASET_FIELDS.items():
            if dataset not in wanted:
                for name in fields:
                    item.pop(name, None)
    return result


class OrderStore:
    """Full v2026 orders by id (every dataset present) plus queued stale versions for eventual consistency."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self._ctx = ctx
        self._orders: dict[str, dict[str, Any]] = {}
        self._stale: dict[str, deque[dict[str, Any]]] = {}

    def put(self, order: Mapping[str, Any]) -> None:
        order_id = order.get("orderId")
        if not isinstance(order_id, str) or not order_id:
            raise ValueError("an order needs a string orderId")
        for name in ("createdTime", "lastUpdatedTime"):
            parse_time(str(order.get(name)))  # fail here, not inside a request
        with self._ctx.lock:
            self._orders[order_id] = copy.deepcopy(dict(order))

    def get(self, order_id: str) -> dict[str, Any] | None:
        with self._ctx.lock:
            stored = self._orders.get(order_id)
            return copy.deepcopy(stored) if stored is not None else None

    def remove(self, order_id: str) -> None:
        with self._ctx.lock:
            self._orders.pop(order_id, None)
            self._stale.pop(order_id, None)

    def clear(self) -> None:
        with self._ctx.lock:
            self._orders.clear()
            self._stale.clear()

    def all(self) -> list[dict[str, Any]]:
        with self._ctx.lock:
            return [copy.deepcopy(self._orders[key]) for key in sorted(self._orders)]

    def stale_reads(self, order_id: str, previous_version: Mapping[str, Any]) -> None:
        with self._ctx.lock:
            self._stale.setdefault(order_id, deque()).append(copy.deepcopy(dict(previous_version)))

    def read_for_get_order(self, order_id: str) -> dict[str, Any] | None:
        """The order as getOrder sees it: a queued stale version first, if any."""
        with self._ctx.lock:
            stale = self._stale.get(order_id)
            order = stale.popleft() if stale else self._orders.get(order_id)
            if stale is not None and not stale:
                del self._stale[order_id]
            return copy.deepcopy(order) if order is not None else None

    def live(self) -> dict[str, dict[str, Any]]:
        """The stored orders themselves (callers hold the context lock and must not leak them)."""
        return self._orders


@dataclass(frozen=True)
class _SearchQuery:
    time_field: str  # "createdTime" or "lastUpdatedTime"
    after: datetime
    before: datetime | None  # as given; None means "now - 2 minutes"
    marketplace_ids: frozenset[str]
    fulfillment_statuses: frozenset[str]
    fulfilled_by: frozenset[str]

    @property
    def before_parameter(self) -> str:
        return "createdBefore" if self.time_field == "createdTime" else "lastUpdatedBefore"

    @property
    def after_parameter(self) -> str:
        return "createdAfter" if self.time_field == "createdTime" else "lastUpdatedAfter"


@dataclass(frozen=True)
class _PageState:
    query: _SearchQuery
    effective_before: datetime
    order_ids: tuple[str, ...]
    offset: int
    issued_at: datetime


class OrdersApi:
    def __init__(self, ctx: EmulatorContext, store: OrderStore) -> None:
        self._ctx = ctx
        self._store = store
        self._pages: dict[str, _PageState] = {}

    def routes(self) -> list[Route]:
        return [
            Route(SEARCH_ORDERS, "GET", ORDERS_PATH, Access.SELLER, self.search_orders, SEARCH_PARAMETERS),
            Route(
                GET_ORDER,
                "GET",
                ORDERS_PATH + "/{orderId}",
                Access.SELLER,
                self.get_order,
                GET_ORDER_PARAMETERS,
            ),
        ]

    def reset(self) -> None:
        with self._ctx.lock:
            self._pages.clear()

    # --- getOrder ---------------------------------------------------------------------------------------
    def get_order(self, request: EmulatorRequest, path: Mapping[str, str]) -> EmulatorResponse:
        included = _included_data(request)
        order_id = path["orderId"]
        order = self._store.read_for_get_order(order_id)
        if order is None:
            raise not_found(f"Order {order_id} was not found.")
        return EmulatorResponse.json(200, {"order": filter_datasets(order, included)})

    # --- searchOrders -----------------------------------------------------------------------------------
    def search_orders(self, request: EmulatorRequest, _: Mapping[str, str]) -> EmulatorResponse:
        included = _included_data(request)
        page_size = int_parameter(
            request, "maxResultsPerPage", low=1, high=MAX_RESULTS_PER_PAGE, default=MAX_RESULTS_PER_PAGE
        )
        query = _search_query(request)
        token = request.query_value("paginationToken")
        with self._ctx.lock:
            now = self._ctx.now()
            if token is not None:
                state = self._pages.get(token)
                if state is None or now - state.issued_at > PAGINATION_TOKEN_LIFETIME:
                    raise invalid_input("The paginationToken is invalid or has expired.")
                if state.query != query:
                    raise invalid_input(
                        "The request parameters do not match the request that returned this paginationToken: "
                        "repeat the original search parameters (only maxResultsPerPage and includedData "
                        "may change)."
                    )
            else:
                state = self._start_search(query, now)
            orders = self._store.live()
            ids = state.order_ids[state.offset : state.offset + page_size]
            body: dict[str, Any] = {
                "orders": [filter_datasets(orders[i], included) for i in ids if i in orders]
            }
            next_offset = state.offset + len(ids)
            if next_offset < len(state.order_ids):
                next_token = self._ctx.token(43)
                self._pages[next_token] = _PageState(
                    query, state.effective_before, state.order_ids, next_offset, now
                )
                body["pagination"] = {"nextToken": next_token}
            body[query.before_parameter] = iso(state.effective_before)
            for key in [k for k, v in self._pages.items() if now - v.issued_at > PAGINATION_TOKEN_LIFETIME]:
                del self._pages[key]
        return EmulatorResponse.json(200, body)

    def _start_search(self, query: _SearchQuery, now: datetime) -> _PageState:
        latest = now - DATA_LAG
        if query.before is not None:
            if query.before < query.after:
                raise invalid_input(
                    f"{query.before_parameter} must be equal to or after {query.after_parameter}."
                )
            if query.before > latest:
                raise invalid_input(
                    f"{query.before_parameter} must be at least two minutes before the time of the request."
                )
            effective_before = query.before
        else:
            effective_before = latest.replace(microsecond=0)
        matches = []
        for order in self._store.live().values():
            moment = parse_time(str(order[query.time_field]))
            if not query.after <= moment <= effective_before:
                continue
            channel = order.get("salesChannel") or {}
            if query.marketplace_ids and channel.get("marketplaceId") not in query.marketplace_ids:
                continue
            fulfillment = order.get("fulfillment") or {}
            if (
                query.fulfillment_statuses
                and fulfillment.get("fulfillmentStatus") not in query.fulfillment_statuses
            ):
                continue
            if query.fulfilled_by and fulfillment.get("fulfilledBy") not in query.fulfilled_by:
                continue
            matches.append((moment, str(order["orderId"])))
        matches.sort()
        return _PageState(query, effective_before, tuple(order_id for _, order_id in matches), 0, now)


def _included_data(request: EmulatorRequest) -> frozenset[str]:
    values = request.query_list("includedData")
    invalid = sorted({value for value in values if value not in INCLUDED_DATA})
    if invalid:
        raise invalid_input(
            f"Invalid includedData value(s): {', '.join(invalid)}. Valid values: {', '.join(INCLUDED_DATA)}."
        )
    return frozenset(values)


def _search_query(request: EmulatorRequest) -> _SearchQuery:
    times = {
        name: time_parameter(request, name)
        for name in ("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore")
    }
    created_after, last_updated_after = times["createdAfter"], times["lastUpdatedAfter"]
    if (created_after is None) == (last_updated_after is None):
        which = "both were" if created_after is not None else "neither was"
        raise invalid_input(
            f"Exactly one of createdAfter and lastUpdatedAfter must be provided; {which} given."
        )
    if created_after is not None:
        if times["lastUpdatedBefore"] is not None:
            raise invalid_input(
                "lastUpdatedBefore can only be used with lastUpdatedAfter, not with createdAfter."
            )
        time_field, after, before = "createdTime", created_after, times["createdBefore"]
    else:
        if times["createdBefore"] is not None:
            raise invalid_input(
                "createdBefore can only be used with createdAfter, not with lastUpdatedAfter."
            )
        assert last_updated_after is not None
        time_field, after, before = "lastUpdatedTime", last_updated_after, times["lastUpdatedBefore"]

    marketplace_ids = request.query_list("marketplaceIds")
    if len(marketplace_ids) > MAX_MARKETPLACE_IDS:
        raise invalid_input(
            f"marketplaceIds accepts at most {MAX_MARKETPLACE_IDS} values; {len(marketplace_ids)} given."
        )
    statuses = request.query_list("fulfillmentStatuses")
    bad_statuses = sorted(set(statuses) - FULFILLMENT_STATUSES)
    if bad_statuses:
        raise invalid_input(f"Invalid fulfillmentStatuses value(s): {', '.join(bad_statuses)}.")
    fulfilled_by = request.query_list("fulfilledBy")
    bad_fulfilled_by = sorted(set(fulfilled_by) - FULFILLED_BY)
    if bad_fulfilled_by:
        raise invalid_input(f"Invalid fulfilledBy value(s): {', '.join(bad_fulfilled_by)}.")
    return _SearchQuery(
        time_field=time_field,
        after=after,
        before=before,
        marketplace_ids=frozenset(marketplace_ids),
        fulfillment_statuses=frozenset(statuses),
        fulfilled_by=frozenset(fulfilled_by),
    )
