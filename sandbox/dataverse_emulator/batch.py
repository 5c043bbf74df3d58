"""OData $batch as Dataverse speaks it (learn.microsoft.com: execute-batch-operations-using-web-api).

- multipart/mixed with CRLF line endings; each part is `application/http` + `Content-Transfer-Encoding:
  binary` wrapping one HTTP request, or a `multipart/mixed` change set of such parts.
- A change set is atomic: if one request fails, the ones before it are rolled back and the change set is
  answered by that single failing response. `Content-ID` + `$n` (in a URL or an @odata.bind) refer to a row
  created earlier in the same change set. GET is not allowed in a change set.
- At most 1000 requests per batch. Processing stops at the first failure unless the request says
  `Prefer: odata.continue-on-error`; a stopped batch is answered with the failure's status (the
  documented example answers "HTTP/1.1 400 BadRequest"), a completed one with 200.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from sandbox.http_emulator import EmulatorRequest, EmulatorResponse

from . import errors
from .responses import error_response

MAX_OPERATIONS = 1000
CRLF = b"\r\n"


@dataclass
class BatchRequest:
    method: str
    url: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    requests: list[BatchRequest] = field(default_factory=list)


BatchItem = BatchRequest | ChangeSet


@dataclass
class Answer:
    """One response part; a list of them is a change set's response."""

    response: EmulatorResponse
    content_id: str | None = None


# --- reading ---------------------------------------------------------------------------------------------
def boundary_of(content_type: str) -> str | None:
    kind, *parameters = content_type.split(";")
    if kind.strip().lower() != "multipart/mixed":
        return None
    for parameter in parameters:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip().strip('"')
    return None


def parse_batch(content_type: str, body: bytes) -> list[BatchItem]:
    boundary = boundary_of(content_type)
    if boundary is None:
        raise errors.invalid_argument("A $batch request needs Content-Type: multipart/mixed with a boundary.")
    items: list[BatchItem] = []
    for headers, content in _parts(body, boundary):
        inner_boundary = boundary_of(headers.get("content-type", ""))
        if inner_boundary is not None:
            items.append(ChangeSet([_http_request(h, c) for h, c in _parts(content, inner_boundary)]))
        else:
            items.append(_http_request(headers, content))
    total = sum(len(item.requests) if isinstance(item, ChangeSet) else 1 for item in items)
    if total > MAX_OPERATIONS:
        raise errors.too_many_batch_operations(MAX_OPERATIONS)
    return items


