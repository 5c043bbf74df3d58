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

    def post_batch(self, body: bytes, boundary: str) -> requests.Response:
        return requests.post(
            self.url("$batch"),
            data=body,
            headers={**self.headers, "Content-Type": f"multipart/mixed; boundary={boundary}"},
            timeout=TIMEOUT_SECONDS,
        )

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


def order_close(order_id: str, status: int = -1) -> dict[str, Any]:
    """The body of CancelSalesOrder / FulfillSalesOrder: an orderclose naming the order, and the status reason."""
    return {
        "OrderClose": {
            "@odata.type": "Microsoft.Dynamics.CRM.orderclose",
            "salesorderid@odata.bind": f"/salesorders({order_id})",
        },
        "Status": status,
    }


def batch_body(boundary: str, posts: list[tuple[str, str]], *, change_set: str | None = None) -> bytes:
    """A $batch of POSTs (entity set, JSON body), in one change set when `change_set` names its boundary."""
    inner = change_set or boundary
    parts = "".join(
        f"--{inner}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        f"POST {entity_set} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{body}\r\n"
        for entity_set, body in posts
    )
    if change_set is None:
        return f"{parts}--{boundary}--\r\n".encode()
    head = f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={change_set}\r\n\r\n"
    return f"{head}{parts}--{change_set}--\r\n--{boundary}--\r\n".encode()
