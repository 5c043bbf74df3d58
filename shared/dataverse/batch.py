"""The OData $batch codec Dataverse speaks: multipart/mixed with CRLF line endings.

A batch holds change sets (atomic: all their operations succeed or none does) and standalone operations.
Inside a change set an operation can name an earlier one by `Content-ID` and refer to it as `$<id>`, in
its URL or in an `@odata.bind` value. Dataverse answers with one part per batch item; a failed change set
is answered by its single failing response.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.errors import PermanentError

CRLF = "\r\n"
MAX_OPERATIONS = 1000  # Dataverse refuses larger batches


class BatchFormatError(PermanentError):
    reason = "DataverseBatchFormat"


@dataclass
class Operation:
    method: str
    url: str  # relative to the Web API root (e.g. "salesorders(...)"), or a "$<content-id>" reference
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_id: str | None = None


@dataclass
class ChangeSet:
    operations: list[Operation] = field(default_factory=list)

    def add(self, operation: Operation) -> str:
        """Append an operation, giving it the next Content-ID; returns the "$<id>" to reference it."""
        operation.content_id = operation.content_id or str(len(self.operations) + 1)
        self.operations.append(operation)
        return f"${operation.content_id}"


BatchItem = ChangeSet | Operation


@dataclass
class OperationResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: Any
    content_id: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class ChangeSetResponse:
    responses: list[OperationResponse]

    @property
    def ok(self) -> bool:
        return bool(self.responses) and all(response.ok for response in self.responses)

    @property
    def failure(self) -> OperationResponse | None:
        return next((response for response in self.responses if not response.ok), None)


BatchResponseItem = ChangeSetResponse | OperationResponse


def count_operations(items: Sequence[BatchItem]) -> int:
    return sum(len(item.operations) if isinstance(item, ChangeSet) else 1 for item in items)


def encode_batch(items: Sequence[BatchItem], api_root: str) -> tuple[str, bytes]:
    """(Content-Type header, body) of a $batch request. `api_root` ends with '/api/data/v9.2/'."""
    total = count_operations(items)
    if total == 0:
        raise ValueError("an empty $batch")
    if total > MAX_OPERATIONS:
        raise ValueError(f"a $batch holds at most {MAX_OPERATIONS} operations, not {total}")
    boundary = f"batch_{uuid.uuid4()}"
    lines: list[str] = []
    for item in items:
        lines.append(f"--{boundary}")
        if isinstance(item, ChangeSet):
            changeset = f"changeset_{uuid.uuid4()}"
            lines += [f"Content-Type: multipart/mixed; boundary={changeset}", ""]
            for operation in item.operations:
                lines.append(f"--{changeset}")
                lines += _encode_operation(operation, api_root)
            lines.append(f"--{changeset}--")
            lines.append("")
        else:
            lines += _encode_operation(item, api_root)
    lines.append(f"--{boundary}--")
    lines.append("")
    return f"multipart/mixed; boundary={boundary}", CRLF.join(lines).encode("utf-8")


def _encode_operation(operation: Operation, api_root: str) -> list[str]:
    url = operation.url if operation.url.startswith("$") else api_root + operation.url
    part = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if operation.content_id:
        part.append(f"Content-ID: {operation.content_id}")
    part += ["", f"{operation.method} {url} HTTP/1.1"]
    headers = dict(operation.headers)
    if operation.body is not None:
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
    part += [f"{name}: {value}" for name, value in headers.items()]
    part.append("")
    part.append(
        json.dumps(operation.body, separators=(",", ":"), ensure_ascii=False)
        if operation.body is not None
        else ""
    )
    return part


def decode_batch_response(content_type: str, body: bytes) -> list[BatchResponseItem]:
    """Parse a $batch response into one item per answered batch item, in order."""
    boundary = _boundary(content_type)
    items: list[BatchResponseItem] = []
    for headers, content in _parts(body.decode("utf-8"), boundary):
        part_type = headers.get("content-type", "")
        if part_type.startswith("multipart/mixed"):
            inner = [
                _decode_http_response(inner_content, inner_headers.get("content-id"))
                for inner_headers, inner_content in _parts(content, _boundary(part_type))
            ]
            items.append(ChangeSetResponse(inner))
        else:
            items.append(_decode_http_response(content, headers.get("content-id")))
    return items


def _boundary(content_type: str) -> str:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"')
    raise BatchFormatError("multipart response without a boundary")


def _parts(text: str, boundary: str) -> Iterator[tuple[dict[str, str], str]]:
    """(headers, content) of each part between `--boundary` lines, tolerant of LF-only line endings."""
    text = text.replace("\r\n", "\n")
    delimiter = f"--{boundary}"
    chunks = text.split(delimiter)
    for chunk in chunks[1:]:
        if chunk.startswith("--"):
            break
        chunk = chunk.removeprefix("\n")
        head, _, content = chunk.partition("\n\n")
        yield _header_lines(head.split("\n")), content.removesuffix("\n")


def _header_lines(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def _decode_http_response(content: str, content_id: str | None) -> OperationResponse:
    status_line, _, rest = content.partition("\n")
    pieces = status_line.split(" ", 2)
    if len(pieces) < 2 or not pieces[0].startswith("HTTP/") or not pieces[1].isdigit():
        raise BatchFormatError("a $batch part without an HTTP status line")
    head, _, payload = rest.partition("\n\n")
    headers = _header_lines(head.split("\n"))
    payload = payload.strip()
    body: Any = None
    if payload:
        try:
            body = json.loads(payload)
        except json.JSONDecodeError:
            body = payload
    return OperationResponse(int(pieces[1]), headers, body, content_id or headers.get("content-id"))
