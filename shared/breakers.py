"""Circuit breakers, one per dependency (SP-API, Dataverse, Table Storage).

When a dependency is down, every message would otherwise spend a full retry loop on it: requests the
dependency cannot answer, and invocation time spent waiting for timeouts. After `failures` calls in a row
have failed, the breaker *opens*: for a cool-down, calls to that dependency fail at once with CircuitOpen
(transient, with `retry_after` = seconds until the next probe) and never reach the network, so the flow can
give its messages back for later. After the cool-down the breaker is *half-open*: one call, the probe, goes
through while every other call keeps failing fast. Its success closes the breaker; its failure opens it
again for twice as long, up to `max_cooldown`.

What the breaker records is the final outcome of one call *with its retries*, not each attempt: a blip the
retry loop absorbed says nothing about an outage, and a call whose retries all failed already means the
dependency was down for the whole retry budget. A dependency that hangs still trips it, because a timeout is
a failure like a 5xx; and once the breaker has opened, calls still inside their retry loop stop before their
next attempt (`Guard.check`), so a hang does not keep invocations waiting on further timeouts.

Consecutive failures rather than a failure ratio over a sliding window: a function invocation makes a handful
of calls, in bursts, so a window would often hold too few calls to mean anything (and would need a minimum
call count and a window length on top). Consecutive failed calls-with-retries are a strong signal at any
volume, and a single success (the dependency answered) resets the count. The cost: a dependency failing most
but not all calls never opens the breaker; that is deliberate, since it still serves the calls that work, and
retries plus redelivery handle the rest.

State lives in each instance (process), not in a shared store:
- a shared state would need a store, and Table Storage is one of the dependencies the breakers protect;
- each instance sees its own network path (one instance's DNS or connection pool can fail while others work);
- Amazon's quota is per seller and already reaches every instance as 429 + `x-amzn-RateLimit-Limit`;
- what it costs: each instance discovers an outage on its own (`failures` calls each) and sends its own
  probes, one per cool-down. A few calls per instance, which is cheap next to a retry loop per message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from types import TracebackType
from typing import TYPE_CHECKING

from shared.errors import SyncError, TransientError
from shared.resilience import Clock, RateLimited
from shared.timeutil import utc_now

if TYPE_CHECKING:
    from shared.config import Settings

log = logging.getLogger(__name__)

WallClock = Callable[[], datetime]
Answered = Callable[[BaseException], bool]


class CircuitOpen(TransientError):
    """The dependency's breaker is open: this call was not sent. Try again after `retry_after` seconds."""

    reason = "CircuitOpen"

    def __init__(self, dependency: str, *, retry_after: float, failures: int) -> None:
        super().__init__(
            f"{dependency} unavailable: circuit open after {failures} failed calls in a row, "
            f"next probe in {retry_after:.1f}s",
            code="CircuitOpen",
            retry_after=retry_after,
        )
        self.dependency = dependency


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Verdict(Enum):
    SUCCESS = "success"  # the dependency answered
    FAILURE = "failure"  # the dependency is down, or throttled us past the retry budget
    NEUTRAL = "neutral"  # says nothing about the dependency (the call never reached it, or a bug of ours)


def _nothing_answered(exc: BaseException) -> bool:
    return False


def verdict_of(exc: BaseException, answered: Answered = _nothing_answered) -> Verdict:
    """What a call's final error says about its dependency.

    Permanent errors (400, 404, a refused credential) mean the service is up and answering. Transient ones
    are failures, except our own rate limiter's (no request was sent), another breaker's, and those the
    connector knows to be answers (`answered`: a lost ETag race, a per-operation quota).
    """
    if isinstance(exc, RateLimited | CircuitOpen):
        return Verdict.NEUTRAL
    if isinstance(exc, TransientError):
        return Verdict.SUCCESS if answered(exc) else Verdict.FAILURE
    if isinstance(exc, SyncError):
        return Verdict.SUCCESS
    return Verdict.NEUTRAL


