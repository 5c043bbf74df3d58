"""The circuit breaker's state machine: closed -> open -> half-open -> closed or open again, on a fake clock."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest

from shared.amazon.errors import SpApiPermanentError, SpApiTransientError
from shared.breakers import (
    BreakerPolicy,
    Breakers,
    CircuitBreaker,
    CircuitOpen,
    State,
    Verdict,
    skip_if_open,
    verdict_of,
)
from shared.config import load_settings
from shared.dataverse.errors import DataverseNotFound, DataverseThrottled
from shared.errors import ConfigurationError
from shared.resilience import RateLimited
from shared.runtime import Runtime
from shared.state.store import ConcurrentUpdate
from tests.builders import settings_env
from tests.fakes import FakeClock

POLICY = BreakerPolicy(failures=3, cooldown=10.0, max_cooldown=35.0)
EPOCH = FakeClock.EPOCH


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("SP-API", POLICY, clock=clock, wall_clock=clock.wall)


def outage(status: int = 503) -> SpApiTransientError:
    return SpApiTransientError(f"SP-API answered {status}", status=status)


def call(breaker: CircuitBreaker, outcome: BaseException | None = None) -> str:
    """One guarded call that ends with `outcome` (raised) or succeeds."""
    with breaker.guard(answered=lambda exc: isinstance(exc, ConcurrentUpdate)):
        if outcome is not None:
            raise outcome
    return "answered"


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        with pytest.raises(SpApiTransientError):
            call(breaker, outage())


def rejection(breaker: CircuitBreaker) -> CircuitOpen:
    ran = []
    with pytest.raises(CircuitOpen) as error, breaker.guard():
        ran.append(True)
    assert ran == [], "the guarded call ran although the breaker is open"
    return error.value


def open_breaker(breaker: CircuitBreaker) -> None:
    fail(breaker, POLICY.failures)
    assert breaker.snapshot().state is State.OPEN


# --- closed -> open ---------------------------------------------------------------------------------------
def test_the_breaker_opens_after_n_failed_calls_in_a_row_and_then_fails_fast(breaker: CircuitBreaker) -> None:
    """After 3 failed calls the 4th is not run: CircuitOpen names the dependency and says when to come back."""
    fail(breaker, 2)
    assert breaker.snapshot().state is State.CLOSED
    fail(breaker, 1)
    error = rejection(breaker)
    assert error.transient
    assert error.dependency == "SP-API"
    assert error.reason == "CircuitOpen"
    assert error.retry_after == pytest.approx(10.0)
    assert "SP-API" in str(error)


def test_a_success_in_between_resets_the_count(breaker: CircuitBreaker) -> None:
    """Failures must come in a row: one answer from the dependency starts the count again."""
    fail(breaker, 2)
    assert call(breaker) == "answered"
    fail(breaker, 2)
    assert breaker.snapshot().state is State.CLOSED
    assert breaker.snapshot().failures == 2


def test_retry_after_counts_down_to_the_probe(breaker: CircuitBreaker, clock: FakeClock) -> None:
    """retry_after is the time left until the half-open probe, so a rescheduled message comes back then."""
    open_breaker(breaker)
    clock.advance(4.0)
    assert rejection(breaker).retry_after == pytest.approx(6.0)


def test_a_long_retry_after_from_the_server_stretches_the_cooldown(breaker: CircuitBreaker) -> None:
    """A throttle that asked for 30 s opens the breaker for 30 s, not the 10 s cool-down (cap: 35 s)."""
    fail(breaker, 2)
    with pytest.raises(DataverseThrottled):
        call(breaker, DataverseThrottled("429", status=429, retry_after=30.0))
    assert rejection(breaker).retry_after == pytest.approx(30.0)


# --- what counts ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (SpApiTransientError("503", status=503), Verdict.FAILURE),
        (SpApiTransientError("timed out"), Verdict.FAILURE),
        (DataverseThrottled("429", status=429, retry_after=300.0), Verdict.FAILURE),
        (SpApiPermanentError("400", status=400), Verdict.SUCCESS),
        (DataverseNotFound("404", status=404), Verdict.SUCCESS),
        (RateLimited("our own bucket", retry_after=170.0), Verdict.NEUTRAL),
        (CircuitOpen("Dataverse", retry_after=5.0, failures=5), Verdict.NEUTRAL),
        (ValueError("a bug of ours"), Verdict.NEUTRAL),
    ],
)
def test_what_an_error_says_about_the_dependency(error: BaseException, verdict: Verdict) -> None:
    """Transient errors are failures; a permanent error is an answer; our own rate limit and bugs say nothing."""
    assert verdict_of(error) is verdict


def test_permanent_errors_do_not_open_the_breaker(breaker: CircuitBreaker) -> None:
    """A 400 or 404 shows the service up and answering: it resets the count instead of adding to it."""
    fail(breaker, 2)
    for _ in range(5):
        with pytest.raises(SpApiPermanentError):
            call(breaker, SpApiPermanentError("400", status=400))
    fail(breaker, 2)
    assert breaker.snapshot().state is State.CLOSED


def test_transient_errors_the_connector_calls_answers_do_not_count(breaker: CircuitBreaker) -> None:
    """A lost ETag race (ConcurrentUpdate) is the storage service working: any number of them keep it closed."""
    for _ in range(10):
        with pytest.raises(ConcurrentUpdate):
            call(breaker, ConcurrentUpdate("checkpoint changed by another instance"))
    assert breaker.snapshot().state is State.CLOSED
    assert breaker.snapshot().failures == 0


def test_our_own_rate_limit_neither_counts_nor_resets(breaker: CircuitBreaker) -> None:
    """RateLimited never reached the dependency: two failures, a RateLimited, one more failure -> open."""
    fail(breaker, 2)
    with pytest.raises(RateLimited):
        call(breaker, RateLimited("bucket empty", retry_after=170.0))
    assert breaker.snapshot().failures == 2
    fail(breaker, 1)
    assert breaker.snapshot().state is State.OPEN


# --- half-open -------------------------------------------------------------------------------------------
def test_a_successful_probe_closes_the_breaker(breaker: CircuitBreaker, clock: FakeClock) -> None:
    """After the cool-down the next call is the probe; its success closes the breaker and traffic flows."""
    open_breaker(breaker)
    clock.advance(10.0)
    assert call(breaker) == "answered"
    snapshot = breaker.snapshot()
    assert (snapshot.state, snapshot.failures, snapshot.opened_at) == (State.CLOSED, 0, None)
    assert [call(breaker) for _ in range(3)] == ["answered"] * 3


def test_a_permanent_error_from_the_probe_also_closes_it(breaker: CircuitBreaker, clock: FakeClock) -> None:
    """A probe answered with 404 proves the service is back, even though that one call failed."""
    open_breaker(breaker)
    clock.advance(10.0)
    with pytest.raises(DataverseNotFound):
        call(breaker, DataverseNotFound("404", status=404))
    assert breaker.snapshot().state is State.CLOSED


def test_a_failed_probe_reopens_for_twice_as_long_up_to_the_cap(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    """Cool-downs 10 s, then 20 s, then 35 s (the cap) and 35 s again, each after one failed probe."""
    open_breaker(breaker)
    cooldowns = [rejection(breaker).retry_after]
    for _ in range(3):
        clock.advance(cooldowns[-1] or 0.0)
        fail(breaker, 1)  # the probe
        cooldowns.append(rejection(breaker).retry_after)
    assert cooldowns == pytest.approx([10.0, 20.0, 35.0, 35.0])
    assert breaker.snapshot().failures == 6


def test_only_one_probe_runs_while_others_fail_fast(breaker: CircuitBreaker, clock: FakeClock) -> None:
    """While the probe is under way other calls raise CircuitOpen at once; when it succeeds they go through."""
    open_breaker(breaker)
    clock.advance(10.0)
    probe_started, release_probe = threading.Event(), threading.Event()
    results: list[str] = []

    def probe() -> None:
        with breaker.guard():
            probe_started.set()
            release_probe.wait(timeout=5)
        results.append("probe answered")

    thread = threading.Thread(target=probe)
    thread.start()
    assert probe_started.wait(timeout=5)
    assert breaker.is_open()
    assert rejection(breaker).retry_after == pytest.approx(10.0)  # ask again after one cool-down
    release_probe.set()
    thread.join(timeout=5)
    assert results == ["probe answered"]
    assert call(breaker) == "answered"


def test_many_threads_at_a_half_open_breaker_send_exactly_one_probe(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    """16 threads arrive together after the cool-down: one runs its call, 15 get CircuitOpen."""
    open_breaker(breaker)
    clock.advance(10.0)
    start = threading.Barrier(16)
    release = threading.Event()
    ran: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        start.wait(timeout=5)
        try:
            with breaker.guard():
                with lock:
                    ran.append(index)
                release.wait(timeout=5)
        except CircuitOpen:
            with lock:
                refused.append(index)
                if len(refused) == 15:
                    release.set()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert (len(ran), len(refused)) == (1, 15)
    assert breaker.snapshot().state is State.CLOSED


def test_a_probe_that_never_reached_the_service_frees_the_slot(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    """A probe stopped by our own rate limiter proves nothing: the breaker stays half-open, the next call probes."""
    open_breaker(breaker)
    clock.advance(10.0)
    with pytest.raises(RateLimited):
        call(breaker, RateLimited("bucket empty", retry_after=2.0))
    assert breaker.snapshot().state is State.HALF_OPEN
    assert call(breaker) == "answered"
    assert breaker.snapshot().state is State.CLOSED


def test_the_probe_may_retry(breaker: CircuitBreaker, clock: FakeClock) -> None:
    """The probe's own retry attempts pass the breaker's check; it is one call with its retries."""
    open_breaker(breaker)
    clock.advance(10.0)
    with breaker.guard() as guard:
        guard.check()
        guard.check()
    assert breaker.snapshot().state is State.CLOSED


# --- calls admitted before the breaker opened -------------------------------------------------------------
def test_a_call_in_its_retry_loop_stops_once_the_breaker_opens(breaker: CircuitBreaker) -> None:
    """A call admitted while closed does not send its next attempt after other calls opened the breaker."""
    with breaker.guard() as slow_call:
        slow_call.check()  # first attempt: still closed
        fail(breaker, POLICY.failures)  # meanwhile, other calls open the breaker
        with pytest.raises(CircuitOpen):
            slow_call.check()  # the retry is refused
    assert breaker.snapshot().state is State.OPEN


def test_a_success_admitted_before_the_breaker_opened_does_not_close_it(breaker: CircuitBreaker) -> None:
    """Old news: an answer to a request sent before the outage was noticed must not end the cool-down."""
    with breaker.guard():
        fail(breaker, POLICY.failures)
    assert breaker.snapshot().state is State.OPEN


# --- reading the state ------------------------------------------------------------------------------------
def test_the_snapshot_says_when_it_opened_why_and_when_it_probes(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    """Dashboards read name, state, failures, the outage's start, the next probe time and the last failure."""
    clock.advance(100.0)
    open_breaker(breaker)
    clock.advance(10.0)
    fail(breaker, 1)  # a failed probe: open for 20 s more, the outage still dates from the first opening
    snapshot = breaker.snapshot()
    assert snapshot.name == "SP-API"
    assert snapshot.state is State.OPEN
    assert snapshot.failures == 4
    assert snapshot.opened_at == EPOCH + timedelta(seconds=100)
    assert snapshot.next_probe_at == EPOCH + timedelta(seconds=130)
    assert snapshot.last_failure == "SpApiUnavailable (503)"


