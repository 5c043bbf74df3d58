"""A small Web API client for tests and sandbox scripts: OData headers and a timeout on every call.

Independent of the product's connector on purpose, so the emulator's tests say what the wire looks like.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

ODATA_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
TIMEOUT_SECONDS = 10


class WebApiClient:
    def __init__(
        self, service_root: str, *, token: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        self.service_root = service_root
        self.headers = {**ODATA_HEADERS, **(headers or {})}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        return f"{self.service_root}/{path}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return requests.request(
            method,
            self.url(path),
            json=body,
            params=params,
            headers={**self.headers, **(headers or {})},
            timeout=TIMEOUT_SECONDS,
        )

    def get(
        self, path: str, params: Mapping[str, str] | None = None, *, headers: Mapping[str, str] | None = None
    ) -> requests.Response:
        return self.request("GET", path, params=params, headers=headers)

    def post(
        self, path: str, body: Any = None, *, headers: Mapping[str, str] | None = None
    ) -> requests.Response:
        return self.request("POST", path, body, headers=headers)

    def patch(
        self, path: str, body: Any = None, *, headers: Mapping[str, str] | None = None
    ) -> requests.Response:
        return self.request("PATCH", path, body, headers=headers)

    def delete(self, path: str, *, headers: Mapping[str, str] | None = None) -> requests.Response:
        return self.request("DELETE", path, headers=headers)


def literal(value: str) -> str:
    """An OData string literal, quotes doubled, percent-encoded for a URL."""
    return quote("'" + value.replace("'", "''") + "'", safe="")


def label(text: str) -> dict[str, Any]:
    """A Label with one English LocalizedLabel, as definitions are created with."""
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.Label",
        "LocalizedLabels": [
            {"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", "Label": text, "LanguageCode": 1033}
        ],
    }


def error_of(response: requests.Response) -> tuple[int, str, str]:
    """(status, code, message) of a Dataverse error body."""
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]
