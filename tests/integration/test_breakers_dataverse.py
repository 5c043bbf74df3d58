"""The Dataverse circuit breaker over real sockets, against the Dataverse Web API emulator's fault plans."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from sandbox.dataverse_emulator import DataverseEmulator
from sandbox.dataverse_seed import CURRENCY_IDS
from sandbox.http_emulator import Fault, FaultPlan
from shared.breakers import BreakerPolicy, CircuitBreaker, CircuitOpen, State
from shared.dataverse.client import DataverseClient
from shared.dataverse.errors import DataverseThrottled, DataverseTransientError
from shared.resilience import RetryPolicy, Sleep
from tests.fakes import FakeClock, RecordingSleep

pytestmark = pytest.mark.sockets

POLICY = BreakerPolicy(failures=3, cooldown=30.0, max_cooldown=120.0)
ATTEMPTS = 2
USD = CURRENCY_IDS["USD"]


@pytest.fixture
def emulator() -> Iterator[DataverseEmulator]:
    with DataverseEmulator() as running:
        running.load_seed()
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("Dataverse", POLICY, clock=clock, wall_clock=clock.wall)


def dataverse_client(
    emulator: DataverseEmulator, breaker: CircuitBreaker, sleep: Sleep | None = None
) -> DataverseClient:
    # A retry budget of 1 s: a 429 asking for longer is not waited for (as the deployed 20 s budget would not
    # wait for Dataverse's usual five-minute penalty).
    retry = RetryPolicy(max_attempts=ATTEMPTS, base_delay=0.01, max_delay=0.02, max_total_delay=1.0)
    return DataverseClient(emulator.base_url, retry=retry, breaker=breaker, sleep=sleep or RecordingSleep())


@pytest.fixture
def client(emulator: DataverseEmulator, breaker: CircuitBreaker) -> Iterator[DataverseClient]:
    dataverse = dataverse_client(emulator, breaker)
    yield dataverse
    dataverse.close()


def read_usd(client: DataverseClient) -> str | None:
    """One GET of a seeded record: its ISO code."""
    record = client.get("transactioncurrencies", USD, select=("isocurrencycode",))
    return None if record is None else str(record["isocurrencycode"])


def dataverse_down(emulator: DataverseEmulator, client: DataverseClient, breaker: CircuitBreaker) -> None:
    """Every request answers 503 until the breaker has opened."""
    emulator.faults = FaultPlan(rate=1.0, kinds=(Fault.UNAVAILABLE,))
    for _ in range(POLICY.failures):
        with pytest.raises(DataverseTransientError):
            read_usd(client)
    assert breaker.snapshot().state is State.OPEN


def test_an_outage_opens_the_breaker_and_further_calls_send_no_request(
    emulator: DataverseEmulator, client: DataverseClient, breaker: CircuitBreaker
) -> None:
    """503 for everything: after 3 failed calls (2 attempts each) requests raise CircuitOpen, none is sent."""
    dataverse_down(emulator, client, breaker)
    assert emulator.requests.total() == POLICY.failures * ATTEMPTS
    for _ in range(10):
        with pytest.raises(CircuitOpen) as error:
            read_usd(client)
    assert emulator.requests.total() == POLICY.failures * ATTEMPTS
    assert error.value.dependency == "Dataverse"
    assert error.value.retry_after == pytest.approx(POLICY.cooldown)
    assert breaker.snapshot().last_failure == "DataverseUnavailable (503)"


def test_after_the_cooldown_one_probe_goes_through_and_then_traffic_flows(
    emulator: DataverseEmulator, client: DataverseClient, breaker: CircuitBreaker, clock: FakeClock
) -> None:
    """Dataverse is back: nothing is sent until the cool-down ends; then one probe, then every request."""
    dataverse_down(emulator, client, breaker)
    emulator.faults = FaultPlan()
    emulator.requests.reset()
    with pytest.raises(CircuitOpen):
        read_usd(client)
    assert emulator.requests.total() == 0
    clock.advance(POLICY.cooldown)
    assert read_usd(client) == "USD"  # the probe
    assert emulator.requests.total() == 1
    assert breaker.snapshot().state is State.CLOSED
    assert [read_usd(client) for _ in range(3)] == ["USD"] * 3
    assert emulator.requests.total() == 4


def test_a_long_service_protection_pause_opens_the_breaker_for_as_long_as_dataverse_asked(
    emulator: DataverseEmulator, client: DataverseClient, breaker: CircuitBreaker
) -> None:
    """429 with Retry-After: 90 is not retried (over budget) and counts; after 3 the breaker opens for 90 s."""
    emulator.faults = FaultPlan(rate=1.0, kinds=(Fault.THROTTLE,), retry_after_seconds=90)
    for _ in range(POLICY.failures):
        with pytest.raises(DataverseThrottled):
            read_usd(client)
    assert emulator.requests.total() == POLICY.failures  # one request per call: the pause was not waited for
    with pytest.raises(CircuitOpen) as error:
        read_usd(client)
    assert error.value.retry_after == pytest.approx(90.0)


def test_a_call_waiting_to_retry_sends_no_retry_once_other_calls_opened_the_breaker(
    emulator: DataverseEmulator, client: DataverseClient, breaker: CircuitBreaker
) -> None:
    """During one call's backoff, other calls fail 3 times: its retry is not sent, it raises CircuitOpen."""
    emulator.faults = FaultPlan(rate=1.0, kinds=(Fault.UNAVAILABLE,))

    def backoff(seconds: float) -> None:  # meanwhile, on other invocations
        for _ in range(POLICY.failures):
            with contextlib.suppress(DataverseTransientError):
                read_usd(client)

    waiting = dataverse_client(emulator, breaker, sleep=backoff)
    with pytest.raises(CircuitOpen):
        read_usd(waiting)
    waiting.close()
    assert emulator.requests.total() == 1 + POLICY.failures * ATTEMPTS


def test_an_answer_between_failures_keeps_the_breaker_closed(
    emulator: DataverseEmulator, client: DataverseClient, breaker: CircuitBreaker
) -> None:
    """Two failed calls, a 404 (a record that does not exist: Dataverse is up), two more: still closed."""
    emulator.faults.script(*[Fault.UNAVAILABLE] * (2 * ATTEMPTS))
    for _ in range(2):
        with pytest.raises(DataverseTransientError):
            read_usd(client)
    assert client.get("accounts", {"new_amazonmarketplaceid": "NOT-THERE"}) is None
    emulator.faults.script(*[Fault.UNAVAILABLE] * (2 * ATTEMPTS))
    for _ in range(2):
        with pytest.raises(DataverseTransientError):
            read_usd(client)
    assert breaker.snapshot().state is State.CLOSED
    assert read_usd(client) == "USD"
