"""Reading SP-API requests the way Amazon validates them: query parameters, ISO 8601 times, JSON bodies.

Unknown query parameters are refused (a typo must fail loudly in tests, as it does against Amazon), except
the marketplace parameters python-amazon-sp-api adds to every call on its own. Unknown keys inside a JSON
body are tolerated: the library adds ``marketplaceIds``/``MarketplaceIds`` (and sometimes ``path``) to POST
bodies and Amazon ignores them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from sandbox.http_emulator import EmulatorRequest
from sandbox.spapi_emulator.errors import UNPARSEABLE_BODY, invalid_input

# python-amazon-sp-api adds these on its own (sp_api.base._core.add_marketplaces); they carry no meaning here.
LIBRARY_MARKETPLACE_PARAMETERS: Final = frozenset({"MarketplaceId", "MarketplaceIds", "marketplace_ids"})
# ... and `marketplaceIds` too, on operations whose model has no such parameter (getDestinations, getReport, ...).
LIBRARY_ADDED_MARKETPLACE_IDS: Final = "marketplaceIds"


def reject_unknown_parameters(request: EmulatorRequest, declared: Iterable[str]) -> None:
    allowed = set(declared) | LIBRARY_MARKETPLACE_PARAMETERS | {LIBRARY_ADDED_MARKETPLACE_IDS}
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        raise invalid_input(f"Unknown query parameter(s): {', '.join(unknown)}.")


def parse_time(value: str) -> datetime:
    """ISO 8601 (``Z`` or offset; naive values are UTC) -> aware UTC datetime; ValueError if malformed."""
    moment = datetime.fromisoformat(value.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """Amazon's timestamp style: UTC with ``Z``, milliseconds only when there are some."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def time_parameter(request: EmulatorRequest, name: str) -> datetime | None:
    raw = request.query_value(name)
    if raw is None:
        return None
    return time_value(raw, name)


def time_value(raw: Any, name: str) -> datetime:
    if not isinstance(raw, str):
        raise invalid_input(f"{name} must be an ISO 8601 date-time string.")
    try:
        return parse_time(raw)
    except ValueError:
        raise invalid_input(
            f"{name} must be an ISO 8601 date-time, for example 2025-01-01T00:00:00Z."
        ) from None


def int_parameter(request: EmulatorRequest, name: str, *, low: int, high: int, default: int) -> int:
    raw = request.query_value(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise invalid_input(f"{name} must be an integer between {low} and {high}.")
    return value


def bool_parameter(request: EmulatorRequest, name: str) -> bool | None:
    raw = request.query_value(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise invalid_input(f"{name} must be true or false.")
    return raw.lower() == "true"


def enum_list(request: EmulatorRequest, name: str, allowed: Iterable[str]) -> list[str]:
    values = request.query_list(name)
    valid = tuple(allowed)
    bad = sorted({value for value in values if value not in valid})
    if bad:
        raise invalid_input(f"Invalid {name} value(s): {', '.join(bad)}. Valid values: {', '.join(valid)}.")
    return values


def required_value(request: EmulatorRequest, name: str) -> str:
    value = request.query_value(name)
    if not value:
        raise invalid_input(f"Missing required parameter: {name}.")
    return value


def json_body(request: EmulatorRequest) -> dict[str, Any]:
    """The request's JSON object; Amazon's generic 400 when it is missing, not JSON or not an object."""
    try:
        data = json.loads(request.body.decode("utf-8")) if request.body else None
    except (UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise invalid_input(UNPARSEABLE_BODY)
    return data


def require_fields(body: Mapping[str, Any], *names: str, where: str = "body") -> None:
    missing = [name for name in names if body.get(name) in (None, "", [])]
    if missing:
        raise invalid_input(UNPARSEABLE_BODY, f"Missing required field(s) in {where}: {', '.join(missing)}.")


def string_list(value: Any, name: str, *, min_items: int = 0, max_items: int | None = None) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise invalid_input(UNPARSEABLE_BODY, f"{name} must be a list of strings.")
    if len(value) < min_items or (max_items is not None and len(value) > max_items):
        upper = f" and at most {max_items}" if max_items is not None else ""
        raise invalid_input(f"{name} must have at least {min_items}{upper} item(s).")
    return list(value)
