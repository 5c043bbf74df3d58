"""A request and a response as plain values: what function_app.py passes down and gets back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

JSON = "application/json"


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    route_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""

    @property
    def path(self) -> str:
        """The URL's path: a problem's `instance`, and the base of the links an answer carries."""
        return urlsplit(self.url).path or "/"

    def link(self, path: str) -> str:
        """An absolute URL on this host for `path`, without the request's query (which holds the key)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{path}" if parts.scheme and parts.netloc else path


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, *, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON answer; never cached (it describes this moment, and some of it is operational detail)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(
        status,
        body,
        {"Content-Type": f"{JSON}; charset=utf-8", "Cache-Control": "no-store", **(headers or {})},
    )
