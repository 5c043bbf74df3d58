"""Amazon Selling Partner API (Orders v2026-01-01) and Login with Amazon, emulated on 127.0.0.1.

What it reproduces, after Amazon's published model ``orders_2026-01-01.json`` and the SP-API docs:

- LWA ``POST /auth/o2/token`` (refresh_token grant, plus client_credentials for grantless scopes): bearer
  tokens ``Atza|...`` that live 3600 s, OAuth error bodies (invalid_client 401, invalid_grant 400, ...);
- ``x-amz-access-token`` on every SP-API call (403 ``Unauthorized`` ErrorList otherwise), ``x-amzn-RequestId``
  on every response and ``x-amzn-RateLimit-Limit`` on successful ones;
- ``getOrder`` and ``searchOrders`` with ``includedData`` datasets, the searchOrders parameter rules, the
  ~2 minute data lag, 24 h pagination tokens, and per-operation token-bucket usage plans (opt-in);
- the fault kinds of ``HttpEmulator`` with SP-API throttling / 5xx bodies.

Operation names (for ``emulator.requests`` and ``FaultPlan.operations``): ``lwa.token``, ``getOrder``,
``searchOrders``; anything else is ``unknown``. The emulator never logs: bodies carry PII and tokens.
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, get_args
from urllib.parse import parse_qs, unquote

from sandbox.amazon_samples import FulfillmentStatus
from sandbox.http_emulator import EmulatorRequest, EmulatorResponse, FaultPlan, HttpEmulator

LWA_TOKEN: Final = "lwa.token"
GET_ORDER: Final = "getOrder"
SEARCH_ORDERS: Final = "searchOrders"
UNKNOWN: Final = "unknown"

LWA_PATH: Final = "/auth/o2/token"
DEFAULT_CLIENT_ID: Final = "sandbox-client-id"
DEFAULT_CLIENT_SECRET: Final = "sandbox-client-secret"
DEFAULT_REFRESH_TOKEN: Final = "sandbox-refresh-token"
ORDERS_PATH: Final = "/orders/2026-01-01/orders"

# Usage plans (rate in requests/second, burst) from the "Usage Plan" tables of getOrder and searchOrders in
# Amazon's selling-partner-api-models, models/orders-api-model/orders_2026-01-01.json (also listed in
# ../shared/reference/amazon-sp-api/rate_limits.json). Hard-coded: the emulator must not read ../shared.
DEFAULT_RATE_LIMITS: Final[Mapping[str, tuple[float, float]]] = {
    GET_ORDER: (0.5, 30),
    SEARCH_ORDERS: (0.0056, 20),
}

ACCESS_TOKEN_LIFETIME: Final = timedelta(seconds=3600)
PAGINATION_TOKEN_LIFETIME: Final = timedelta(hours=24)
DATA_LAG: Final = timedelta(minutes=2)  # "at least two minutes before the time of the request"
GRANTLESS_SCOPES: Final = frozenset(
    {"sellingpartnerapi::notifications", "sellingpartnerapi::client_credential:rotation"}
)

# The includedData enum of both operations, and where each dataset lives in an Order.
INCLUDED_DATA: Final = (
    "BUYER",
    "RECIPIENT",
    "PROCEEDS",
    "EXPENSE",
    "PROMOTION",
    "CANCELLATION",
    "FULFILLMENT",
    "PACKAGES",
    "TAX",
    "PAYMENT",
    "FULFILLMENT_ORDERS",
)
ORDER_DATASET_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "BUYER": ("buyer",),
    "RECIPIENT": ("recipient",),
    "PROCEEDS": ("proceeds",),
    "FULFILLMENT": ("fulfillment",),
    "PACKAGES": ("packages",),
    "TAX": ("tax",),
    "PAYMENT": ("payment",),
    "FULFILLMENT_ORDERS": ("fulfillmentOrders",),
}
ITEM_DATASET_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "PROCEEDS": ("proceeds",),
    "EXPENSE": ("expense",),
    "PROMOTION": ("promotion",),
    "CANCELLATION": ("cancellation",),
    "FULFILLMENT": ("fulfillment",),
    "TAX": ("tax",),
}
FULFILLMENT_STATUSES: Final = frozenset(get_args(FulfillmentStatus))
FULFILLED_BY: Final = frozenset({"MERCHANT", "AMAZON"})
MAX_MARKETPLACE_IDS: Final = 50
MAX_RESULTS_PER_PAGE: Final = 100

SEARCH_PARAMETERS: Final = frozenset(
    {
        "createdAfter",
        "createdBefore",
        "lastUpdatedAfter",
        "lastUpdatedBefore",
        "fulfillmentStatuses",
        "marketplaceIds",
        "fulfilledBy",
        "maxResultsPerPage",
        "paginationToken",
        "includedData",
    }
)
GET_ORDER_PARAMETERS: Final = frozenset({"includedData"})
# python-amazon-sp-api adds these on its own (sp_api.base._core.add_marketplaces); they carry no meaning here.
LIBRARY_MARKETPLACE_PARAMETERS: Final = frozenset({"MarketplaceId", "MarketplaceIds", "marketplace_ids"})

Clock = Callable[[], datetime]


def filter_datasets(order: Mapping[str, Any], included: Iterable[str]) -> dict[str, Any]:
    """A deep copy of a full order holding only the requested includedData datasets (items always stay)."""
    wanted = set(included)
    result = copy.deepcopy(dict(order))
    for dataset, fields in ORDER_DATASET_FIELDS.items():
        if dataset not in wanted:
            for name in fields:
                result.pop(name, None)
    for item in result.get("orderItems", []):
        for dataset, fields in ITEM_DATASET_FIELDS.items():
            if dataset not in wanted:
                for name in fields:
                    item.pop(name, None)
    return result


def format_rate(rate: float) -> str:
    """``x-amzn-RateLimit-Limit`` value: requests per second as a decimal string ("0.5", "0.0056")."""
    return repr(float(rate))


class _InvalidInputError(Exception):
    """A 400 InvalidInput with the message the caller sees."""


@dataclass
class _AccessToken:
    expires_at: datetime
    grantless: bool


@dataclass
class _TokenBucket:
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


@dataclass(frozen=True)
class _SearchQuery:
    time_field: str  # "createdTime" or "lastUpdatedTime"
    after: datetime
    before: datetime | None  # as given; None means "now - 2 minutes"
    marketplace_ids: frozenset[str]
    fulfillment_statuses: frozenset[str]
    fulfilled_by: frozenset[str]

    @property
    def before_parameter(self) -> str:
        return "createdBefore" if self.time_field == "createdTime" else "lastUpdatedBefore"


@dataclass(frozen=True)
class _PageState:
    query: _SearchQuery
    effective_before: datetime
    order_ids: tuple[str, ...]
    offset: int
    issued_at: datetime


class SpApiEmulator(HttpEmulator):
    """Login with Amazon + Orders API v2026-01-01 over real HTTP, with an in-memory order store."""

    server_name: ClassVar[str] = "spapi-emulator"

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        enforce_rate_limits: bool = False,
        rate_limits: Mapping[str, tuple[float, float]] | None = None,
        now: Clock | None = None,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.enforce_rate_limits = enforce_rate_limits
        unknown = set(rate_limits or {}) - set(DEFAULT_RATE_LIMITS)
        if unknown:
            raise ValueError(f"rate_limits names unknown operations: {sorted(unknown)}")
        self._rate_limits: dict[str, tuple[float, float]] = {**DEFAULT_RATE_LIMITS, **(rate_limits or {})}
        self._clock: Clock = now or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._orders: dict[str, dict[str, Any]] = {}
        self._stale: dict[str, deque[dict[str, Any]]] = {}
        self._tokens: dict[str, _AccessToken] = {}
        self._tokens_issued = 0
        self._buckets: dict[str, _TokenBucket] = {}
        self._pages: dict[str, _PageState] = {}

    def reset(self) -> None:
        """Back to a fresh state without restarting the server: no orders, tokens, pagination state,
        rate-limit history, request counts or faults (one server can then serve many tests)."""
        with self._lock:
            self._orders.clear()
            self._stale.clear()
            self._pages.clear()
            self._tokens.clear()
            self._tokens_issued = 0
            self._buckets.clear()
        self.faults = FaultPlan()
        self.requests.reset()

    # --- clock, tokens, rate limits -----------------------------------------------------------------
    def now(self) -> datetime:
        moment = self._clock()
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    @property
    def tokens_issued(self) -> int:
        """Access tokens handed out so far (by LWA calls and `issue_access_token`)."""
        with self._lock:
            return self._tokens_issued

    def issue_access_token(self) -> str:
        """A valid seller access token without an LWA round trip (for tests that are not about LWA)."""
        return self._issue_token(grantless=False)

    @property
    def issued_access_tokens(self) -> list[str]:
        """Every access token handed out so far (leak tests search logs for them)."""
        with self._lock:
            return list(self._tokens)

    def expire_access_tokens(self) -> None:
        """Make every issued token expired, as if an hour had passed: the next SP-API call gets 403."""
        with self._lock:
            past = self.now() - timedelta(seconds=1)
            for token in self._tokens.values():
                token.expires_at = past

    def rate_limit(self, operation: str) -> tuple[float, float]:
        """(rate per second, burst) of an operation's usage plan."""
        return self._rate_limits[operation]

    def reset_rate_limits(self) -> None:
        """Refill every token bucket to its burst."""
        with self._lock:
            self._buckets.clear()

    # --- order store ------------------------------------------------------------------------------
    def put_order(self, order: Mapping[str, Any]) -> None:
        """Store or replace a full order (every dataset present; the emulator strips per includedData)."""
        order_id = order.get("orderId")
        if not isinstance(order_id, str) or not order_id:
            raise ValueError("an order needs a string orderId")
        for name in ("createdTime", "lastUpdatedTime"):
            _parse_time(str(order.get(name)))  # fail here, not inside a request
        with self._lock:
            self._orders[order_id] = copy.deepcopy(dict(order))

    def put_orders(self, orders: Iterable[Mapping[str, Any]]) -> None:
        for order in orders:
            self.put_order(order)

    def get_stored_order(self, order_id: str) -> dict[str, Any] | None:
        with self._lock:
            stored = self._orders.get(order_id)
            return copy.deepcopy(stored) if stored is not None else None

    def remove_order(self, order_id: str) -> None:
        with self._lock:
            self._orders.pop(order_id, None)
            self._stale.pop(order_id, None)

    def clear_orders(self) -> None:
        with self._lock:
            self._orders.clear()
            self._stale.clear()
            self._pages.clear()

    @property
    def orders(self) -> list[dict[str, Any]]:
        """Copies of every stored order, in orderId order."""
        with self._lock:
            return [copy.deepcopy(self._orders[key]) for key in sorted(self._orders)]

    def stale_reads(self, order_id: str, previous_version: Mapping[str, Any]) -> None:
        """Eventual consistency: the next getOrder of `order_id` serves `previous_version` (once per call)."""
        with self._lock:
            self._stale.setdefault(order_id, deque()).append(copy.deepcopy(dict(previous_version)))

    # --- HttpEmulator hooks -----------------------------------------------------------------------
    def operation_of(self, request: EmulatorRequest) -> str:
        path = request.path
        if path == LWA_PATH:
            return LWA_TOKEN if request.method == "POST" else UNKNOWN
        if request.method != "GET":
            return UNKNOWN
        if path == ORDERS_PATH:
            return SEARCH_ORDERS
        if path.startswith(ORDERS_PATH + "/"):
            rest = path[len(ORDERS_PATH) + 1 :]
            if rest and "/" not in rest:
                return GET_ORDER
        return UNKNOWN

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        operation = self.operation_of(request)
        if operation == LWA_TOKEN:
            return self._lwa_token(request)
        if operation == UNKNOWN:
            return self._error(404, "NotFound", "The requested resource was not found.")
        denied = self._check_access(request)
        if denied is not None:
            return denied
        if self.enforce_rate_limits and not self._take_token(operation):
            return self._quota_exceeded(operation)
        try:
            if operation == GET_ORDER:
                return self._get_order(request)
            return self._search_orders(request)
        except _InvalidInputError as exc:
            return self._error(400, "InvalidInput", str(exc), operation)

    def throttled_response(self, request: EmulatorRequest) -> EmulatorResponse:
        operation = self.operation_of(request)
        if operation == LWA_TOKEN:
            # LWA documents no throttling body; answer the OAuth 2.0 way (RFC 6749 error object).
            return self._oauth_error(429, "temporarily_unavailable", "Rate exceeded. Retry later.")
        return self._quota_exceeded(operation)

    def server_error_response(self, request: EmulatorRequest, status: int) -> EmulatorResponse:
        operation = self.operation_of(request)
        if operation == LWA_TOKEN:
            if status == 503:
                return self._oauth_error(
                    503, "temporarily_unavailable", "The service is temporarily unavailable."
                )
            return self._oauth_error(status, "server_error", "An internal server error occurred.")
        if status == 503:
            return self._error(
                503, "ServiceUnavailable", "Service temporarily unavailable. Please try again."
            )
        return self._error(status, "InternalFailure", "We encountered an internal error. Please try again.")

    # --- Login with Amazon --------------------------------------------------------------------------
    def _lwa_token(self, request: EmulatorRequest) -> EmulatorResponse:
        form = _form_fields(request)
        if form is None:
            return self._oauth_error(400, "invalid_request", "The request body could not be parsed.")
        grant_type = form.get("grant_type")
        if not grant_type:
            return self._oauth_error(
                400, "invalid_request", "The request is missing a required parameter : grant_type"
            )
        if grant_type not in ("refresh_token", "client_credentials"):
            return self._oauth_error(
                400, "unsupported_grant_type", "The authorization grant type is not supported."
            )
        for name in ("client_id", "client_secret"):
            if not form.get(name):
                return self._oauth_error(
                    400, "invalid_request", f"The request is missing a required parameter : {name}"
                )
        if not (
            secrets.compare_digest(form["client_id"], self.client_id)
            and secrets.compare_digest(form["client_secret"], self.client_secret)
        ):
            return self._oauth_error(401, "invalid_client", "Client authentication failed")
        if grant_type == "client_credentials":
            scope = form.get("scope")
            if not scope:
                return self._oauth_error(
                    400, "invalid_request", "The request is missing a required parameter : scope"
                )
            if scope not in GRANTLESS_SCOPES:
                return self._oauth_error(400, "invalid_scope", "An unknown scope was requested")
            token = self._issue_token(grantless=True)
            return self._lwa_json(
                200,
                {"access_token": token, "scope": scope, "token_type": "bearer", "expires_in": 3600},
            )
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            return self._oauth_error(
                400, "invalid_request", "The request is missing a required parameter : refresh_token"
            )
        if not secrets.compare_digest(refresh_token, self.refresh_token):
            return self._oauth_error(
                400, "invalid_grant", "The request has an invalid grant parameter : refresh_token"
            )
        token = self._issue_token(grantless=False)
        return self._lwa_json(
            200,
            {
                "access_token": token,
                "refresh_token": refresh_token,
                "token_type": "bearer",
                "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            },
        )

    def _issue_token(self, *, grantless: bool) -> str:
        token = "Atza|" + secrets.token_urlsafe(96)
        with self._lock:
            now = self.now()
            for key in [k for k, v in self._tokens.items() if v.expires_at <= now]:
                del self._tokens[key]
            self._tokens[token] = _AccessToken(now + ACCESS_TOKEN_LIFETIME, grantless)
            self._tokens_issued += 1
        return token

    def _check_access(self, request: EmulatorRequest) -> EmulatorResponse | None:
        token = request.headers.get("x-amz-access-token", "")
        with self._lock:
            record = self._tokens.get(token) if token else None
            now = self.now()
        if record is None or record.grantless:
            return self._error(403, "Unauthorized", "Access to requested resource is denied.")
        if record.expires_at <= now:
            return self._error(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                details="The access token you provided has expired.",
            )
        return None

    def _take_token(self, operation: str) -> bool:
        rate, burst = self._rate_limits[operation]
        with self._lock:
            now = self.now()
            bucket = self._buckets.get(operation)
            if bucket is None:
                bucket = self._buckets[operation] = _TokenBucket(rate, burst, float(burst), now)
            return bucket.take(now)

    # --- getOrder -----------------------------------------------------------------------------------------
    def _get_order(self, request: EmulatorRequest) -> EmulatorResponse:
        _reject_unknown_parameters(request, GET_ORDER_PARAMETERS)
        included = _included_data(request)
        order_id = unquote(request.path[len(ORDERS_PATH) + 1 :])
        with self._lock:
            stale = self._stale.get(order_id)
            order = stale.popleft() if stale else self._orders.get(order_id)
            if stale is not None and not stale:
                del self._stale[order_id]
            if order is None:
                return self._error(404, "NotFound", f"Order {order_id} was not found.", GET_ORDER)
            body = {"order": filter_datasets(order, included)}
        return self._json(200, body, GET_ORDER)

    # --- searchOrders -----------------------------------------------------------------------------------
    def _search_orders(self, request: EmulatorRequest) -> EmulatorResponse:
        _reject_unknown_parameters(request, SEARCH_PARAMETERS)
        included = _included_data(request)
        page_size = _page_size(request)
        query = _search_query(request)
        token = request.query_value("paginationToken")
        now = self.now()
        with self._lock:
            if token is not None:
                state = self._pages.get(token)
                if state is None or now - state.issued_at > PAGINATION_TOKEN_LIFETIME:
                    raise _InvalidInputError("The paginationToken is invalid or has expired.")
                if state.query != query:
                    raise _InvalidInputError(
                        "The request parameters do not match the request that returned this paginationToken: "
                        "repeat the original search parameters (only maxResultsPerPage and includedData "
                        "may change)."
                    )
            else:
                state = self._start_search(query, now)
            ids = state.order_ids[state.offset : state.offset + page_size]
            orders = [filter_datasets(self._orders[i], included) for i in ids if i in self._orders]
            body: dict[str, Any] = {"orders": orders}
            next_offset = state.offset + len(ids)
            if next_offset < len(state.order_ids):
                next_token = secrets.token_urlsafe(32)
                self._pages[next_token] = _PageState(
                    query, state.effective_before, state.order_ids, next_offset, now
                )
                body["pagination"] = {"nextToken": next_token}
            body[query.before_parameter] = _iso(state.effective_before)
            self._forget_expired_pages(now)
        return self._json(200, body, SEARCH_ORDERS)

    def _start_search(self, query: _SearchQuery, now: datetime) -> _PageState:
        latest = now - DATA_LAG
        if query.before is not None:
            if query.before < query.after:
                raise _InvalidInputError(
                    f"{query.before_parameter} must be equal to or after {_after_name(query)}."
                )
            if query.before > latest:
                raise _InvalidInputError(
                    f"{query.before_parameter} must be at least two minutes before the time of the request."
                )
            effective_before = query.before
        else:
            effective_before = latest.replace(microsecond=0)
        matches = []
        for order in self._orders.values():
            moment = _parse_time(str(order[query.time_field]))
            if not query.after <= moment <= effective_before:
                continue
            channel = order.get("salesChannel") or {}
            if query.marketplace_ids and channel.get("marketplaceId") not in query.marketplace_ids:
                continue
            fulfillment = order.get("fulfillment") or {}
            if (
                query.fulfillment_statuses
                and fulfillment.get("fulfillmentStatus") not in query.fulfillment_statuses
            ):
                continue
            if query.fulfilled_by and fulfillment.get("fulfilledBy") not in query.fulfilled_by:
                continue
            matches.append((moment, str(order["orderId"])))
        matches.sort()
        return _PageState(query, effective_before, tuple(order_id for _, order_id in matches), 0, now)

    def _forget_expired_pages(self, now: datetime) -> None:
        for key in [k for k, v in self._pages.items() if now - v.issued_at > PAGINATION_TOKEN_LIFETIME]:
            del self._pages[key]

    # --- responses ------------------------------------------------------------------------------------
    def _headers(self, operation: str | None = None) -> dict[str, str]:
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        if operation in self._rate_limits:
            headers["x-amzn-RateLimit-Limit"] = format_rate(self._rate_limits[operation][0])
        return headers

    def _json(self, status: int, payload: Any, operation: str | None = None) -> EmulatorResponse:
        return EmulatorResponse.json(status, payload, self._headers(operation))

    def _error(
        self, status: int, code: str, message: str, operation: str | None = None, *, details: str = ""
    ) -> EmulatorResponse:
        return self._json(
            status, {"errors": [{"code": code, "message": message, "details": details}]}, operation
        )

    def _quota_exceeded(self, operation: str) -> EmulatorResponse:
        return self._error(
            429,
            "QuotaExceeded",
            "You exceeded your quota for the requested resource.",
            operation if operation in self._rate_limits else None,
        )

    def _lwa_json(self, status: int, payload: Mapping[str, Any]) -> EmulatorResponse:
        response = EmulatorResponse.json(status, payload, self._headers())
        response.headers["Content-Type"] = "application/json;charset=UTF-8"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return response

    def _oauth_error(self, status: int, error: str, description: str) -> EmulatorResponse:
        return self._lwa_json(status, {"error_description": description, "error": error})


# --- request parsing ------------------------------------------------------------------------------------


def _form_fields(request: EmulatorRequest) -> dict[str, str] | None:
    """LWA takes a form body (what python-amazon-sp-api sends) or JSON."""
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "json" in request.headers.get("content-type", "").lower():
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        return {str(k): str(v) for k, v in data.items() if v is not None}
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items() if values}


