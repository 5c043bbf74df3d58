"""Typed SP-API failures. Each says whether retrying can help; none carries a token or buyer data."""

from __future__ import annotations

from pydantic import ValidationError

from shared.errors import PermanentError, TransientError


class SpApiTransientError(TransientError):
    """Throttled, a 5xx, or the network failed: the same request can succeed later."""

    reason = "SpApiUnavailable"


class SpApiThrottled(SpApiTransientError):
    """HTTP 429 QuotaExceeded. `rate` is the x-amzn-RateLimit-Limit Amazon returned, when it did."""

    reason = "SpApiThrottled"

    def __init__(self, message: str, *, rate: float | None = None) -> None:
        super().__init__(
            message, status=429, code="QuotaExceeded", retry_after=(1.0 / rate) if rate else None
        )
        self.rate = rate


class SpApiPermanentError(PermanentError):
    """The request itself is wrong or not allowed (400, 403, 404, ...): retrying gives the same answer."""

    reason = "SpApiRejected"


class SpApiNotFound(SpApiPermanentError):
    reason = "AmazonOrderNotFound"


class SpApiAuthError(SpApiPermanentError):
    """Login with Amazon refused the application's credentials: a configuration problem."""

    reason = "SpApiAuthorization"


def validation_summary(exc: ValidationError, *, limit: int = 5) -> str:
    """Which fields of Amazon's answer failed and why, never their values (they may carry buyer data)."""
    return "; ".join(
        ".".join(str(part) for part in error["loc"]) + f": {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)[:limit]
    )