def test_is_open_turns_false_once_a_probe_is_due(breaker: CircuitBreaker, clock: FakeClock) -> None:
    """A timer that skips while the breaker is open still runs (and probes) once the cool-down is over."""
    assert not breaker.is_open()
    open_breaker(breaker)
    assert breaker.is_open()
    clock.advance(10.0)
    assert not breaker.is_open()
    assert breaker.snapshot().state is State.HALF_OPEN


def test_skip_if_open_tells_a_timer_to_skip_its_run_with_one_log_line(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """With Dataverse open, a run needing SP-API and Dataverse is skipped and the log names Dataverse."""
    breakers = Breakers.create(POLICY, clock=clock, wall_clock=clock.wall)
    assert not skip_if_open(breakers.spapi, breakers.dataverse, run="order sweep")
    fail(breakers.dataverse, POLICY.failures)
    with caplog.at_level(logging.WARNING, logger="shared.breakers"):
        assert skip_if_open(breakers.spapi, breakers.dataverse, run="order sweep")
    [line] = [record.getMessage() for record in caplog.records if "skipped" in record.getMessage()]
    assert line.startswith("order sweep skipped: Dataverse circuit open")
    assert [snapshot.state for snapshot in breakers.snapshot()] == [State.CLOSED, State.OPEN, State.CLOSED]


# --- settings and composition -----------------------------------------------------------------------------
def test_the_runtime_gives_each_connector_its_breaker_with_the_documented_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """5 failures, 30 s cool-down doubling up to 300 s; the connectors use the breakers the runtime exposes."""
    for name, value in settings_env().items():
        monkeypatch.setenv(name, value)
    runtime = Runtime(load_settings())
    assert [breaker.name for breaker in runtime.breakers] == ["SP-API", "Dataverse", "Table Storage"]
    assert {breaker.policy for breaker in runtime.breakers} == {BreakerPolicy(5, 30.0, 300.0)}
    assert runtime.spapi.breaker is runtime.breakers.spapi
    assert runtime.dataverse.breaker is runtime.breakers.dataverse
    assert runtime.state.breaker is runtime.breakers.table_storage
    runtime.close()


def test_breaker_settings_can_be_time_scaled_but_the_cap_not_below_the_cooldown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """BREAKER_* settings shorten the breakers (tests, sandbox); a cap below the cool-down is refused by name."""
    env = settings_env(BREAKER_FAILURES="2", BREAKER_COOLDOWN_SECONDS="0.5", BREAKER_MAX_COOLDOWN_SECONDS="2")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert BreakerPolicy.from_settings(load_settings()) == BreakerPolicy(2, 0.5, 2.0)
    monkeypatch.setenv("BREAKER_MAX_COOLDOWN_SECONDS", "0.25")
    with pytest.raises(ConfigurationError, match="BREAKER_MAX_COOLDOWN_SECONDS is invalid"):
        load_settings()
