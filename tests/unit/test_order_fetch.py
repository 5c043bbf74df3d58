"""Fetching a batch's orders from Amazon at the lowest quota cost: getOrder by default, searchOrders for a
backlog while its small quota lasts, getOrder for whatever the pages miss. Amazon is an in-memory fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from shared.amazon.errors import SpApiNotFound, SpApiThrottled
from shared.amazon.order_translation import AmazonOrderInvalid
from shared.amazon.orders import OrdersApi
from shared.flows.order_fetch import SEARCH_MARGIN, FetchRequest, FetchResult, OrderFetcher
from tests.builders import amazon_order
from tests.fakes import FakeOrdersApi

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CHANGED = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
RECENT = NOW - timedelta(minutes=1)  # not searchable yet: Amazon's search lags two minutes


def order_id(index: int) -> str:
    return f"113-0000000-{index:07d}"


def amazon_with(*changed: datetime, get_order_tokens: float = 0, search_tokens: float = 20) -> FakeOrdersApi:
    """Amazon holding one order per time in `changed` (order_id(0), order_id(1), ...), each last updated then.
    getOrder's bucket is empty by default: a backlog, where searching pays."""
    amazon = FakeOrdersApi(get_order_tokens=get_order_tokens, search_tokens=search_tokens)
    amazon.put(
        *(
            amazon_order(orderId=order_id(index), lastUpdatedTime=moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
            for index, moment in enumerate(changed)
        )
    )
    return amazon


def minutes(count: int, start: datetime = CHANGED) -> list[datetime]:
    """`count` change times a minute apart from `start`."""
    return [start + timedelta(minutes=index) for index in range(count)]


def fetch(amazon: FakeOrdersApi, changed: list[datetime]) -> FetchResult:
    """Fetch order_id(i) for each i, announced as changed at changed[i]."""
    requests = [FetchRequest(order_id(index), moment, moment) for index, moment in enumerate(changed)]
    return OrderFetcher(cast(OrdersApi, amazon), clock=lambda: NOW).fetch(requests)


def test_fewer_than_ten_orders_are_read_with_get_order_only() -> None:
    """Nine orders: searchOrders' slow refill is not worth it, even with getOrder's bucket empty."""
    changed = minutes(9)
    amazon = amazon_with(*changed)

    result = fetch(amazon, changed)

    assert amazon.searches == []
    assert sorted(amazon.get_order_calls) == [order_id(index) for index in range(9)]
    assert sorted(result.orders) == [order_id(index) for index in range(9)]
    assert result.counts == {"amazon_get_order": 9}


def test_a_backlog_is_searched_and_get_order_reads_what_the_pages_miss() -> None:
    """Forty orders, two search tokens, 15 orders a page: two pages find thirty, getOrder reads the other ten,
    and the window spans just the announced changes (with the margin)."""
    changed = minutes(40)
    amazon = amazon_with(*changed, search_tokens=2)
    amazon.page_size = 15

    result = fetch(amazon, changed)

    [search] = amazon.searches
    assert (search.last_updated_after, search.last_updated_before) == (
        changed[0] - SEARCH_MARGIN,
        changed[-1] + SEARCH_MARGIN,
    )
    assert (search.max_pages, search.pages) == (2, 2)
    assert sorted(amazon.get_order_calls) == [order_id(index) for index in range(30, 40)]
    assert sorted(result.orders) == [order_id(index) for index in range(40)]
    assert result.errors == {}
    assert result.counts == {"amazon_search_hit": 30, "amazon_get_order": 10}


def test_no_search_page_is_spent_when_get_order_can_take_them_all() -> None:
    """Twelve orders and 30 getOrder tokens: search quota is kept for a real backlog."""
    changed = minutes(12)
    amazon = amazon_with(*changed, get_order_tokens=30)

    result = fetch(amazon, changed)

    assert amazon.searches == []
    assert amazon.search_tokens_available == 20
    assert len(amazon.get_order_calls) == 12
    assert len(result.orders) == 12


def test_search_stops_reading_pages_once_every_wanted_order_is_found() -> None:
    """The window also holds fifty orders nobody asked about; paging stops at the last wanted one."""
    changed = [CHANGED] * 12
    amazon = amazon_with(*changed, *[CHANGED] * 50)  # order_id(12..61) share the window, listed after ours
    amazon.page_size = 10

    result = fetch(amazon, changed)

    assert [search.pages for search in amazon.searches] == [2]
    assert amazon.get_order_calls == []
    assert sorted(result.orders) == [order_id(index) for index in range(12)]


def test_a_search_failure_falls_back_to_get_order() -> None:
    """searchOrders throttled: every order is read with getOrder instead, none fails."""
    changed = minutes(12)
    amazon = amazon_with(*changed)
    amazon.search_failure = SpApiThrottled("QuotaExceeded", rate=0.0056)

    result = fetch(amazon, changed)

    assert len(amazon.searches) == 1
    assert sorted(amazon.get_order_calls) == [order_id(index) for index in range(12)]
    assert len(result.orders) == 12
    assert result.errors == {}


def test_a_search_failing_on_a_later_page_keeps_what_earlier_pages_found() -> None:
    """Page two fails: page one's orders stand, getOrder reads the rest."""
    changed = minutes(15)
    amazon = amazon_with(*changed)
    amazon.page_size = 10
    amazon.search_failure, amazon.search_failure_page = SpApiThrottled("QuotaExceeded"), 2

    result = fetch(amazon, changed)

    assert sorted(amazon.get_order_calls) == [order_id(index) for index in range(10, 15)]
    assert result.counts == {"amazon_search_hit": 10, "amazon_get_order": 5}


def test_an_invalid_order_in_a_page_fails_only_that_order() -> None:
    """One order of the page cannot be read: it fails with AmazonOrderInvalid (no getOrder retry), the page's
    other orders are fetched."""
    changed = minutes(12)
    amazon = amazon_with(*changed)
    amazon.orders[order_id(3)]["fulfillment"] = None  # no status: not an order we can read

    result = fetch(amazon, changed)

    assert amazon.get_order_calls == []
    assert list(result.errors) == [order_id(3)]
    assert isinstance(result.errors[order_id(3)], AmazonOrderInvalid)
    assert sorted(result.orders) == [order_id(index) for index in range(12) if index != 3]


def test_a_get_order_failure_fails_only_its_order() -> None:
    """getOrder's 404 for one order is that order's error; the others are fetched."""
    changed = minutes(3)
    amazon = amazon_with(*changed)
    amazon.failures[order_id(1)] = SpApiNotFound("getOrder answered 404")

    result = fetch(amazon, changed)

    assert list(result.errors) == [order_id(1)]
    assert sorted(result.orders) == [order_id(0), order_id(2)]
    assert result.counts == {"amazon_get_order": 2}


def test_orders_changed_in_the_last_two_minutes_are_not_searched() -> None:
    """Twelve old and three recent orders: the window ends before Amazon's search lag, and the recent three
    are read with getOrder."""
    changed = [*minutes(12), RECENT, RECENT, RECENT]
    amazon = amazon_with(*changed)

    result = fetch(amazon, changed)

    [search] = amazon.searches
    assert search.last_updated_before is not None
    assert search.last_updated_before <= NOW - timedelta(minutes=2)
    assert sorted(amazon.get_order_calls) == [order_id(12), order_id(13), order_id(14)]
    assert result.counts == {"amazon_search_hit": 12, "amazon_get_order": 3}


def test_a_backlog_of_mostly_recent_orders_is_not_searched() -> None:
    """Fourteen orders but only nine old enough to search: below ten, one page would not pay; all getOrder."""
    changed = [*minutes(9), *[RECENT] * 5]
    amazon = amazon_with(*changed)

    result = fetch(amazon, changed)

    assert amazon.searches == []
    assert len(amazon.get_order_calls) == 14
    assert len(result.orders) == 14
