"""Amazon's published usage plans, the starting point of our token buckets.

Source: the "Usage Plan" table of each operation in Amazon's models (a contract test compares every entry
with them). Amazon may grant a seller more; the connector then follows the `x-amzn-RateLimit-Limit`
response header. Plans are per seller and application, per operation.
"""

from __future__ import annotations

from typing import NamedTuple


class UsagePlan(NamedTuple):
    rate: float  # requests per second
    burst: int


PUBLISHED_USAGE_PLANS: dict[str, UsagePlan] = {
    # Orders v2026-01-01
    "getOrder": UsagePlan(0.5, 30),
    # One request per ~3 minutes after the burst: keep it for bursts and sweeps, 100 orders a page.
    "searchOrders": UsagePlan(0.0056, 20),
    # Orders v0 (its write operations are not deprecated)
    "confirmShipment": UsagePlan(2.0, 10),
    # Finances 2024-06-19
    "listTransactions": UsagePlan(0.5, 10),
    # Reports 2021-06-30
    "getReports": UsagePlan(0.0222, 10),
    "createReport": UsagePlan(0.0167, 15),
    "getReport": UsagePlan(2.0, 15),
    "cancelReport": UsagePlan(0.0222, 10),
    "getReportDocument": UsagePlan(0.0167, 15),
    # Listings Items 2021-08-01
    "getListingsItem": UsagePlan(5.0, 10),
    "patchListingsItem": UsagePlan(5.0, 5),
    # Feeds 2021-06-30
    "createFeedDocument": UsagePlan(0.5, 15),
    "createFeed": UsagePlan(0.0083, 15),
    "getFeed": UsagePlan(2.0, 15),
    "getFeedDocument": UsagePlan(0.0222, 10),
    # FBA Inventory v1
    "getInventorySummaries": UsagePlan(2.0, 2),
    # Notifications v1
    "getSubscription": UsagePlan(1.0, 5),
    "createSubscription": UsagePlan(1.0, 5),
    "getSubscriptionById": UsagePlan(1.0, 5),
    "deleteSubscriptionById": UsagePlan(1.0, 5),
    "getDestinations": UsagePlan(1.0, 5),
    "createDestination": UsagePlan(1.0, 5),
    "deleteDestination": UsagePlan(1.0, 5),
    # Sellers v1
    "getMarketplaceParticipations": UsagePlan(0.016, 15),
}
