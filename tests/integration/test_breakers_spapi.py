"""The SP-API circuit breaker over real sockets: an Amazon outage costs a few calls, then none until the probe."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from sandbox.amazon_samples import OrderFactory
from sandbox.http_emulator import Fault, FaultPlan
from sandbox.spapi_emulator import SpApiEmulator
from shared.amazon.client import SpApiConfig, SpApiSession
from shared.amazon.errors import SpApiNotFound, SpApiThrottled, SpApiTransientError
from shared.amazon.orders import OrdersApi
from shared.breakers import BreakerPolicy, CircuitBreaker, CircuitOpen, State
from shared.resilience import RateLimited, RetryPolicy, Sleep
from tests.fakes import FakeClock, RecordingSleep

pytestmark = pytest.mark.sockets

POLICY = BreakerPolicy(failures=3, cooldown=30.0, max_cooldown=120.0)
ATTEMPTS = 2  # per call: the breaker sees one outcome per call, after both attempts


@pytest.fixture
def emulator() -> Iterator[SpApiEmulator]:
    with SpApiEmulator() as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("SP-API", POLICY, clock=clock, wall_clock=clock.wall)


@pytest.fixture
def config(emulator: SpApiEmulator) -> SpApiConfig:
    token_module = sys.modules.get("sp_api.auth.access_token_client")
    if token_module is not None:
        token_module.cache.clear()  # each test logs in to its own emulator
    return SpApiConfig(
        endpoint=emulator.base_url,
        token_url=f"{emulator.base_url}/auth/o2/token",
        refresh_token=emulator.refresh_token,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        marketplace_ids=("ATVPDKIKX0DER",),
        included_data=("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "CANCELLATION"),
        timeout=5.0,
    )


def orders_api(config: SpApiConfig, breaker: CircuitBreaker, sleep: Sleep | None = None) -> OrdersApi:
    retry = RetryPolicy(max_attempts=ATTEMPTS, base_delay=0.01, max_delay=0.02)
    return OrdersApi(SpApiSession(config, retry=retry, breaker=breaker, sleep=sleep or RecordingSleep()))


@pytest.fixture
def api(config: SpApiConfig, breaker: CircuitBreaker) -> OrdersApi:
    return orders_api(config, breaker)


def stored_order(emulator: SpApiEmulator, seed: int) -> str:
    order = OrderFactory(seed=seed).order(status="UNSHIPPED")
    emulator.put_order(order.to_api())
    return order.order_id


def amazon_down(emulator: SpApiEmulator, api: OrdersApi, breaker: CircuitBreaker, order_id: str) -> None:
    """Every SP-API and Login with Amazon request answers 503 until the breaker has opened."""
    emulator.faults = FaultPlan(rate=1.0, kinds=(Fault.UNAVAILABLE,))
    for _ in range(POLICY.failures):
        with pytest.raises(SpApiTransientError):
            api.get_order(order_id)
    assert breaker.snapshot().state is State.OPEN


def test_an_outage_opens_the_breaker_and_further_calls_send_no_request(
    emulator: SpApiEmulator, api: OrdersApi, breaker: CircuitBreaker
) -> None:
    """503 for everything: after 3 failed calls (2 attempts each) getOrder raises CircuitOpen, no request sent."""
    order_id = stored_order(emulator, seed=1)
    assert api.get_order(order_id).order_id == order_id  # Amazon up, logged in
    amazon_down(emulator, api, breaker, order_id)
    assert emulator.requests.snapshot() == {"lwa.token": 1, "getOrder": 1 + POLICY.failures * ATTEMPTS}
    before = emulator.requests.snapshot()
    for _ in range(10):
        with pytest.raises(CircuitOpen) as error:
            api.get_order(order_id)
    assert emulator.requests.snapshot() == before
    assert error.value.transient
    assert error.value.dependency == "SP-API"
    assert error.value.retry_after == pytest.approx(POLICY.cooldown)


def test_after_the_cooldown_one_probe_goes_through_and_then_traffic_flows(
    emulator: SpApiEmulator, api: OrdersApi, breaker: CircuitBreaker, clock: FakeClock
) -> None:
    """Amazon is back: still no request until the cool-down ends; then one probe call, then every call."""
    order_id = stored_order(emulator, seed=2)
    amazon_down(emulator, api, breaker, order_id)
    emulator.faults = FaultPlan()
    emulator.requests.reset()
    with pytest.raises(CircuitOpen):
        api.get_order(order_id)
    assert emulator.requests.total() == 0
    clock.advance(POLICY.cooldown)
    assert api.get_order(order_id).order_id == order_id  # the probe
    assert emulator.requests.snapshot() == {"lwa.token": 1, "getOrder": 1}
    assert breaker.snapshot().state is State.CLOSED
    for _ in range(3):
        api.get_order(order_id)
    assert emulator.requests.total(["getOrder"]) == 4


def test_other_calls_fail_fast_while_the_probe_is_under_way(
    emulator: SpApiEmulator, api: OrdersApi, breaker: CircuitBreaker, clock: FakeClock
) -> None:
    """A slow probe is in flight: a second getOrder raises CircuitOpen without a request of its own."""
    order_id = stored_order(emulator, seed=3)
    amazon_down(emulator, api, breaker, order_id)
    emulator.faults = FaultPlan(operations=frozenset({"getOrder"}), slow_seconds=0.5)
    emulator.faults.script(Fault.SLOW)
    emulator.requests.reset()
    clock.advance(POLICY.cooldown)
    probe = threading.Thread(target=api.get_order, args=(order_id,))
    probe.start()
    deadline = time.monotonic() + 5
    while emulator.requests.total(["getOrder"]) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(CircuitOpen):
        api.get_order(order_id)
    probe.join(timeout=5)
    assert emulator.requests.total(["getOrder"]) == 1
    assert breaker.snapshot().state is State.CLOSED


def test_a_failed_probe_costs_one_call_and_doubles_the_cooldown(
    emulator: SpApiEmulator, api: OrdersApi, breaker: CircuitBreaker, clock: FakeClock
) -> None:
    """Amazon still down at the probe: one call (with its retries) goes out, then 60 s of fast failures."""
    order_id = stored_order(emulator, seed=4)
    amazon_down(emulator, api, breaker, order_id)
    emulator.requests.reset()
    clock.advance(POLICY.cooldown)
    with pytest.raises(SpApiTransientError):
        api.get_order(order_id)
    assert emulator.requests.total() == ATTEMPTS
    with pytest.raises(CircuitOpen) as error:
        api.get_order(order_id)
    assert error.value.retry_after == pytest.approx(2 * POLICY.cooldown)
    assert emulator.requests.total() == ATTEMPTS


def test_a_call_waiting_to_retry_sends_no_retry_once_other_calls_opened_the_breaker(
    emulator: SpApiEmulator, config: SpApiConfig, breaker: CircuitBreaker
) -> None:
    """During one call's backoff, other calls fail 3 times: its retry is not sent, it raises CircuitOpen."""
    order_id = stored_order(emulator, seed=5)
    emulator.faults = FaultPlan(rate=1.0, kinds=(Fault.UNAVAILABLE,), operations=frozenset({"getOrder"}))
    others = orders_api(config, breaker)

    def backoff(seconds: float) -> None:  # meanwhile, on other invocations
        for _ in range(POLICY.failures):
            with contextlib.suppress(SpApiTransientError):
                others.get_order(order_id)

    with pytest.raises(CircuitOpen):
        orders_api(config, breaker, sleep=backoff).get_order(order_id)
    assert emulator.requests.total(["getOrder"]) == 1 + POLICY.failures * ATTEMPTS


@pytest.mark.parametrize("fault", [Fault.THROTTLE, None], ids=["429 QuotaExceeded", "404 NotFound"])
def test_amazon_answering_no_is_not_an_outage(
    emulator: SpApiEmulator, api: OrdersApi, breaker: CircuitBreaker, fault: Fault | None
) -> None:
    """429s (per-operation quota, already paced by the token bucket) and 404s keep the breaker closed."""
    if fault is not None:
        emulator.faults = FaultPlan(rate=1.0, kinds=(fault,), operations=frozenset({"getOrder"}))
    for _ in range(2 * POLICY.failures):
        with pytest.raises((SpApiThrottled, RateLimited, SpApiNotFound)):
            api.get_order("113-0000000-0000000")
    assert breaker.snapshot().state is State.CLOSED
    assert breaker.snapshot().failures == 0
