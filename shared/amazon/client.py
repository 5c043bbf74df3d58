"""One SP-API session per process: credentials, HTTP transport, rate limiting, retries, call counting.

Built on python-amazon-sp-api, with three of its quirks handled here:
- it raises only when a response body has `errors`: a 5xx with an HTML body would pass as an empty
  success, so our transport checks the status code itself and raises typed errors;
- it does not retry, and its retry decorator does not cover later pages: every call (each page
  included) goes through `SpApiSession.call`, which rate-limits and retries behind the SP-API circuit
  breaker;
- it has no endpoint argument: we set `client.endpoint` after construction and subclass the LWA token
  client to point it at SPAPI_LWA_TOKEN_URL.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from shared import telemetry
from shared.amazon.errors import (
    SpApiAuthError,
    SpApiNotFound,
    SpApiPermanentError,
    SpApiThrottled,
    SpApiTransientError,
)
from shared.amazon.rate_limits import PUBLISHED_USAGE_PLANS
from shared.breakers import CircuitBreaker, CircuitOpen
from shared.resilience import RateLimited, RetryPolicy, Sleep, TokenBucket, call_with_retries, is_transient
from shared.sanitize import public_text

if TYPE_CHECKING:
    import httpx

    from shared.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"
# We pace at 90% of the rate Amazon grants: requests reach Amazon with network jitter, and pacing at exactly
# its rate loses the race at the edge of every refill (a 429 that costs more than the 10% ever could).
RATE_MARGIN = 0.9


@dataclass(frozen=True)
class SpApi:
    """A python-amazon-sp-api client class, named so it is imported on first use (cold starts)."""

    module: str
    name: str
    version: str | None = None
    grantless: bool = False  # its operations use an LWA client-credentials token, not the seller's

    def load(self) -> type:
        cls: type = getattr(importlib.import_module(self.module), self.name)
        return cls


ORDERS_2026 = SpApi("sp_api.api.orders.orders_2026_01_01", "OrdersV20260101", "2026-01-01")


@dataclass(frozen=True)
class SpApiConfig:
    endpoint: str
    token_url: str
    refresh_token: str
    client_id: str
    client_secret: str
    marketplace_ids: tuple[str, ...]
    included_data: tuple[str, ...]
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SpApiConfig:
        refresh_token, client_id, client_secret = settings.required(
            "spapi_refresh_token", "spapi_lwa_client_id", "spapi_lwa_client_secret", needed_by="Amazon SP-API"
        )
        return cls(
            endpoint=settings.spapi_base_url,
            token_url=settings.spapi_lwa_token_url,
            refresh_token=refresh_token,
            client_id=client_id,
            client_secret=client_secret,
            marketplace_ids=tuple(settings.spapi_marketplace_ids),
            included_data=tuple(settings.spapi_included_data),
            timeout=settings.spapi_timeout_seconds,
        )

    def __repr__(self) -> str:  # the dataclass default would print the secrets
        return f"SpApiConfig(endpoint={self.endpoint!r}, marketplaces={self.marketplace_ids!r})"


class SpApiSession:
    """Shared by every invocation in the worker process (thread-safe).

    `max_rate_wait` bounds how long one call may wait for a rate-limit token: past that the call raises
    RateLimited (transient) and the message goes back to Service Bus instead of the function sleeping.
    While `breaker` is open, calls raise CircuitOpen without a request.
    """

    def __init__(
        self,
        config: SpApiConfig,
        *,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        max_rate_wait: float = 10.0,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker("SP-API")
        self.max_rate_wait = max_rate_wait
        self._sleep = sleep
        self.buckets = {
            name: TokenBucket(plan.rate * RATE_MARGIN, plan.burst)
            for name, plan in PUBLISHED_USAGE_PLANS.items()
        }
        self.calls: Counter[str] = Counter()  # HTTP requests sent, per operation, retries included
        self._calls_lock = threading.Lock()
        self._local = threading.local()
        self.token_lock = threading.Lock()  # see LwaTokenClient.get_auth
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()

    # --- calling ----------------------------------------------------------------------------------
    def call(self, operation: str, api: SpApi, request: Callable[[Any], T]) -> T:
        """Run `request(client)` with this thread's client of `api`, under the operation's rate limit and
        with bounded retries, behind the breaker. Every page of a paged operation is its own call."""
        bucket = self.buckets[operation]
        guard = self.breaker.guard(answered=_throttled)

        def attempt() -> T:
            guard.check()
            client = self.client(api)
            if not api.grantless:
                # Get the LWA token before taking a rate token: threads waiting for the token would otherwise
                # all send the moment it arrives, a burst the usage plan punishes with 429s.
                _ = client.auth
            bucket.acquire(max_wait=self.max_rate_wait, sleep=self._sleep)
            self._count(operation)
            try:
                response = request(client)
            except SpApiThrottled as exc:
                telemetry.add(telemetry.SPAPI_THROTTLES, operation=operation)
                if exc.rate:
                    bucket.set_rate(exc.rate * RATE_MARGIN)
                bucket.drain()
                raise
            _follow_rate_header(bucket, getattr(response, "headers", None))
            return response

        def on_retry(attempt_number: int, exc: BaseException, delay: float) -> None:
            log.warning(
                "SP-API %s failed (%s), retry %d in %.2fs",
                operation,
                type(exc).__name__,
                attempt_number,
                delay,
            )

        with guard:
            return call_with_retries(
                attempt, policy=self.retry, retryable=_retry_worthy, sleep=self._sleep, on_retry=on_retry
            )

    def check_login(self) -> None:
        """Have a Login with Amazon access token for the seller (the library keeps one for ~53 minutes, so
        this asks Login with Amazon at most that often); raises SpApiAuthError or SpApiTransientError."""
        _ = self.client(ORDERS_2026).auth

    def _count(self, operation: str) -> None:
        with self._calls_lock:
            self.calls[operation] += 1
        telemetry.add(telemetry.SPAPI_CALLS, operation=operation)

    # --- the python-amazon-sp-api clients -----------------------------------------------------------
    def use_plan(self, operation: str, rate: float, burst: int) -> None:
        """Pace `operation` by the plan Amazon granted this seller (a raised plan, or a test's), from empty."""
        bucket = self.buckets[operation] = TokenBucket(rate * RATE_MARGIN, burst)
        bucket.drain()

    def client(self, api: SpApi) -> Any:
        """The library's client of `api`, one per thread (it keeps per-request state)."""
        clients: dict[SpApi, Any] = self._local.__dict__.setdefault("clients", {})
        if api not in clients:
            clients[api] = self._build_client(api)
        return clients[api]

    def _build_client(self, api: SpApi) -> Any:
        from sp_api.base import Marketplaces

        client = api.load()(
            Marketplaces.US,
            refresh_token=self.config.refresh_token,
            credentials={"lwa_app_id": self.config.client_id, "lwa_client_secret": self.config.client_secret},
            timeout=self.config.timeout,
            version=api.version,
            auth_token_client_class=_token_client_class(self),
        )
        client.endpoint = self.config.endpoint  # the library has no endpoint argument
        client._transport = _CheckedTransport(self._http_client())  # see module docstring
        return client

    def _http_client(self) -> httpx.Client:
        with self._http_lock:
            if self._http is None:
                import httpx

                self._http = httpx.Client(timeout=self.config.timeout)
            return self._http

    def close(self) -> None:
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None


def _retry_worthy(exc: BaseException) -> bool:
    """Transient errors, except our own quota check: the bucket has already waited as long as one call
    may, and sleeping again here would only hold the message (and its lock) longer. Nor an open breaker."""
    return is_transient(exc) and not isinstance(exc, RateLimited | CircuitOpen)


def _throttled(exc: BaseException) -> bool:
    """A 429 is an answer, not an outage, for the breaker: Amazon's quota is per operation, and the
    operation's token bucket already paces it (it adopts the rate from the header and drains on a 429).
    Counting it would let one exhausted operation (searchOrders refills once per three minutes) shut out
    the others, whose quota is fine."""
    return isinstance(exc, SpApiThrottled)


def _follow_rate_header(bucket: TokenBucket, headers: Any) -> None:
    rate = _rate_of(headers)
    if rate:
        bucket.set_rate(rate * RATE_MARGIN)


def _rate_of(headers: Any) -> float | None:
    if not headers:
        return None
    try:
        value = headers.get(RATE_LIMIT_HEADER) or headers.get(RATE_LIMIT_HEADER.lower())
        return float(value) if value else None
    except (TypeError, ValueError):
        return None


class _CheckedTransport:
    """Drop-in for the library's HttpxTransport that turns HTTP failures into typed errors."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        data: Any = None,
        content: Any = None,
        headers: Any = None,
    ) -> httpx.Response:
        import httpx

        try:
            response = self._client.request(
                method, url, params=params, data=data, content=content, headers=headers
            )
        except httpx.TimeoutException:
            raise SpApiTransientError("SP-API request timed out") from None
        except httpx.TransportError as exc:
            raise SpApiTransientError(f"SP-API network error: {type(exc).__name__}") from None
        _raise_for_status(response)
        return response

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.stream(*args, **kwargs)

    def close(self) -> None:
        """The httpx client belongs to the session, which closes it."""


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    code, message = _first_error(response)
    text = f"SP-API answered {status} {code or ''}: {message or 'no details'}".replace("  ", " ")
    if status == 429:
        raise SpApiThrottled(text, rate=_rate_of(response.headers))
    if status >= 500:
        raise SpApiTransientError(text, status=status)
    if status == 404:
        raise SpApiNotFound(text, status=status, code=code)
    raise SpApiPermanentError(text, status=status, code=code)


def _first_error(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return str(first.get("code")), public_text(first.get("message"), 300)
    except (ValueError, AttributeError, IndexError, TypeError):
        return None, None


def _token_client_class(session: SpApiSession) -> type:
    """An LWA token client aimed at SPAPI_LWA_TOKEN_URL, with typed errors and the session's timeout."""
    from sp_api.auth import AccessTokenClient
    from sp_api.base._transport_httpx import HttpxTransport

    parts = urlsplit(session.config.token_url)

    class LwaTokenClient(AccessTokenClient):  # type: ignore[misc]
        scheme = f"{parts.scheme}://"
        host = parts.netloc
        path = parts.path or "/auth/o2/token"

        def get_auth(self) -> Any:
            # One token for all fetch threads: without the lock each thread misses the library's cache at
            # once and asks Login with Amazon for a token of its own.
            with session.token_lock:
                return super().get_auth()

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._transport = HttpxTransport(timeout=session.config.timeout)

        def _request(self, url: str, data: Any, headers: Any) -> Any:
            import httpx

            session._count("lwa.token")
            try:
                response = self._transport.request("POST", url, data=data, headers=headers)
            except httpx.TransportError as exc:
                raise SpApiTransientError(f"Login with Amazon unreachable: {type(exc).__name__}") from None
            if response.status_code == 429 or response.status_code >= 500:
                raise SpApiTransientError(
                    f"Login with Amazon answered {response.status_code}", status=response.status_code
                )
            try:
                body = response.json()
            except ValueError:
                raise SpApiTransientError("Login with Amazon answered with a non-JSON body") from None
            if response.status_code != 200:
                raise SpApiAuthError(
                    f"Login with Amazon refused the credentials: {body.get('error', response.status_code)} "
                    "(check SPAPI_LWA_CLIENT_ID, SPAPI_LWA_CLIENT_SECRET, SPAPI_REFRESH_TOKEN)",
                    status=response.status_code,
                    code=str(body.get("error")),
                )
            return body

    return LwaTokenClient
