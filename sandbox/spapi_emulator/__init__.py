"""Amazon Selling Partner API and Login with Amazon, emulated on 127.0.0.1 (one module per API).

Import from here: ``from sandbox.spapi_emulator import SpApiEmulator``. The names the single-module emulator
exported stay importable from this package.
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