def _reject_unknown_parameters(request: EmulatorRequest, allowed: frozenset[str]) -> None:
    unknown = sorted(set(request.query) - allowed - LIBRARY_MARKETPLACE_PARAMETERS)
    if unknown:
        raise _InvalidInputError(f"Unknown query parameter(s): {', '.join(unknown)}.")


def _included_data(request: EmulatorRequest) -> frozenset[str]:
    values = request.query_list("includedData")
    invalid = sorted({value for value in values if value not in INCLUDED_DATA})
    if invalid:
        raise _InvalidInputError(
            f"Invalid includedData value(s): {', '.join(invalid)}. Valid values: {', '.join(INCLUDED_DATA)}."
        )
    return frozenset(values)


def _page_size(request: EmulatorRequest) -> int:
    raw = request.query_value("maxResultsPerPage")
    if raw is None:
        return MAX_RESULTS_PER_PAGE
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_RESULTS_PER_PAGE:
        raise _InvalidInputError(
            f"maxResultsPerPage must be an integer between 1 and {MAX_RESULTS_PER_PAGE}."
        )
    return size


def _search_query(request: EmulatorRequest) -> _SearchQuery:
    times = {
        name: _time_parameter(request, name)
        for name in ("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore")
    }
    created_after, last_updated_after = times["createdAfter"], times["lastUpdatedAfter"]
    if (created_after is None) == (last_updated_after is None):
        which = "both were" if created_after is not None else "neither was"
        raise _InvalidInputError(
            f"Exactly one of createdAfter and lastUpdatedAfter must be provided; {which} given."
        )
    if created_after is not None:
        if times["lastUpdatedBefore"] is not None:
            raise _InvalidInputError(
                "lastUpdatedBefore can only be used with lastUpdatedAfter, not with createdAfter."
            )
        time_field, after, before = "createdTime", created_after, times["createdBefore"]
    else:
        if times["createdBefore"] is not None:
            raise _InvalidInputError(
                "createdBefore can only be used with createdAfter, not with lastUpdatedAfter."
            )
        assert last_updated_after is not None
        time_field, after, before = "lastUpdatedTime", last_updated_after, times["lastUpdatedBefore"]

    marketplace_ids = request.query_list("marketplaceIds")
    if len(marketplace_ids) > MAX_MARKETPLACE_IDS:
        raise _InvalidInputError(
            f"marketplaceIds accepts at most {MAX_MARKETPLACE_IDS} values; {len(marketplace_ids)} given."
        )
    statuses = request.query_list("fulfillmentStatuses")
    bad_statuses = sorted(set(statuses) - FULFILLMENT_STATUSES)
    if bad_statuses:
        raise _InvalidInputError(f"Invalid fulfillmentStatuses value(s): {', '.join(bad_statuses)}.")
    fulfilled_by = request.query_list("fulfilledBy")
    bad_fulfilled_by = sorted(set(fulfilled_by) - FULFILLED_BY)
    if bad_fulfilled_by:
        raise _InvalidInputError(f"Invalid fulfilledBy value(s): {', '.join(bad_fulfilled_by)}.")
    return _SearchQuery(
        time_field=time_field,
        after=after,
        before=before,
        marketplace_ids=frozenset(marketplace_ids),
        fulfillment_statuses=frozenset(statuses),
        fulfilled_by=frozenset(fulfilled_by),
    )


def _time_parameter(request: EmulatorRequest, name: str) -> datetime | None:
    raw = request.query_value(name)
    if raw is None:
        return None
    try:
        return _parse_time(raw)
    except ValueError:
        raise _InvalidInputError(
            f"{name} must be an ISO 8601 date-time, for example 2025-01-01T00:00:00Z."
        ) from None


def _after_name(query: _SearchQuery) -> str:
    return "createdAfter" if query.time_field == "createdTime" else "lastUpdatedAfter"


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
