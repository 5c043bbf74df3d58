"""Reading a request into a pydantic model, or a 400 problem that says what is wrong and where.

Bodies must be JSON (`application/json` or a `+json` type when a Content-Type is given), at most
MAX_BODY_BYTES, and are parsed by pydantic's own JSON reader (it bounds nesting and refuses NaN). Each
invalid part is listed in the problem's `errors` member: a JSON Pointer into the body, or the name of the
query or route parameter, with pydantic's message (never the value that was sent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.http.exchange import Request
from shared.http.problems import INVALID_REQUEST, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, Problem
from shared.sanitize import public_text

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 64 * 1024  # 1,000 order ids take ~22 KB
# The host reads the function key from `code`; it is no parameter of ours and is never echoed.
HOST_QUERY_PARAMETERS = frozenset({"code"})
MAX_LISTED_ERRORS = 20


def parse_body(model: type[M], request: Request, *, context: Mapping[str, Any] | None = None) -> M:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise Problem(UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
    if len(request.body) > MAX_BODY_BYTES:
        raise Problem(
            PAYLOAD_TOO_LARGE, f"the body has {len(request.body)} bytes; the limit is {MAX_BODY_BYTES}"
        )
    if not request.body.strip():
        raise Problem(INVALID_REQUEST, "the body is empty; send a JSON object")
    try:
        return model.model_validate_json(request.body, context=dict(context or {}))
    except ValidationError as exc:
        raise invalid(exc, "body") from None


def parse_query(model: type[M], request: Request, *, context: Mapping[str, Any] | None = None) -> M:
    values = {name: value for name, value in request.query.items() if name not in HOST_QUERY_PARAMETERS}
    try:
        return model.model_validate(values, context=dict(context or {}))
    except ValidationError as exc:
        raise invalid(exc, "query") from None


def parse_route(model: type[M], request: Request) -> M:
    try:
        return model.model_validate(dict(request.route_params))
    except ValidationError as exc:
        raise invalid(exc, "route") from None


def invalid(exc: ValidationError, where: str) -> Problem:
    """A 400 problem listing each invalid part of the body, query string or route."""
    errors = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False)[
        :MAX_LISTED_ERRORS
    ]:
        message = public_text(str(error["msg"]).removeprefix("Value error, "), 300)
        parts = [public_text(part, 100) for part in error["loc"]]
        if where == "body":
            errors.append({"pointer": "".join(f"/{part}" for part in parts), "detail": message})
        else:
            errors.append({"parameter": ".".join(parts), "detail": message})
    noun = {"body": "the body", "query": "the query string", "route": "the URL"}[where]
    detail = f"{noun} is not valid: " + "; ".join(
        f"{error.get('pointer') or error.get('parameter') or '(whole)'}: {error['detail']}"
        for error in errors[:3]
    )
    return Problem(INVALID_REQUEST, detail, extensions={"errors": errors})
