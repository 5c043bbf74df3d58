"""SP-API error bodies: every operation answers failures with ``{"errors": [{"code", "message", "details"}]}``.

Handlers raise ``ApiError``; the emulator renders it with the operation's headers. The codes are the ones
Amazon sends (``InvalidInput``, ``NotFound``, ``Unauthorized``, ``QuotaExceeded``, ...), not HTTP reason
phrases, because clients branch on them.
"""

from __future__ import annotations

from typing import Any, Final

UNPARSEABLE_BODY: Final = "Request has missing or invalid parameters and cannot be parsed."
ACCESS_DENIED: Final = "Access to requested resource is denied."


class ApiError(Exception):
    """A failed SP-API call: HTTP status plus one entry of Amazon's ErrorList."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


def invalid_input(message: str, details: str = "") -> ApiError:
    return ApiError(400, "InvalidInput", message, details)


def not_found(message: str = "The requested resource was not found.", details: str = "") -> ApiError:
    return ApiError(404, "NotFound", message, details)


def unauthorized(details: str = "") -> ApiError:
    return ApiError(403, "Unauthorized", ACCESS_DENIED, details)
