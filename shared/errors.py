"""The error vocabulary every layer speaks: is it worth trying again, and why did it fail?

A trigger only has to ask `transient`: transient failures are retried (the message is abandoned and
redelivered), permanent ones are dead-lettered with `reason` and the message text as description.
Messages never carry buyer data, tokens or secrets, because they end up in logs and dead-letter queues.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error the product raises on purpose."""

    transient: bool = False
    reason: str = "SyncError"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


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
