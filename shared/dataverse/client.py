"""A small typed client for the Dataverse Web API, on requests and an azure-identity token provider.

Retries follow one rule: a request is repeated only when repeating it cannot write twice. 429 and 503 are
refused before any work is done, so they are always retried (429 after its Retry-After). A lost answer
(connection dropped after sending, read timeout, 502/504) is retried for idempotent requests only; for the
rest it surfaces as AmbiguousWrite and the caller re-reads before deciding (see flows/order_writer.py).
Every request, with its retries, goes through the Dataverse circuit breaker (shared/breakers.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from shared import telemetry
from shared.breakers import CircuitBreaker, CircuitOpen
from shared.dataverse import odata
from shared.dataverse.batch import BatchItem, BatchResponseItem, decode_batch_response, encode_batch
from shared.dataverse.errors import (
    AmbiguousWrite,
    DataverseAuthError,
    DataverseError,
    DataverseTransientError,
    error_from_response,
)
from shared.resilience import RetryPolicy, Sleep, call_with_retries, is_transient

TokenProvider = Callable[[], str]
_AMBIGUOUS_STATUSES = frozenset({502, 504})  # a gateway gave up; the server may have finished the work
LOOKUP_TABLE_ANNOTATION = "Microsoft.Dynamics.CRM.lookuplogicalname"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: Any  # decoded JSON, or None for an empty answer


class DataverseClient:
    def __init__(
        self,
        environment_url: str,
        *,
        api_version: str = "9.2",
        token_provider: TokenProvider | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Sleep = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.api_root = f"{environment_url.rstrip('/')}/api/data/v{api_version}/"
        self._token_provider = token_provider
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker("Dataverse")
        self._sleep = sleep
        self._session = session or requests.Session()
        self.requests_sent: Counter[str] = Counter()  # HTTP requests by kind, retries included

    def close(self) -> None:
        self._session.close()

    # --- records ----------------------------------------------------------------------------------
    def get(self, entity_set: str, key: odata.Key, *, select: Sequence[str] = ()) -> dict[str, Any] | None:
        """The record, or None when it does not exist."""
        from shared.dataverse.errors import DataverseNotFound

        path = odata.entity_path(entity_set, key) + _query_string(select=select)
        try:
            response = self._send("GET", path, idempotent=True, what="get")
        except DataverseNotFound:
            return None
        body: dict[str, Any] = response.json()
        return body

    def query(
        self,
        entity_set: str,
        *,
        filter: str | None = None,
        select: Sequence[str] = (),
        orderby: str | None = None,
        top: int | None = None,
        page_size: int | None = None,
        annotations: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Every matching record, following @odata.nextLink page after page. `annotations` asks for the
        table a lookup points at (`_x_value@Microsoft.Dynamics.CRM.lookuplogicalname`)."""
        preferences = [f"odata.maxpagesize={page_size}"] if page_size else []
        if annotations:
            preferences.append(f'odata.include-annotations="{LOOKUP_TABLE_ANNOTATION}"')
        headers = {"Prefer": ",".join(preferences)} if preferences else {}
        url: str | None = entity_set + _query_string(select=select, filter=filter, orderby=orderby, top=top)
        while url:
            body = self._send("GET", url, headers=headers, idempotent=True, what="query").json()
            yield from body.get("value", [])
            url = self._next_page(body.get("@odata.nextLink"))

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        what: str,
    ) -> Answer:
        """Any other Web API request (metadata, functions such as WhoAmI), under the same retry rules.
        `idempotent` says whether sending it twice is harmless; `what` names it in errors and counters."""
        response = self._send(method, path, body=body, headers=headers, idempotent=idempotent, what=what)
        return Answer(response.status_code, response.headers, response.json() if response.content else None)

    def who_am_i(self) -> str:
        """The calling user's id (WhoAmI): the cheapest request that proves the token and the org answer."""
        answer = self.request("GET", "WhoAmI", idempotent=True, what="whoami")
        body = answer.body if isinstance(answer.body, dict) else {}
        return str(body.get("UserId", ""))

    def batch(
        self, items: Sequence[BatchItem], *, idempotent: bool, continue_on_error: bool = False
    ) -> list[BatchResponseItem]:
        """One $batch request. Failures inside it come back as responses, not exceptions."""
        content_type, body = encode_batch(items, self.api_root)
        headers = {"Content-Type": content_type}
        if continue_on_error:
            headers["Prefer"] = "odata.continue-on-error"
        response = self._send(
            "POST", "$batch", raw=body, headers=headers, idempotent=idempotent, what="batch"
        )
        return decode_batch_response(response.headers.get("Content-Type", ""), response.content)

    def _next_page(self, link: Any) -> str | None:
        """Follow @odata.nextLink only on our own environment: our bearer token goes with the request, and an
        answer (or a proxy in between) must not be able to send it anywhere else."""
        if link is None:
            return None
        if not isinstance(link, str) or _origin(link) != _origin(self.api_root):
            raise DataverseError("Dataverse answered with a next-page link to another host; not followed")
        return link

    # --- transport ----------------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        what: str,
    ) -> requests.Response:
        url = path if path.startswith(("http://", "https://")) else self.api_root + path
        # Every transient outcome counts for the breaker, 429 included: service protection limits apply to
        # the user across all requests, and a 429 that outlasted the retries (or asked for a longer wait
        # than they may take) means Dataverse is refusing us for a while.
        guard = self.breaker.guard()

        def attempt() -> requests.Response:
            guard.check()
            self.requests_sent[what] += 1
            telemetry.add(telemetry.DATAVERSE_CALLS, operation=what)
            all_headers = self._headers(headers, json_body=body is not None)
            try:
                response = self._session.request(
                    method, url, headers=all_headers, json=body, data=raw, timeout=self._timeout
                )
            except requests.exceptions.ConnectionError as exc:
                if _never_sent(exc) or idempotent:
                    raise DataverseTransientError(f"Dataverse {what}: {type(exc).__name__}") from None
                raise AmbiguousWrite(f"Dataverse {what}: connection lost after sending") from None
            except requests.exceptions.Timeout:
                if idempotent:
                    raise DataverseTransientError(f"Dataverse {what}: timed out") from None
                raise AmbiguousWrite(f"Dataverse {what}: timed out after sending") from None
            if response.status_code >= 400:
                self._raise(response, idempotent=idempotent, what=what)
            return response

        with guard:
            return call_with_retries(attempt, policy=self._retry, retryable=_retryable, sleep=self._sleep)

    def _raise(self, response: requests.Response, *, idempotent: bool, what: str) -> None:
        if response.status_code == 429:
            telemetry.add(telemetry.DATAVERSE_THROTTLES, operation=what)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        error = error_from_response(response.status_code, payload, response.headers, what=what)
        if response.status_code in _AMBIGUOUS_STATUSES and not idempotent:
            raise AmbiguousWrite(str(error), status=response.status_code) from None
        if isinstance(error, DataverseAuthError) and response.status_code == 401 and self._token_provider:
            invalidate = getattr(self._token_provider, "invalidate", None)
            if invalidate is not None:
                invalidate()  # a revoked or early-expired token: fetch a new one on the next attempt
        raise error

    def _headers(self, extra: Mapping[str, str] | None, *, json_body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
        if json_body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        if self._token_provider is not None:
            headers["Authorization"] = f"Bearer {self._token_provider()}"
        headers.update(extra or {})
        return headers


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return (
        parts.scheme,
        (parts.hostname or "").lower(),
        parts.port or (443 if parts.scheme == "https" else 80),
    )


def _retryable(exc: BaseException) -> bool:
    return is_transient(exc) and not isinstance(exc, AmbiguousWrite | CircuitOpen)


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection could not even be opened, so the server saw nothing."""
    import urllib3.exceptions

    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", reason)
    return isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(
        inner, urllib3.exceptions.NewConnectionError | ConnectionRefusedError
    )


def _query_string(
    *,
    select: Sequence[str] = (),
    filter: str | None = None,
    orderby: str | None = None,
    top: int | None = None,
) -> str:
    options = []
    if select:
        options.append("$select=" + odata.encode(",".join(select)))
    if filter:
        options.append("$filter=" + odata.encode(filter))
    if orderby:
        options.append("$orderby=" + odata.encode(orderby))
    if top is not None:
        options.append(f"$top={int(top)}")
    return ("?" + "&".join(options)) if options else ""
