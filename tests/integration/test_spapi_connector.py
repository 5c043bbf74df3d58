"""The SP-API connector over real sockets, against the SP-API + LWA emulator."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.amazon_samples import OrderFactory
from sandbox.http_emulator import Fault, FaultPlan
from sandbox.spapi_emulator import SpApiEmulator
from shared.amazon.client import RATE_MARGIN, SpApiConfig, SpApiSession
from shared.amazon.errors import SpApiAuthError, SpApiNotFound, SpApiThrottled, SpApiTransientError
from shared.amazon.orders import OrdersApi
from shared.resilience import RateLimited, RetryPolicy
from tests.fakes import RecordingSleep

pytestmark = pytest.mark.sockets

DATASETS = ("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "CANCELLATION")


@pytest.fixture
def emulator() -> Iterator[SpApiEmulator]:
    with SpApiEmulator() as running:
        yield running


def _forget_lwa_tokens() -> None:
    module = sys.modules.get("sp_api.auth.access_token_client")
    if module is not None:
        module.cache.clear()


def session_for(
    emulator: SpApiEmulator,
    *,
    secret: str | None = None,
    sleep: RecordingSleep | None = None,
    attempts: int = 4,
) -> SpApiSession:
    _forget_lwa_tokens()
    config = SpApiConfig(
        endpoint=emulator.base_url,
        token_url=f"{emulator.base_url}/auth/o2/token",
        refresh_token=emulator.refresh_token,
        client_id=emulator.client_id,
        client_secret=secret or emulator.client_secret,
        marketplace_ids=("ATVPDKIKX0DER",),
        included_data=DATASETS,
        timeout=5.0,
    )
    return SpApiSession(
        config,
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.02),
        sleep=sleep or RecordingSleep(),
    )


def test_get_order_returns_the_order_with_items_and_asked_datasets(emulator: SpApiEmulator) -> None:
    """getOrder v2026-01-01: one call, items included, only the configured datasets."""
    order = OrderFactory(seed=1).order(status="UNSHIPPED", fulfilled_by="MERCHANT")
    emulator.put_order(order.to_api())
    session = session_for(emulator)
    fetched = OrdersApi(session).get_order(order.order_id)
    assert fetched.order_id == order.order_id
    assert len(fetched.lines) == len(order.items)
    assert fetched.buyer is not None  # BUYER was asked for, so the emulator sent it
    assert fetched.grand_total is not None  # PROCEEDS too
    assert session.calls["getOrder"] == 1
    assert emulator.requests.snapshot() == {"lwa.token": 1, "getOrder": 1}


def test_login_with_amazon_tokens_are_reused(emulator: SpApiEmulator) -> None:
    """One LWA token serves many calls (it lives an hour)."""
    orders = OrderFactory(seed=2).orders(3)
    for order in orders:
        emulator.put_order(order.to_api())
    api = OrdersApi(session_for(emulator))
    for order in orders:
        api.get_order(order.order_id)
    assert emulator.requests.snapshot() == {"lwa.token": 1, "getOrder": 3}


def test_rejected_credentials_are_a_permanent_auth_error(emulator: SpApiEmulator) -> None:
    """A wrong client secret is SpApiAuthError naming the settings to check, not a retry loop."""
    with pytest.raises(SpApiAuthError, match="SPAPI_LWA_CLIENT_SECRET") as error:
        OrdersApi(session_for(emulator, secret="wrong")).get_order("113-0000000-0000000")
    assert "wrong" not in str(error.value)
    assert emulator.requests.total(["lwa.token"]) == 1


def test_unknown_orders_are_not_found(emulator: SpApiEmulator) -> None:
    """404 is SpApiNotFound (permanent), after one attempt."""
    with pytest.raises(SpApiNotFound):
        OrdersApi(session_for(emulator)).get_order("113-0000000-0000000")
    assert emulator.requests.total(["getOrder"]) == 1


@pytest.mark.parametrize("fault", [Fault.THROTTLE, Fault.UNAVAILABLE, Fault.SERVER_ERROR, Fault.DROP])
def test_transient_failures_are_retried(emulator: SpApiEmulator, fault: Fault) -> None:
    """429 QuotaExceeded, 503, 500 and a dropped connection are retried; the call then succeeds."""
    order = OrderFactory(seed=3).order(status="UNSHIPPED")
    emulator.put_order(order.to_api())
    emulator.faults = FaultPlan(operations=frozenset({"getOrder"}))
    emulator.faults.script(fault, fault)
    assert OrdersApi(session_for(emulator)).get_order(order.order_id).order_id == order.order_id
    assert emulator.requests.total(["getOrder"]) == 3


def test_retries_are_bounded(emulator: SpApiEmulator) -> None:
    """A service that stays down surfaces a transient error after the configured attempts."""
    emulator.faults = FaultPlan(rate=1.0, kinds=(Fault.UNAVAILABLE,), operations=frozenset({"getOrder"}))
    with pytest.raises(SpApiTransientError) as error:
        OrdersApi(session_for(emulator, attempts=3)).get_order("113-0000000-0000000")
    assert error.value.transient
    assert emulator.requests.total(["getOrder"]) == 3


def test_throttling_follows_the_rate_header(emulator: SpApiEmulator) -> None:
    """A 429 carries x-amzn-RateLimit-Limit: the bucket takes that rate and waits 1/rate before retrying."""
    order = OrderFactory(seed=4).order(status="UNSHIPPED")
    emulator.put_order(order.to_api())
    emulator.faults = FaultPlan(operations=frozenset({"getOrder"}))
    emulator.faults.script(Fault.THROTTLE)
    sleep = RecordingSleep()
    session = session_for(emulator, sleep=sleep)
    OrdersApi(session).get_order(order.order_id)
    rate = session.buckets["getOrder"].rate
    assert rate == pytest.approx(
        0.5 * RATE_MARGIN
    )  # what the emulator advertises for getOrder, less our margin
    assert sum(sleep.waits) >= 1 / rate  # waited for a token after the throttle drained the bucket


def test_the_bucket_adopts_a_raised_usage_plan(emulator: SpApiEmulator) -> None:
    """When Amazon grants more (the header says 20/s), the connector paces at that rate."""
    emulator.faults = FaultPlan()
    with SpApiEmulator(rate_limits={"getOrder": (20.0, 40)}) as raised:
        order = OrderFactory(seed=5).order(status="UNSHIPPED")
        raised.put_order(order.to_api())
        session = session_for(raised)
        OrdersApi(session).get_order(order.order_id)
        assert session.buckets["getOrder"].rate == pytest.approx(20.0 * RATE_MARGIN)


def test_a_long_wait_for_quota_becomes_a_transient_error_not_a_sleep(emulator: SpApiEmulator) -> None:
    """With the searchOrders bucket empty (one request per ~3 min), a call raises RateLimited at once."""
    session = session_for(emulator)
    bucket = session.buckets["searchOrders"]
    bucket.drain()
    with pytest.raises(RateLimited):
        list(OrdersApi(session).search_orders(last_updated_after=datetime.now(UTC) - timedelta(hours=1)))
    assert emulator.requests.total(["searchOrders"]) == 0


def test_search_pages_through_results_with_retries_on_every_page(emulator: SpApiEmulator) -> None:
    """250 orders: three pages of at most 100; a failing second page is retried on its own, not lost.
    (A throttled searchOrders page would mean a ~3 minute wait: that raises, see the RateLimited test.)"""
    now = datetime.now(UTC)
    factory = OrderFactory(seed=6, start=now - timedelta(days=10))  # ~25 min apart: 250 orders span ~4 days
    orders = factory.orders(250, status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
    for order in orders:
        emulator.put_order(order.to_api())
    emulator.faults = FaultPlan(operations=frozenset({"searchOrders"}))
    session = session_for(emulator)
    api = OrdersApi(session)
    pages = iter(
        api.search_orders(
            last_updated_after=now - timedelta(days=11), last_updated_before=now - timedelta(minutes=3)
        )
    )
    first = [next(pages) for _ in range(100)]
    emulator.faults.script(Fault.UNAVAILABLE)  # the next page's first attempt fails
    rest = list(pages)
    assert {found.order_id for found in first + rest} == {order.order_id for order in orders}
    assert emulator.requests.total(["searchOrders"]) == 4  # 3 pages + 1 retry
    assert session.calls["searchOrders"] == 4


def test_throttled_errors_are_typed(emulator: SpApiEmulator) -> None:
    """When every attempt is throttled the error is SpApiThrottled, transient, with the advertised rate."""
    emulator.faults = FaultPlan(rate=1.0, kinds=(Fault.THROTTLE,), operations=frozenset({"getOrder"}))
    with pytest.raises(SpApiThrottled) as error:
        OrdersApi(session_for(emulator, attempts=2)).get_order("113-0000000-0000000")
    assert error.value.transient
    assert error.value.rate == pytest.approx(0.5)


def test_parallel_fetches_share_one_login_with_amazon_token(emulator: SpApiEmulator) -> None:
    """Eight threads fetching at once ask Login with Amazon once, not once per thread."""
    from concurrent.futures import ThreadPoolExecutor

    orders = OrderFactory(seed=8).orders(16)
    for order in orders:
        emulator.put_order(order.to_api())
    api = OrdersApi(session_for(emulator))
    with ThreadPoolExecutor(max_workers=8) as pool:
        fetched = list(pool.map(lambda order: api.get_order(order.order_id), orders))
    assert len(fetched) == 16
    assert emulator.requests.snapshot() == {"lwa.token": 1, "getOrder": 16}
