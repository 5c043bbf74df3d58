"""Running one HTTP endpoint for function_app.py: every outcome becomes a response.

a Problem                        -> that problem
a setting missing                -> 500 not-configured (names the setting, never a value)
a dependency's passing trouble   -> 503 dependency-unavailable with Retry-After
a dependency refusing            -> 502 dependency-refused (its reason code)
anything else (a bug)            -> 500, logged with its traceback; the caller gets no trace
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from shared.errors import ConfigurationError, SyncError
from shared.http.exchange import Request, Response
from shared.http.problems import (
    DEPENDENCY_REFUSED,
    DEPENDENCY_UNAVAILABLE,
    INTERNAL_ERROR,
    NOT_CONFIGURED,
    Problem,
)

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = 30.0


def serve(
    endpoint: str,
    *,
    method: str,
    url: str,
    route_params: Mapping[str, str],
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> Response:
    request = Request(
        method.upper(),
        url,
        dict(route_params),
        dict(query),
        {name.lower(): value for name, value in headers.items()},
        body,
    )
    started = time.monotonic()
    response = _answer(endpoint, request)
    log.info(
        "HTTP %s %s -> %d in %.0f ms",
        request.method,
        endpoint,
        response.status,
        (time.monotonic() - started) * 1000,
    )
    return response


def _answer(endpoint: str, request: Request) -> Response:
    from shared.http.handlers import HANDLERS
    from shared.runtime import get_runtime

    try:
        return HANDLERS[endpoint](request, get_runtime())
    except Problem as problem:
        return problem.response(request.path)
    except ConfigurationError as exc:
        return Problem(NOT_CONFIGURED, str(exc)).response(request.path)
    except SyncError as exc:
        return _dependency_problem(exc).response(request.path)
    except Exception:
        log.exception("HTTP %s failed unexpectedly", endpoint)
        detail = "the request failed unexpectedly; the function's log has the details"
        return Problem(INTERNAL_ERROR, detail).response(request.path)


def _dependency_problem(exc: SyncError) -> Problem:
    from shared.flows.health import failure_detail

    extensions = {"reason": exc.reason}
    if exc.transient:
        wait = exc.retry_after or DEFAULT_RETRY_AFTER
        return Problem(
            DEPENDENCY_UNAVAILABLE,
            f"{failure_detail(exc)}: try again in about {wait:.0f} s",
            extensions=extensions,
            retry_after=wait,
        )
    log.warning("HTTP call refused by a dependency: %s", exc)
    return Problem(DEPENDENCY_REFUSED, failure_detail(exc), extensions=extensions)
