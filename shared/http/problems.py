"""Errors as RFC 9457 problem details: `application/problem+json` with type, title, status, detail and
instance, and extension members where they help (`errors` lists what was invalid, `retryAfter`).

Problem types are `tag:` URIs (RFC 4151): stable names that nobody dereferences. Statuses that need no more
explanation than their name use `about:blank` with the status phrase as title (RFC 9457 section 4.2.1).
A detail is one sentence about this occurrence, made safe to show (redacted, printable, capped); never a
stack trace, an exception message from a library, or a value the caller sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from shared.http.exchange import Response
from shared.sanitize import public_text

PROBLEM_JSON = "application/problem+json"
_TAG = "tag:amazon-dynamics-sync,2026:problems/"
MAX_DETAIL = 500


@dataclass(frozen=True)
class ProblemType:
    uri: str
    title: str
    status: int


def _about_blank(status: HTTPStatus) -> ProblemType:
    return ProblemType("about:blank", status.phrase, int(status))


INVALID_REQUEST = ProblemType(_TAG + "invalid-request", "The request is not valid", 400)
NOT_FOUND = ProblemType(_TAG + "not-found", "No such resource", 404)
PAYLOAD_TOO_LARGE = _about_blank(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
UNSUPPORTED_MEDIA_TYPE = _about_blank(HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
DEPENDENCY_REFUSED = ProblemType(
    _TAG + "dependency-refused", "A service the app depends on refused the call", 502
)
DEPENDENCY_UNAVAILABLE = ProblemType(
    _TAG + "dependency-unavailable", "A service the app depends on is unavailable", 503
)
NOT_CONFIGURED = ProblemType(_TAG + "not-configured", "The app is missing a setting this call needs", 500)
INTERNAL_ERROR = _about_blank(HTTPStatus.INTERNAL_SERVER_ERROR)


class Problem(Exception):
    """Raised by a handler to answer with a problem; `extensions` become extra members."""

    def __init__(
        self,
        type: ProblemType,
        detail: str,
        *,
        extensions: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.type = type
        self.detail = detail
        self.extensions = dict(extensions or {})
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.type.status} {self.type.title}: {self.detail}"

    def response(self, instance: str) -> Response:
        body: dict[str, Any] = {
            "type": self.type.uri,
            "title": self.type.title,
            "status": self.type.status,
            "detail": public_text(self.detail, MAX_DETAIL),
            "instance": public_text(instance, 300),  # the request's path: the caller wrote it
            **self.extensions,
        }
        headers = {"Content-Type": f"{PROBLEM_JSON}; charset=utf-8", "Cache-Control": "no-store"}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return Response(self.type.status, json.dumps(body, ensure_ascii=False).encode("utf-8"), headers)
