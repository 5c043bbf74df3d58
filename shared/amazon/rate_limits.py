"""Amazon's published usage plans, the starting point of our token buckets.

Source: the "Usage Plan" table of each operation in Amazon's models (orders_2026-01-01.json). Amazon may
grant a seller more; the connector then follows the `x-amzn-RateLimit-Limit` response header.
"""

from __future__ import annotations

from typing import NamedTuple


class UsagePlan(NamedTuple):
    rate: float  # requests per second
    burst: int


PUBLISHED_USAGE_PLANS: dict[str, UsagePlan] = {
    "getOrder": UsagePlan(0.5, 30),
    # One request per ~3 minutes after the burst: keep it for bursts and sweeps, 100 orders a page.
    "searchOrders": UsagePlan(0.0056, 20),
}