def _parts(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """(MIME headers, content) of each part. Framing lines must end in CRLF, as Dataverse insists."""
    delimiter = b"--" + boundary.encode("ascii")
    chunks = body.split(delimiter)
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return parts
        if not chunk.startswith(CRLF):
            raise errors.unreadable_batch()
        head, separator, content = chunk[2:].partition(CRLF + CRLF)
        if not separator:
            raise errors.unreadable_batch()
        parts.append((_headers(head), content.removesuffix(CRLF)))
    raise errors.unreadable_batch()  # no closing delimiter


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8").split("\r\n"):
        name, separator, value = line.partition(":")
        if separator:
            headers[name.strip().lower()] = value.strip()
    return headers


def _http_request(mime_headers: Mapping[str, str], content: bytes) -> BatchRequest:
    if not mime_headers.get("content-type", "").lower().startswith("application/http"):
        raise errors.invalid_argument(
            "Each $batch part must be application/http or a multipart/mixed change set."
        )
    head, _, body = content.partition(CRLF + CRLF)
    request_line, *header_lines = head.decode("utf-8").split("\r\n")
    method, _, rest = request_line.partition(" ")
    target, _, version = rest.rpartition(" ")  # tolerate an unencoded space inside the URL
    if not method or not target or not version.startswith("HTTP/"):
        raise errors.invalid_argument("A $batch part does not start with an HTTP request line.")
    headers = _headers("\r\n".join(header_lines).encode("utf-8"))
    content_id = mime_headers.get("content-id") or headers.get("content-id")
    return BatchRequest(method.upper(), target.strip(), headers, body.rstrip(b"\r\n"), content_id)


def to_emulator_request(
    request: BatchRequest, service_root_path: str, content_ids: Mapping[str, str]
) -> EmulatorRequest:
    """The part as a request to route: `$n/...`, absolute, root-relative and service-relative URLs."""
    url = request.url
    if url.startswith("$"):
        name, _, rest = url[1:].partition("/")
        if name not in content_ids:
            raise errors.missing_content_id(f"${name}")
        url = f"{content_ids[name]}/{rest}" if rest else content_ids[name]
    split = urlsplit(url)
    path = split.path if split.path.startswith("/") else f"{service_root_path}/{split.path}"
    return EmulatorRequest(
        method=request.method,
        path=path,
        query=parse_qs(split.query, keep_blank_values=True),
        headers=request.headers,
        body=request.body,
    )


# --- running ---------------------------------------------------------------------------------------------
Execute = Callable[[BatchRequest, Mapping[str, str] | None], EmulatorResponse]


@dataclass
class Transaction:
    begin: Callable[[], None]
    commit: Callable[[], None]
    rollback: Callable[[], None]


def run_batch(
    items: list[BatchItem], execute: Execute, transaction: Transaction, *, continue_on_error: bool
) -> tuple[list[Answer | list[Answer]], int]:
    """Every item's answer, and the batch's own status."""
    answers: list[Answer | list[Answer]] = []
    for item in items:
        answer = (
            _run_change_set(item, execute, transaction)
            if isinstance(item, ChangeSet)
            else _run_one(item, execute)
        )
        answers.append(answer)
        failed = answer if isinstance(answer, Answer) and answer.response.status >= 400 else None
        if failed is not None and not continue_on_error:
            return answers, failed.response.status
    return answers, 200


def _run_one(request: BatchRequest, execute: Execute) -> Answer:
    return Answer(execute(request, None), request.content_id)


def _run_change_set(
    change_set: ChangeSet, execute: Execute, transaction: Transaction
) -> Answer | list[Answer]:
    if any(request.method == "GET" for request in change_set.requests):
        return Answer(error_response(errors.get_in_change_set()))
    content_ids: dict[str, str] = {}
    answers: list[Answer] = []
    transaction.begin()
    try:
        for request in change_set.requests:
            response = execute(request, content_ids)
            if response.status >= 400:
                transaction.rollback()
                return Answer(response, request.content_id)
            entity_id = response.headers.get("OData-EntityId")
            if request.content_id and entity_id:
                content_ids[request.content_id] = urlsplit(entity_id).path
            answers.append(Answer(response, request.content_id))
    except BaseException:
        transaction.rollback()  # an emulator bug must not leave half a change set behind
        raise
    transaction.commit()
    return answers


# --- writing ---------------------------------------------------------------------------------------------
def encode_answers(answers: list[Answer | list[Answer]]) -> tuple[str, bytes]:
    """(Content-Type, body) of the batch response, mirroring the request's structure."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    out: list[bytes] = []
    for answer in answers:
        out.append(f"--{boundary}".encode())
        if isinstance(answer, list):
            inner = f"changesetresponse_{uuid.uuid4()}"
            out += [f"Content-Type: multipart/mixed; boundary={inner}".encode(), b""]
            for part in answer:
                out.append(f"--{inner}".encode())
                out += _encode_part(part)
            out.append(f"--{inner}--".encode())
        else:
            out += _encode_part(answer)
    out += [f"--{boundary}--".encode(), b""]
    return f"multipart/mixed; boundary={boundary}", CRLF.join(out)


def _encode_part(answer: Answer) -> list[bytes]:
    response = answer.response
    lines = [b"Content-Type: application/http", b"Content-Transfer-Encoding: binary"]
    if answer.content_id:
        lines.append(f"Content-ID: {answer.content_id}".encode())
    reason = HTTPStatus(response.status).phrase
    lines += [b"", f"HTTP/1.1 {response.status} {reason}".encode()]
    lines += [f"{name}: {value}".encode() for name, value in response.headers.items()]
    lines += [b"", response.body]
    return lines