@dataclass(frozen=True)
class BreakerPolicy:
    """When a breaker opens and for how long (BREAKER_* settings)."""

    failures: int = 5
    cooldown: float = 30.0
    max_cooldown: float = 300.0

    def __post_init__(self) -> None:
        if self.failures < 1 or self.cooldown <= 0 or self.max_cooldown < self.cooldown:
            raise ValueError("a breaker needs failures >= 1 and 0 < cooldown <= max_cooldown")

    @classmethod
    def from_settings(cls, settings: Settings) -> BreakerPolicy:
        return cls(
            settings.breaker_failures,
            settings.breaker_cooldown_seconds,
            settings.breaker_max_cooldown_seconds,
        )

    def cooldown_after(self, failed_probes: int) -> float:
        """Doubles with each failed probe: a dependency that stays down is asked less and less often."""
        return min(self.max_cooldown, self.cooldown * 2.0**failed_probes)


@dataclass(frozen=True)
class BreakerSnapshot:
    """A breaker's state for health checks and dashboards (read-only, JSON-friendly fields)."""

    name: str
    state: State
    failures: int  # failed calls in a row, failed probes included
    opened_at: datetime | None  # when the current outage began
    next_probe_at: datetime | None  # set while open; half-open means a probe is due or under way
    last_failure: str | None  # reason and status of the last failure, never data


@dataclass(frozen=True)
class _Ticket:
    generation: int  # the breaker's state changes this call was admitted under
    probe: bool


class CircuitBreaker:
    """One dependency's breaker, shared by every invocation in the process (thread-safe)."""

    def __init__(
        self,
        name: str,
        policy: BreakerPolicy | None = None,
        *,
        clock: Clock = time.monotonic,
        wall_clock: WallClock = utc_now,
    ) -> None:
        self.name = name
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._state = State.CLOSED
        # Bumped on every state change: the outcome of a call admitted under an earlier state is old news
        # (a success sent before the breaker opened must not close it again).
        self._generation = 0
        self._failures = 0
        self._probing = False
        self._open_for = 0.0
        self._probe_due = 0.0  # on `clock`
        self._opened_at: datetime | None = None
        self._last_failure: str | None = None

    # --- guarding calls ---------------------------------------------------------------------------
    def guard(self, *, answered: Answered = _nothing_answered) -> Guard:
        """`with breaker.guard(): <one call with its retries>`; raises CircuitOpen instead of running it
        while the breaker is open. `answered` names transient errors that still prove the service answered."""
        return Guard(self, answered)

    def is_open(self) -> bool:
        """True while calls fail fast: open and cooling down, or half-open with the probe under way. False
        once a probe is due, so a timer that skips its run while this is True still sends the probe later."""
        with self._lock:
            state = self._current_state()
            return state is State.OPEN or (state is State.HALF_OPEN and self._probing)

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            state = self._current_state()
            next_probe = None
            if state is State.OPEN:
                next_probe = self._wall_clock() + timedelta(seconds=self._probe_due - self._clock())
            return BreakerSnapshot(
                self.name, state, self._failures, self._opened_at, next_probe, self._last_failure
            )

    # --- the state machine: _admit, _check and _record take the lock; the helpers after them run under it
    def _admit(self) -> _Ticket:
        with self._lock:
            state = self._current_state()
            if state is State.CLOSED:
                return _Ticket(self._generation, probe=False)
            if state is State.HALF_OPEN and not self._probing:
                self._probing = True
                log.info("%s circuit half-open: sending one probe call", self.name)
                return _Ticket(self._generation, probe=True)
            raise self._rejection()

    def _check(self, ticket: _Ticket) -> None:
        with self._lock:
            own_probe = ticket.probe and ticket.generation == self._generation
            if self._current_state() is not State.CLOSED and not own_probe:
                raise self._rejection()

    def _record(self, ticket: _Ticket, verdict: Verdict, error: BaseException | None) -> None:
        with self._lock:
            if ticket.generation != self._generation:
                return
            if ticket.probe:
                self._probing = False  # a neutral probe frees the slot: the next call probes
            if verdict is Verdict.SUCCESS:
                self._close()
            elif verdict is Verdict.FAILURE:
                self._failures += 1
                self._last_failure = _describe(error)
                if self._state is State.HALF_OPEN or self._failures >= self.policy.failures:
                    self._open(error)

    def _current_state(self) -> State:
        if self._state is State.OPEN and self._clock() >= self._probe_due:
            self._change(State.HALF_OPEN)
        return self._state

    def _open(self, error: BaseException | None) -> None:
        open_for = self.policy.cooldown_after(self._failures - self.policy.failures)
        server_wait = error.retry_after if isinstance(error, SyncError) else None
        if server_wait:  # a server that said how long to wait (429 Retry-After) is believed, up to the cap
            open_for = max(open_for, min(server_wait, self.policy.max_cooldown))
        self._open_for = open_for
        self._probe_due = self._clock() + open_for
        self._opened_at = self._opened_at or self._wall_clock()
        self._change(State.OPEN)
        log.warning(
            "%s circuit open after %d failed calls in a row (last: %s); calls fail fast for %.0fs",
            self.name,
            self._failures,
            self._last_failure,
            open_for,
        )

    def _close(self) -> None:
        if self._state is not State.CLOSED:
            log.info("%s circuit closed: the probe call succeeded", self.name)
            self._change(State.CLOSED)
        self._failures = 0
        self._opened_at = None

    def _change(self, state: State) -> None:
        self._state = state
        self._generation += 1

    def _rejection(self) -> CircuitOpen:
        # Half-open, a probe is under way and nobody knows yet: ask again after the current cool-down.
        wait = max(0.0, self._probe_due - self._clock()) if self._state is State.OPEN else self._open_for
        return CircuitOpen(self.name, retry_after=wait, failures=self._failures)


