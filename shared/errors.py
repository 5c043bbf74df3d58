"""The error vocabulary every layer speaks: is it worth trying again, when, and why did it fail?

One base carries everything a caller decides on: `transient` (try again later) or not (dead-letter with
`reason`), the platform's `status` and error `code` when there was one, and `retry_after` seconds when the
platform (or our own rate limiter) said how long to wait. Connector errors only choose a class and fill
these in; nobody redeclares them.

Messages never carry buyer data, tokens or secrets, because they end up in logs and dead-letter queues.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error the product raises on purpose."""

    transient: bool = False
    reason: str = "SyncError"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason
        self.status = status  # HTTP status of the platform's answer, when there was one
        self.code = code  # the platform's own error code (Amazon's "QuotaExceeded", Dataverse's "0x80040217")
        self.retry_after = retry_after  # seconds the platform asked us to wait


class TransientError(SyncError):
    """Likely to succeed later: throttling, timeouts, 5xx, a lost race with another instance."""

    transient = True
    reason = "Transient"


class PermanentError(SyncError):
    """Will fail the same way every time until someone changes data or configuration."""

    transient = False
    reason = "Permanent"


class ConfigurationError(PermanentError):
    """A setting is missing or invalid; the message names the setting, never its value."""

    reason = "Configuration"
