"""``SpApiEmulator``: Login with Amazon plus the SP-API operations the product uses, on 127.0.0.1.

The composition root of the package. Each API lives in its own module and contributes routes; this class
runs the pipeline every call goes through, in Amazon's order: route (404 for anything else) -> access token
of the kind the route needs (403) -> usage plan (429 QuotaExceeded) -> query parameters the model declares
(400 for others) -> handler (its ApiError becomes an ErrorList) -> headers (``x-amzn-RequestId`` always,
``x-amzn-RateLimit-Limit`` with the operation's rate except on 403). Faults (throttle, 5xx, drop, lost
response) come from ``HttpEmulator`` before any of that. The emulator never logs: bodies carry PII and tokens.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from sandbox.amazon_samples import DEFAULT_SELLER_ID, MARKETPLACES
from sandbox.http_emulator import EmulatorRequest, EmulatorResponse, FaultPlan, HttpEmulator
from sandbox.spapi_emulator.context import Clock, EmulatorContext
from sandbox.spapi_emulator.documents import DocumentStore, s3_error
from sandbox.spapi_emulator.errors import ApiError
from sandbox.spapi_emulator.fba_inventory import FbaInventoryApi
from sandbox.spapi_emulator.feeds import FeedsApi
from sandbox.spapi_emulator.finances import FinancesApi
from sandbox.spapi_emulator.listing_store import ListingStore
from sandbox.spapi_emulator.listings import ListingsApi
from sandbox.spapi_emulator.lwa import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    LWA_TOKEN,
    NOTIFICATIONS_SCOPE,
    LoginWithAmazon,
    TokenStore,
    oauth_error,
)
from sandbox.spapi_emulator.notifications import NotificationsApi
from sandbox.spapi_emulator.orders import OrdersApi, OrderStore
from sandbox.spapi_emulator.orders_v0 import ShipmentsApi
from sandbox.spapi_emulator.params import reject_unknown_parameters
from sandbox.spapi_emulator.reports import ReportsApi
from sandbox.spapi_emulator.routes import Route, RouteTable
from sandbox.spapi_emulator.sellers import SellersApi
from sandbox.spapi_emulator.usage_plans import DEFAULT_RATE_LIMITS, RateLimiter, format_rate

UNKNOWN: Final = "unknown"


class SpApiEmulator(HttpEmulator):
    """Login with Amazon + SP-API over real HTTP, with in-memory state that tests can seed and inspect."""

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
        seller_id: str = DEFAULT_SELLER_ID,
        marketplace_ids: Iterable[str] = tuple(MARKETPLACES),
        seed: int = 0,
    ) -> None:
        super().__init__()
        unknown = set(rate_limits or {}) - set(DEFAULT_RATE_LIMITS)
        if unknown:
            raise ValueError(f"rate_limits names unknown operations: {sorted(unknown)}")
        marketplace_ids = tuple(marketplace_ids)
        if not marketplace_ids or set(marketplace_ids) - set(MARKETPLACES):
            raise ValueError(f"marketplace_ids must be among {sorted(MARKETPLACES)}")
        self.enforce_rate_limits = enforce_rate_limits
        self._rate_limits: dict[str, tuple[float, float]] = {**DEFAULT_RATE_LIMITS, **(rate_limits or {})}
        self.ctx = EmulatorContext(
            clock=now or _system_clock,
            seller_id=seller_id,
            marketplace_ids=marketplace_ids,
            base_url=lambda: self.base_url,
            seed=seed,
        )
        self._limiter = RateLimiter(self._rate_limits, self.ctx.now)
        self._tokens = TokenStore(self.ctx)
        self.lwa = LoginWithAmazon(
            self.ctx,
            self._tokens,
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
        )
        self.documents = DocumentStore(self.ctx)
        self._orders = OrderStore(self.ctx)
        self._orders_api = OrdersApi(self.ctx, self._orders)
        # Test-facing parts, one per API: seed state and inspect what the product did.
        self.shipments = ShipmentsApi(self.ctx, self._orders)
        self.notifications = NotificationsApi(self.ctx)
        self.finances = FinancesApi(self.ctx, self._orders)
        self.reports = ReportsApi(self.ctx, self.documents, self._orders, self.notifications)
        self.listings = ListingStore(self.ctx)
        self._listings_api = ListingsApi(self.ctx, self.listings)
        self.feeds = FeedsApi(self.ctx, self.documents, self.listings)
        self.inventory = FbaInventoryApi(self.ctx)
        self.sellers = SellersApi(self.ctx)
        self.routes = RouteTable(
            [
                *self.lwa.routes(),
                *self._orders_api.routes(),
                *self.shipments.routes(),
                *self.notifications.routes(),
                *self.finances.routes(),
                *self.reports.routes(),
                *self._listings_api.routes(),
                *self.feeds.routes(),
                *self.inventory.routes(),
                *self.sellers.routes(),
                *self.documents.routes(),
            ]
        )

    @property
    def client_id(self) -> str:
        return self.lwa.client_id

    @property
    def client_secret(self) -> str:
        return self.lwa.client_secret

    @property
    def refresh_token(self) -> str:
        return self.lwa.refresh_token

    @property
    def seller_id(self) -> str:
        return self.ctx.seller_id

    def reset(self) -> None:
        """Back to a fresh state without restarting the server: no orders, tokens, pagination state,
        rate-limit history, request counts or faults (one server can then serve many tests)."""
        self._orders.clear()
        self._orders_api.reset()
        for part in (
            self.shipments,
            self.notifications,
            self.finances,
            self.reports,
            self.listings,
            self.feeds,
        ):
            part.reset()
        self.inventory.reset()
        self.sellers.reset()
        self._tokens.reset()
        self._limiter.refill()
        self.documents.reset()
        self.ctx.reseed()
        self.faults = FaultPlan()
        self.requests.reset()

    # --- clock, tokens, rate limits -----------------------------------------------------------------
    def now(self) -> datetime:
        return self.ctx.now()

    @property
    def tokens_issued(self) -> int:
        """Access tokens handed out so far (by LWA calls and `issue_access_token`)."""
        return self._tokens.issued_count

    def issue_access_token(self) -> str:
        """A valid seller access token without an LWA round trip (for tests that are not about LWA)."""
        return self._issue_token(grantless=False)

    def issue_grantless_token(self, scope: str = NOTIFICATIONS_SCOPE) -> str:
        """A valid grantless (client_credentials) token without an LWA round trip."""
        return self._tokens.issue(grantless=True, scope=scope)

    def _issue_token(self, *, grantless: bool) -> str:
        return self._tokens.issue(grantless=grantless, scope=NOTIFICATIONS_SCOPE if grantless else None)

    @property
    def issued_access_tokens(self) -> list[str]:
        """Every access token handed out so far (leak tests search logs for them)."""
        return self._tokens.all()

    def expire_access_tokens(self) -> None:
        """Make every issued token expired, as if an hour had passed: the next SP-API call gets 403."""
        self._tokens.expire_all()

    def rate_limit(self, operation: str) -> tuple[float, float]:
        """(rate per second, burst) of an operation's usage plan."""
        return self._rate_limits[operation]

    def reset_rate_limits(self) -> None:
        """Refill every token bucket to its burst."""
        self._limiter.refill()

    # --- order store ------------------------------------------------------------------------------
    def put_order(self, order: Mapping[str, Any]) -> None:
        """Store or replace a full order (every dataset present; the emulator strips per includedData)."""
        self._orders.put(order)

    def put_orders(self, orders: Iterable[Mapping[str, Any]]) -> None:
        for order in orders:
            self._orders.put(order)

    def get_stored_order(self, order_id: str) -> dict[str, Any] | None:
        return self._orders.get(order_id)

    def remove_order(self, order_id: str) -> None:
        self._orders.remove(order_id)

    def clear_orders(self) -> None:
        self._orders.clear()
        self._orders_api.reset()

    @property
    def orders(self) -> list[dict[str, Any]]:
        """Copies of every stored order, in orderId order."""
        return self._orders.all()

    def stale_reads(self, order_id: str, previous_version: Mapping[str, Any]) -> None:
        """Eventual consistency: the next getOrder of `order_id` serves `previous_version` (once per call)."""
        self._orders.stale_reads(order_id, previous_version)

    # --- HttpEmulator hooks -----------------------------------------------------------------------
    def operation_of(self, request: EmulatorRequest) -> str:
        found = self.routes.find(request.method, request.path)
        return found.route.operation if found is not None else UNKNOWN

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        found = self.routes.find(request.method, request.path)
        if found is None:
            return self._finish(
                None, _error_response(ApiError(404, "NotFound", "The requested resource was not found."))
            )
        route = found.route
        try:
            self._tokens.check(request, route.access)
            if self.enforce_rate_limits and not self._limiter.take(route.operation):
                return self._finish(route, self._quota_exceeded())
            if route.query is not None:
                reject_unknown_parameters(request, route.query)
            response = route.handler(request, found.path_parameters)
        except ApiError as error:
            response = _error_response(error)
        return self._finish(route, response)

    def throttled_response(self, request: EmulatorRequest) -> EmulatorResponse:
        found = self.routes.find(request.method, request.path)
        operation = found.route.operation if found is not None else UNKNOWN
        if operation == LWA_TOKEN:
            # LWA documents no throttling body; answer the OAuth 2.0 way (RFC 6749 error object).
            return self._finish(
                found.route if found else None,
                oauth_error(429, "temporarily_unavailable", "Rate exceeded. Retry later."),
            )
        if found is not None and not found.route.amazon_headers:
            return s3_error(503, "SlowDown", "Please reduce your request rate.")
        return self._finish(found.route if found else None, self._quota_exceeded())

    def server_error_response(self, request: EmulatorRequest, status: int) -> EmulatorResponse:
        found = self.routes.find(request.method, request.path)
        route = found.route if found is not None else None
        if route is not None and route.operation == LWA_TOKEN:
            if status == 503:
                return self._finish(
                    route,
                    oauth_error(503, "temporarily_unavailable", "The service is temporarily unavailable."),
                )
            return self._finish(
                route, oauth_error(status, "server_error", "An internal server error occurred.")
            )
        if route is not None and not route.amazon_headers:
            if status == 503:
                return s3_error(503, "ServiceUnavailable", "Please reduce your request rate.")
            return s3_error(status, "InternalError", "We encountered an internal error. Please try again.")
        if status == 503:
            error = ApiError(503, "ServiceUnavailable", "Service temporarily unavailable. Please try again.")
        else:
            error = ApiError(status, "InternalFailure", "We encountered an internal error. Please try again.")
        return self._finish(route, _error_response(error))

    # --- responses ------------------------------------------------------------------------------------
    def _finish(self, route: Route | None, response: EmulatorResponse) -> EmulatorResponse:
        """Amazon's response headers: a request id on everything, the rate on all but auth failures."""
        if route is not None and not route.amazon_headers:
            return response
        response.headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        plan = self._limiter.plan(route.operation) if route is not None else None
        if plan is not None and response.status != 403:
            response.headers["x-amzn-RateLimit-Limit"] = format_rate(plan[0])
        return response

    def _quota_exceeded(self) -> EmulatorResponse:
        return _error_response(
            ApiError(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")
        )


def _error_response(error: ApiError) -> EmulatorResponse:
    return EmulatorResponse.json(error.status, error.body())


def _system_clock() -> datetime:
    return datetime.now(UTC)
