"""Amazon Selling Partner API and Login with Amazon, emulated on 127.0.0.1 (one module per API).

Import from here: ``from sandbox.spapi_emulator import SpApiEmulator``. The names the single-module emulator
exported stay importable from this package.

| module | operations (model operationIds) | test hooks on ``SpApiEmulator`` |
|---|---|---|
| ``lwa`` | ``POST /auth/o2/token`` (refresh_token and client_credentials grants) | ``issue_access_token``, ``issue_grantless_token``, ``expire_access_tokens`` |
| ``orders`` | getOrder, searchOrders (v2026-01-01) | ``put_order``, ``stale_reads``, ``orders`` |
| ``orders_v0`` | confirmShipment | ``shipments.attempts`` / ``confirmations`` |
| ``notifications`` | get/create/delete destinations, get/create subscriptions, by id | ``notifications.destinations`` / ``subscriptions`` / ``publish`` / ``outbox`` |
| ``finances`` | listTransactions (2024-06-19) | ``finances.ledger_from_orders`` / ``put_ledger`` / ``release`` / ``add_late_transaction`` |
| ``reports`` | getReports, createReport, cancelReport, getReport, getReportDocument | ``reports.finish_now`` / ``add_settlement_report`` / ``add_report_lines`` |
| ``listings`` | getListingsItem, patchListingsItem (state in ``listing_store``) | ``listings.put`` / ``seed_catalog`` / ``quantity`` / ``price`` / ``submissions`` |
| ``feeds`` | getFeeds, createFeed, getFeed, createFeedDocument, getFeedDocument | ``feeds.finish_now`` / ``report`` |
| ``fba_inventory`` | getInventorySummaries | ``inventory.set_stock`` / ``availability_notification`` |
| ``sellers`` | getMarketplaceParticipations | ``sellers.suspended_marketplaces`` |
| ``documents`` | the presigned S3-like URLs of report and feed documents (GET, PUT) | ``documents.get`` |

Usage plans of every operation are in ``usage_plans``; ``enforce_rate_limits=True`` turns them on.
"""

from sandbox.spapi_emulator.context import Clock
from sandbox.spapi_emulator.emulator import UNKNOWN, SpApiEmulator
from sandbox.spapi_emulator.lwa import (
    ACCESS_TOKEN_LIFETIME,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    GRANTLESS_SCOPES,
    LWA_PATH,
    LWA_TOKEN,
    NOTIFICATIONS_SCOPE,
)
from sandbox.spapi_emulator.orders import (
    DATA_LAG,
    FULFILLED_BY,
    FULFILLMENT_STATUSES,
    GET_ORDER,
    GET_ORDER_PARAMETERS,
    INCLUDED_DATA,
    ITEM_DATASET_FIELDS,
    MAX_MARKETPLACE_IDS,
    MAX_RESULTS_PER_PAGE,
    ORDER_DATASET_FIELDS,
    ORDERS_PATH,
    PAGINATION_TOKEN_LIFETIME,
    SEARCH_ORDERS,
    SEARCH_PARAMETERS,
    filter_datasets,
)
from sandbox.spapi_emulator.params import LIBRARY_MARKETPLACE_PARAMETERS
from sandbox.spapi_emulator.usage_plans import DEFAULT_RATE_LIMITS, USAGE_PLANS, UsagePlan, format_rate

__all__ = [
    "ACCESS_TOKEN_LIFETIME",
    "DATA_LAG",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_REFRESH_TOKEN",
    "FULFILLED_BY",
    "FULFILLMENT_STATUSES",
    "GET_ORDER",
    "GET_ORDER_PARAMETERS",
    "GRANTLESS_SCOPES",
    "INCLUDED_DATA",
    "ITEM_DATASET_FIELDS",
    "LIBRARY_MARKETPLACE_PARAMETERS",
    "LWA_PATH",
    "LWA_TOKEN",
    "MAX_MARKETPLACE_IDS",
    "MAX_RESULTS_PER_PAGE",
    "NOTIFICATIONS_SCOPE",
    "ORDERS_PATH",
    "ORDER_DATASET_FIELDS",
    "PAGINATION_TOKEN_LIFETIME",
    "SEARCH_ORDERS",
    "SEARCH_PARAMETERS",
    "UNKNOWN",
    "USAGE_PLANS",
    "Clock",
    "SpApiEmulator",
    "UsagePlan",
    "filter_datasets",
    "format_rate",
]