class Guard:
    """One call with its retries, as seen by the breaker. Its outcome is recorded on leaving the block."""

    def __init__(self, breaker: CircuitBreaker, answered: Answered) -> None:
        self._breaker = breaker
        self._answered = answered
        self._ticket: _Ticket | None = None

    def __enter__(self) -> Guard:
        self._ticket = self._breaker._admit()
        return self

    def check(self) -> None:
        """Call before each attempt: once other calls have opened the breaker, a retry is not sent either
        (the probe's own retries are)."""
        if self._ticket is not None:
            self._breaker._check(self._ticket)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._ticket is not None:
            verdict = Verdict.SUCCESS if exc is None else verdict_of(exc, self._answered)
            self._breaker._record(self._ticket, verdict, exc)


def _describe(error: BaseException | None) -> str | None:
    if isinstance(error, SyncError):
        return error.reason + (f" ({error.status})" if error.status else "")
    return type(error).__name__ if error is not None else None


# --- the process's breakers -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Breakers:
    """The process's breakers, one per dependency (built by the composition root, shared/runtime.py)."""

    spapi: CircuitBreaker
    dataverse: CircuitBreaker
    table_storage: CircuitBreaker

    @classmethod
    def create(
        cls, policy: BreakerPolicy, *, clock: Clock = time.monotonic, wall_clock: WallClock = utc_now
    ) -> Breakers:
        def breaker(name: str) -> CircuitBreaker:
            return CircuitBreaker(name, policy, clock=clock, wall_clock=wall_clock)

        return cls(breaker("SP-API"), breaker("Dataverse"), breaker("Table Storage"))

    def __iter__(self) -> Iterator[CircuitBreaker]:
        return iter((self.spapi, self.dataverse, self.table_storage))

    def snapshot(self) -> list[BreakerSnapshot]:
        return [breaker.snapshot() for breaker in self]


def skip_if_open(*breakers: CircuitBreaker, run: str, logger: logging.Logger = log) -> bool:
    """For timers: True, with one log line, when a dependency the run needs has its breaker open, so the
    run is skipped rather than failing call by call. Once a probe is due this is False again, and the run
    that follows sends it."""
    for breaker in breakers:
        if breaker.is_open():
            snapshot = breaker.snapshot()
            logger.warning(
                "%s skipped: %s circuit %s (last failure: %s; %s)",
                run,
                breaker.name,
                snapshot.state.value,
                snapshot.last_failure,
                f"next probe at {snapshot.next_probe_at.isoformat()}"
                if snapshot.next_probe_at
                else "a probe call is under way",
            )
            return True
    return False
