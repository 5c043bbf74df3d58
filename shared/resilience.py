"""Rate limiting and retries shared by both connectors.

Both platforms throttle: SP-API per operation with a token bucket (rate + burst, `x-amzn-RateLimit-Limit`),
Dataverse per user with 429 + `Retry-After`. We pace ourselves with the same model Amazon uses and retry
transient failures a bounded number of times with full jitter, inside a bounded time budget: a function
invocation that would have to wait longer gives the message back to Service Bus instead of sleeping.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from shared.errors import SyncError, TransientError

T = TypeVar("T")
Sleep = Callable[[float], None]
Clock = Callable[[], float]


class RateLimited(TransientError):
    """Waiting for a token would exceed the caller's budget; try again after `retry_after` seconds."""

    reason = "RateLimited"


class TokenBucket:
    """Amazon's usage-plan model: `burst` tokens, refilled at `rate` tokens per second.

    Thread-safe, because one Functions worker runs several invocations at once and they share the
    seller's quota. `set_rate` lets the connector follow `x-amzn-RateLimit-Limit`, which is the rate
    Amazon actually grants this seller (it can be higher than the published default).
    """

    def __init__(self, rate: float, burst: int, *, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._updated = clock()
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> int:
        return int(self._burst)

    def set_rate(self, rate: float) -> None:
        if rate > 0:
            with self._lock:
                self._refill()
                self._rate = rate

    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens

    def reserve(self) -> float:
        """Take a token now or book the next one; returns how long the caller must wait before using it."""
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    def acquire(self, *, max_wait: float, sleep: Sleep = time.sleep) -> None:
        """Wait for a token, but never longer than `max_wait` seconds (then raise RateLimited)."""
        with self._lock:
            self._refill()
            wait = 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self._rate
            if wait > max_wait:
                raise RateLimited(f"rate limit: next request possible in {wait:.1f}s", retry_after=wait)
            self._tokens -= 1.0
        if wait > 0:
            sleep(wait)

    def drain(self) -> None:
        """Empty the bucket: the server said we are throttled, so our count was optimistic."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter (AWS architecture blog's recommendation).

    `max_total_delay` caps the time spent waiting across all attempts, so a throttled dependency turns
    into a redelivery rather than a function that sleeps through its timeout.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_total_delay: float = 20.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry number `attempt` (1-based): uniform in [0, min(max_delay, base * 2**(n-1))]."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(0, ceiling)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, SyncError) and exc.transient


def retry_after_of(exc: BaseException) -> float | None:
    return exc.retry_after if isinstance(exc, SyncError) else None


def call_with_retries(
    operation: Callable[[], T],
    *,
    policy: RetryPolicy,
    retryable: Callable[[BaseException], bool] = is_transient,
    sleep: Sleep = time.sleep,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Run `operation`, retrying what `retryable` accepts; the last error propagates unchanged.

    A server-given `retry_after` (429 Retry-After, Amazon's rate header) wins over our own backoff,
    because it is the one wait the server promised to honour.
    """
    waited = 0.0
    attempt = 1
    while True:
        try:
            return operation()
        except Exception as exc:
            if attempt >= policy.max_attempts or not retryable(exc):
                raise
            delay = retry_after_of(exc)
            delay = policy.backoff(attempt) if delay is None else delay + random.uniform(0, 0.1 * delay)
            if waited + delay > policy.max_total_delay:
                raise
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            sleep(delay)
            waited += delay
            attempt += 1
