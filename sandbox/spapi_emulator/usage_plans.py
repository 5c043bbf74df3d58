"""Amazon's default usage plans (token bucket per operation) and the bucket that enforces them.

Rates (requests per second) and bursts are copied from the "Usage Plan" tables of Amazon's models, as listed
in ``rate_limits.json`` of selling-partner-api-models; a contract test keeps this table equal to that file.
Hard-coded on purpose: the emulator must not read reference files at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, NamedTuple


class UsagePlan(NamedTuple):
    rate: float  # requests per second, refilled continuously
    burst: int  # bucket size: calls allowed back to back from a full bucket


USAGE_PLANS: Final[Mapping[str, UsagePlan]] = {
    # Orders API v2026-01-01
    "getOrder": UsagePlan(0.5, 30),
    "searchOrders": UsagePlan(0.0056, 20),
    # Orders API v0 (its write operations are not deprecated)
    "confirmShipment": UsagePlan(2.0, 10),
    # Notifications API v1
    "getSubscriptions": UsagePlan(1.0, 5),
    "getSubscription": UsagePlan(1.0, 5),
    "createSubscription": UsagePlan(1.0, 5),
    "getSubscriptionById": UsagePlan(1.0, 5),
    "deleteSubscriptionById": UsagePlan(1.0, 5),
    "getDestinations": UsagePlan(1.0, 5),
    "createDestination": UsagePlan(1.0, 5),
    "getDestination": UsagePlan(1.0, 5),
    "deleteDestination": UsagePlan(1.0, 5),
    # Finances API 2024-06-19
    "listTransactions": UsagePlan(0.5, 10),
    # Reports API 2021-06-30
    "getReports": UsagePlan(0.0222, 10),
    "createReport": UsagePlan(0.0167, 15),
    "cancelReport": UsagePlan(0.0222, 10),
    "getReport": UsagePlan(2.0, 15),
    "getReportDocument": UsagePlan(0.0167, 15),
    # Listings Items API 2021-08-01
    "getListingsItem": UsagePlan(5.0, 10),
    "patchListingsItem": UsagePlan(5.0, 5),
    # Feeds API 2021-06-30
    "getFeeds": UsagePlan(0.0222, 10),
    "createFeed": UsagePlan(0.0083, 15),
    "getFeed": UsagePlan(2.0, 15),
    "createFeedDocument": UsagePlan(0.5, 15),
    "getFeedDocument": UsagePlan(0.0222, 10),
    # FBA Inventory API v1
    "getInventorySummaries": UsagePlan(2.0, 2),
    # Sellers API v1
    "getMarketplaceParticipations": UsagePlan(0.016, 15),
}

# The public name the first emulator exported: operation -> (rate, burst).
DEFAULT_RATE_LIMITS: Final[Mapping[str, tuple[float, float]]] = {
    operation: (plan.rate, plan.burst) for operation, plan in USAGE_PLANS.items()
}


def format_rate(rate: float) -> str:
    """``x-amzn-RateLimit-Limit`` value: requests per second as a decimal string ("0.5", "0.0056")."""
    return repr(float(rate))


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    updated: datetime

    def take(self, now: datetime) -> bool:
        elapsed = max(0.0, (now - self.updated).total_seconds())
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = max(now, self.updated)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimiter:
    """One bucket per operation, refilled on the emulator's clock (tests move time instead of sleeping)."""

    def __init__(self, plans: Mapping[str, tuple[float, float]], clock: Callable[[], datetime]) -> None:
        self._plans = dict(plans)
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def plan(self, operation: str) -> tuple[float, float] | None:
        return self._plans.get(operation)

    def take(self, operation: str) -> bool:
        plan = self._plans.get(operation)
        if plan is None:
            return True
        rate, burst = plan
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(operation)
            if bucket is None:
                bucket = self._buckets[operation] = TokenBucket(rate, burst, float(burst), now)
            return bucket.take(now)

    def refill(self) -> None:
        with self._lock:
            self._buckets.clear()
