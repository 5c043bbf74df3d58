"""Reading a JSON object from a message body that anyone able to send to the queue could have written.

Whatever a stranger can put on a queue is bounded before it is trusted: the body's size, how deeply it nests
and the length of every string and key. Anything larger did not come from Amazon or Dataverse, and reading it
unbounded could exhaust memory, the recursion limit or Table Storage's key size. Problems are raised as
UnreadableJson whose message says what is wrong and where, never the value itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


class UnreadableJson(ValueError):
    """The body is not a JSON object within the limits; the message is safe to log and dead-letter."""


@dataclass(frozen=True)
class JsonLimits:
    max_bytes: int  # Service Bus Standard's (and SQS's) message limit is 256 KiB
    max_depth: int
    max_string: int  # characters in any string value or key


def load_object(
    body: bytes | str, limits: JsonLimits, *, kind: str, parse_float: Callable[[str], Any] = float
) -> dict[str, Any]:
    """The body as a JSON object within `limits`; `kind` names what it should be ("notification")."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if len(raw) > limits.max_bytes:
        raise UnreadableJson(f"message body has {len(raw)} bytes; the limit is {limits.max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableJson("message body is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_float=parse_float)
    except json.JSONDecodeError as exc:
        raise UnreadableJson(
            f"message body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise UnreadableJson(f"message body nests deeper than {limits.max_depth} levels") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise UnreadableJson(f"message body is not usable JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise UnreadableJson(f"message body is JSON {type(data).__name__}, not a {kind} object")
    check_bounds(data, limits)
    return data


def check_bounds(data: Any, limits: JsonLimits) -> None:
    """Walk decoded JSON without recursion: refuse deep nesting and overlong strings, naming where."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > limits.max_depth:
            raise UnreadableJson(
                f"message body nests deeper than {limits.max_depth} levels (at {path[:200]})"
            )
        if isinstance(value, str):
            if len(value) > limits.max_string:
                raise UnreadableJson(
                    f"{path[:200] or 'a value'} has {len(value)} characters; the limit is {limits.max_string}"
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                if len(key) > limits.max_string:
                    raise UnreadableJson(f"a key under {path[:200] or 'the body'} is too long")
                stack.append((item, depth + 1, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, f"{path}.{index}") for index, item in enumerate(value))


def decimal_float(text: str) -> Decimal:
    """JSON numbers with a fraction as Decimal: money must not pass through binary floating point."""
    return Decimal(text)
