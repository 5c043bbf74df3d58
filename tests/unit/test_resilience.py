"""Token bucket and retry policy: the pacing and retry rules both connectors rely on."""

from __future__ import annotations

import random

import pytest

from shared.errors import PermanentError, TransientError
from shared.resilience import RateLimited, RetryPolicy, TokenBucket, call_with_retries


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Flaky(TransientError):
    pass


def test_bucket_allows_the_burst_then_waits_one_over_rate() -> None:
    """Amazon's model: `burst` requests at once, then one every 1/rate seconds."""
    clock = FakeClock()
    bucket = TokenBucket(rate=0.5, burst=3, clock=clock)
    for _ in range(3):
        bucket.acquire(max_wait=0, sleep=clock.sleep)
    assert clock.now == 1000.0
    bucket.acquire(max_wait=10, sleep=clock.sleep)
    assert clock.now == pytest.approx(1002.0)


def test_bucket_refuses_to_wait_longer_than_allowed() -> None:
    """A wait beyond max_wait raises RateLimited (transient) with the time to wait."""
    clock = FakeClock()
    bucket = TokenBucket(rate=0.0056, burst=1, clock=clock)
    bucket.acquire(max_wait=0, sleep=clock.sleep)
    with pytest.raises(RateLimited) as error:
        bucket.acquire(max_wait=10, sleep=clock.sleep)
    assert error.value.transient
    assert error.value.retry_after == pytest.approx(1 / 0.0056)


def test_bucket_refills_over_time_but_not_above_burst() -> None:
    """Idle time refills tokens up to the burst size."""
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=5, clock=clock)
    for _ in range(5):
        bucket.acquire(max_wait=0, sleep=clock.sleep)
    clock.now += 100
    assert bucket.available() == pytest.approx(5.0)


def test_rate_follows_the_header_value() -> None:
    """set_rate (x-amzn-RateLimit-Limit) changes how fast tokens come back."""
    clock = FakeClock()
    bucket = TokenBucket(rate=0.5, burst=1, clock=clock)
    bucket.acquire(max_wait=0, sleep=clock.sleep)
    bucket.set_rate(10.0)
    bucket.acquire(max_wait=1, sleep=clock.sleep)
    assert clock.now == pytest.approx(1000.1)


def test_drain_empties_the_bucket_after_a_429() -> None:
    """After the server throttles us our token count was optimistic: drain makes the next call wait."""
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=10, clock=clock)
    bucket.drain()
    bucket.acquire(max_wait=5, sleep=clock.sleep)
    assert clock.now == pytest.approx(1001.0)


def test_transient_failures_are_retried_until_success() -> None:
    """Two transient failures then success: three attempts, result returned."""
    clock = FakeClock()
    attempts = []

    def operation() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise Flaky("try again")
        return "ok"

    assert call_with_retries(operation, policy=RetryPolicy(max_attempts=4), sleep=clock.sleep) == "ok"
    assert len(attempts) == 3


def test_permanent_failures_are_not_retried() -> None:
    """A permanent error propagates after one attempt."""
    attempts = []

    def operation() -> None:
        attempts.append(1)
        raise PermanentError("no")

    with pytest.raises(PermanentError):
        call_with_retries(operation, policy=RetryPolicy(), sleep=lambda _: None)
    assert len(attempts) == 1


def test_attempts_are_bounded() -> None:
    """After max_attempts the last transient error propagates."""
    attempts = []

    def operation() -> None:
        attempts.append(1)
        raise Flaky("still down")

    with pytest.raises(Flaky):
        call_with_retries(
            operation, policy=RetryPolicy(max_attempts=3, base_delay=0.01), sleep=lambda _: None
        )
    assert len(attempts) == 3


def test_server_retry_after_is_honoured() -> None:
    """A server-given retry_after decides the wait (plus at most 10% jitter)."""
    waits: list[float] = []
    error = Flaky("throttled", retry_after=2.0)
    calls = iter([error, None])

    def operation() -> str:
        failure = next(calls)
        if failure:
            raise failure
        return "done"

    call_with_retries(operation, policy=RetryPolicy(), sleep=waits.append)
    assert 2.0 <= waits[0] <= 2.2


def test_total_wait_budget_turns_long_waits_into_failures() -> None:
    """A Retry-After beyond the budget is not slept: the error propagates for a later redelivery."""
    error = Flaky("come back in an hour", retry_after=3600.0)
    waits: list[float] = []

    def operation() -> None:
        raise error

    with pytest.raises(Flaky):
        call_with_retries(operation, policy=RetryPolicy(max_total_delay=20), sleep=waits.append)
    assert waits == []


def test_backoff_is_full_jitter_within_the_exponential_ceiling() -> None:
    """Delay n lies in [0, min(max_delay, base * 2**(n-1))]."""
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(7)
    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)):
        for _ in range(50):
            assert 0 <= policy.backoff(attempt, rng) <= ceiling
