"""How rows and errors look on the wire: OData JSON, `@odata.etag`, `Prefer` handling."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sandbox.http_emulator import EmulatorResponse

from .errors import DataverseError
from .payload import lookup_annotation
from .schema import LOOKUP_TYPES, Table
from .values import dumps

ODATA_VERSION = {"OData-Version": "4.0"}
JSON_TYPE = "application/json; odata.metadata=minimal"
LOOKUP_ANNOTATION = "Microsoft.Dynamics.CRM.lookuplogicalname"
_PREFERENCE = re.compile(r'([^,=\s]+)(?:\s*=\s*("[^"]*"|[^,]*))?')


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> EmulatorResponse:
    return EmulatorResponse(
        status, dumps(payload), {"Content-Type": JSON_TYPE, **ODATA_VERSION, **(headers or {})}
    )


def no_content(headers: Mapping[str, str] | None = None) -> EmulatorResponse:
    return EmulatorResponse(204, b"", {**ODATA_VERSION, **(headers or {})})


def error_response(error: DataverseError, headers: Mapping[str, str] | None = None) -> EmulatorResponse:
    return json_response(error.status, error.body(), headers)


def etag(row: Mapping[str, Any]) -> str:
    return f'W/"{row["versionnumber"]}"'


def representation(
    table: Table, row: Mapping[str, Any], select: list[str] | None, *, annotations: bool
) -> dict[str, Any]:
    """A row as the Web API returns it: every property (or the $select ones plus the primary id)."""
    names = (
        list(table.properties)
        if not select
        else [*select, *([table.primary_id] if table.primary_id not in select else [])]
    )
    out: dict[str, Any] = {"@odata.etag": etag(row)}
    for name in names:
        column = table.properties[name]
        out[name] = row.get(column.name)
        if annotations and column.type in LOOKUP_TYPES and row.get(column.name) is not None:
            out[f"{name}@{LOOKUP_ANNOTATION}"] = row.get(lookup_annotation(column.name))
    return out


def parse_prefer(headers: Mapping[str, str]) -> dict[str, str]:
    """`Prefer: return=representation,odata.maxpagesize=10` as {"return": "representation", ...}."""
    found = _PREFERENCE.findall(headers.get("prefer", ""))
    # A preference without a value ("odata.continue-on-error") means true.
    return {name.lower(): value.strip().strip('"') or "true" for name, value in found}


def wants_annotations(preferences: Mapping[str, str]) -> bool:
    wanted = preferences.get("odata.include-annotations", "")
    return any(item in ("*", LOOKUP_ANNOTATION, "Microsoft.Dynamics.CRM.*") for item in wanted.split(","))
