"""Dataverse failures as typed errors, built from the Web API's error body {"error": {"code", "message"}}.

Transient: 429 service protection (with Retry-After), 502/503/504, network failures. Everything else is
permanent for the request as sent. `AmbiguousWrite` is the awkward third case: the request left, the answer
never came, so a non-idempotent write may or may not have happened; callers re-read before trying again.
"""

from __future__ import annotations

from typing import Any

from shared.errors import PermanentError, SyncError, TransientError
from shared.sanitize import public_text

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


class DataverseTransientError(TransientError):
    reason = "DataverseUnavailable"


class DataverseThrottled(DataverseTransientError):
    reason = "DataverseThrottled"


class AmbiguousWrite(DataverseTransientError):
    """The connection died after the request was sent: the write may or may not have been applied."""

    reason = "DataverseAmbiguousWrite"


class DataverseError(PermanentError):
    reason = "DataverseRejected"


class DataverseNotFound(DataverseError):
    reason = "DataverseNotFound"


class DataversePreconditionFailed(DataverseError):
    """412: If-None-Match: * found the record, or an If-Match ETag is stale."""

    reason = "DataversePreconditionFailed"


class DataverseAuthError(DataverseError):
    reason = "DataverseAuthorization"


def error_from_response(status: int, body: Any, headers: Any = None, *, what: str = "request") -> SyncError:
    """The typed error for a failed response; messages keep Dataverse's text, which names columns, not data."""
    code, message = _error_fields(body)
    text = (
        f"Dataverse {what} failed with {status}"
        + (f" {code}" if code else "")
        + (f": {message}" if message else "")
    )
    if status in TRANSIENT_STATUSES or status >= 500:
        # Unexplained 500s are usually SQL timeouts or deadlocks: bounded retries, then the message is
        # abandoned and Service Bus's max delivery count decides when a human has to look.
        cls = DataverseThrottled if status == 429 else DataverseTransientError
        return cls(text, status=status, code=code, retry_after=_retry_after(headers))
    if status == 404:
        return DataverseNotFound(text, status=status, code=code)
    if status == 412:
        return DataversePreconditionFailed(text, status=status, code=code)
    if status in (401, 403):
        return DataverseAuthError(text, status=status, code=code)
    return DataverseError(text, status=status, code=code)


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            message = error.get("message")
            return (str(code) if code else None, public_text(message, 500) if message else None)
    return None, None


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None
