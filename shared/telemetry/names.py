"""The app's custom metrics and span attributes: one list, so the README's Kusto queries, the dashboards and
the code agree on every name.

Metric names land in Application Insights' `customMetrics` table as they are written here, their attributes in
`customDimensions`. Metric attributes stay low-cardinality (reason codes, operation names, outcomes): an order
id there would make one time series per order. Ids go on spans instead (`dependencies.customDimensions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    COUNTER = "counter"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Kind
    unit: str
    description: str


ORDERS_SYNCED = Metric(
    "amazon_sync.orders.synced",
    Kind.COUNTER,
    "{order}",
    "Orders order sync finished without a failure, by outcome (written, stale, unchanged, closed_in_crm) and "
    "source (notification, bulk)",
)
SYNC_LAG = Metric(
    "amazon_sync.orders.sync_lag",
    Kind.HISTOGRAM,
    "s",
    "CRM write time minus the order's Amazon lastUpdatedTime, for every order written",
)
FAILURES = Metric(
    "amazon_sync.failures",
    Kind.COUNTER,
    "{item}",
    "Messages and orders that did not land, by reason and what became of them (dead_letter, reschedule, "
    "abandon, recorded, retry_later)",
)
SPAPI_CALLS = Metric(
    "amazon_sync.spapi.calls",
    Kind.COUNTER,
    "{request}",
    "SP-API requests sent, by operation, retries included",
)
SPAPI_THROTTLES = Metric(
    "amazon_sync.spapi.throttles", Kind.COUNTER, "{response}", "SP-API 429 answers, by operation"
)
DATAVERSE_CALLS = Metric(
    "amazon_sync.dataverse.calls",
    Kind.COUNTER,
    "{request}",
    "Dataverse Web API requests sent, by operation, retries included",
)
DATAVERSE_THROTTLES = Metric(
    "amazon_sync.dataverse.throttles",
    Kind.COUNTER,
    "{response}",
    "Dataverse 429 answers (service protection limits), by operation",
)
TIMER_DURATION = Metric(
    "amazon_sync.timer.duration",
    Kind.HISTOGRAM,
    "s",
    "Duration of one timer function run, by timer and outcome",
)
ALL_METRICS = (
    ORDERS_SYNCED,
    SYNC_LAG,
    FAILURES,
    SPAPI_CALLS,
    SPAPI_THROTTLES,
    DATAVERSE_CALLS,
    DATAVERSE_THROTTLES,
    TIMER_DURATION,
)

# --- span attributes (metric attributes are plain words: outcome, source, reason, operation, timer) -----
AMAZON_ORDER_ID = "amazon.order_id"
NOTIFICATION_ID = "amazon.notification_id"  # comma-separated when several notifications announced one change
CRM_ID = "crm.salesorder_id"
OUTCOME = "sync.outcome"
SOURCE = "sync.source"
LAG_SECONDS = "sync.lag_seconds"  # on the order span too: Kusto takes percentiles of span values, not of
# the histogram Application Insights stores as sum/count/min/max
REASON = "failure.reason"
TRANSIENT = "failure.transient"
TIMER = "timer"

ORDER_SPAN = "order_sync.order"
