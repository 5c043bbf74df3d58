"""Is the app able to work right now? One cheap call to each dependency, side by side, within a time limit.

    table_storage      a point read of the state table
    service_bus        a peek at the notifications queue (locks nothing)
    dataverse          WhoAmI
    login_with_amazon  a seller access token (cached by the library for ~53 minutes)

A check reports how long it took and, when it failed, why in a few words: the error's reason and status
(`DataverseUnavailable (503)`, `CircuitOpen`), or the SDK error's type name. Never an error message, which
could name a host, a URL with a signature, or a token's audience. A check still running when the time limit
is up counts as failed; its thread is left to finish on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from shared.errors import SyncError
from shared.sanitize import public_text

Probe = Callable[[], str]  # returns a few words on success, raises on failure
HEALTH_KIND = HEALTH_NAME = "health-probe"  # the progress row the table check reads (it need not exist)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    latency_ms: int
    detail: str


@dataclass(frozen=True)
class HealthReport:
    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


class HealthCheck:
    def __init__(
        self, probes: Mapping[str, Probe], *, timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._probes = dict(probes)
        self._timeout = timeout
        self._clock = clock

    def run(self) -> HealthReport:
        pool = ThreadPoolExecutor(max_workers=max(1, len(self._probes)), thread_name_prefix="health")
        try:
            futures = {name: pool.submit(self._timed, name, probe) for name, probe in self._probes.items()}
            deadline = self._clock() + self._timeout
            results = []
            for name, future in futures.items():
                try:
                    results.append(future.result(timeout=max(0.0, deadline - self._clock())))
                except FutureTimeout:
                    results.append(
                        CheckResult(
                            name, False, round(self._timeout * 1000), f"no answer within {self._timeout:g}s"
                        )
                    )
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return HealthReport(tuple(results))

    def _timed(self, name: str, probe: Probe) -> CheckResult:
        started = self._clock()
        try:
            detail = probe()
        except Exception as exc:  # noqa: BLE001 - a failed check is the answer, whatever failed
            return CheckResult(name, False, _ms(self._clock() - started), failure_detail(exc))
        return CheckResult(name, True, _ms(self._clock() - started), public_text(detail, 200))


def failure_detail(exc: BaseException) -> str:
    """Why a call failed, in words that are safe to show anyone: reason and status, or the error's type."""
    if isinstance(exc, SyncError):
        return public_text(exc.reason + (f" ({exc.status})" if exc.status else ""), 200)
    return type(exc).__name__


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
