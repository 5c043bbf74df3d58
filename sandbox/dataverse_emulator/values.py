"""Column values: checking what a payload sends, and writing stored values back out as JSON.

Stored forms: strings as str, GUIDs as lower-case str, money and decimals as Decimal (bodies are parsed with
Decimal so 19.99 stays 19.99), date-times as "YYYY-MM-DDTHH:MM:SSZ" UTC strings, options and integers as int.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from . import errors
from .schema import OPTION_TYPES, TEXT_TYPES, Column, ColumnType, Table

# Money columns keep two decimals: the organization's default "pricing decimal precision".
MONEY_QUANTUM = Decimal("0.01")
# Dataverse money range (MoneySizeExceeded beyond it).
MONEY_LIMIT = Decimal("922337203685477")
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

EDM_TYPES = {
    ColumnType.STRING: "Edm.String",
    ColumnType.MEMO: "Edm.String",
    ColumnType.PICKLIST: "Edm.Int32",
    ColumnType.INTEGER: "Edm.Int32",
    ColumnType.BIGINT: "Edm.Int64",
    ColumnType.DECIMAL: "Edm.Decimal",
    ColumnType.MONEY: "Edm.Decimal",
    ColumnType.BOOLEAN: "Edm.Boolean",
    ColumnType.DATETIME: "Edm.DateTimeOffset",
    ColumnType.UNIQUEIDENTIFIER: "Edm.Guid",
    ColumnType.LOOKUP: "Edm.Guid",
    ColumnType.CUSTOMER: "Edm.Guid",
    ColumnType.STATE: "Edm.Int32",
    ColumnType.STATUS: "Edm.Int32",
}

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_guid(text: str) -> bool:
    return bool(_GUID.match(text))


def new_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 date or date-time; naive values are taken as UTC, as Dataverse does for UTC columns."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def coerce(table: Table, column: Column, value: Any) -> Any:
    """The stored form of `value` for `column`, or the error Dataverse gives for it. None clears the column."""
    if value is None:
        return None
    kind = column.type
    wrong = errors.wrong_type(table.entity_set, column.property_name, EDM_TYPES[kind])
    if kind in TEXT_TYPES:
        if not isinstance(value, str):
            raise wrong
        if column.max_length is not None and len(value) > column.max_length:
            raise errors.too_long(table.logical_name, column.name, column.max_length)
        return value
    if kind is ColumnType.BOOLEAN:
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind in (ColumnType.INTEGER, ColumnType.BIGINT, *OPTION_TYPES):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        if kind is not ColumnType.BIGINT and not INT32_MIN <= value <= INT32_MAX:
            raise wrong
        if kind is ColumnType.PICKLIST and value not in dict(column.options):
            raise errors.invalid_option(table.logical_name, column.name)
        return _in_range(table, column, value)
    if kind in (ColumnType.DECIMAL, ColumnType.MONEY):
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise wrong
        number = Decimal(value)
        if kind is ColumnType.MONEY and abs(number) > MONEY_LIMIT:
            raise errors.DataverseError(
                400, "0x80040317", "Supplied value exceeded the MIN/MAX value of Money Type field."
            )
        places = (
            column.precision if column.precision is not None else (2 if kind is ColumnType.MONEY else None)
        )
        if places is not None:
            number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        return _in_range(table, column, number)
    if kind is ColumnType.DATETIME:
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None:
            raise wrong
        return format_datetime(moment)
    if kind is ColumnType.UNIQUEIDENTIFIER:
        if not isinstance(value, str) or not is_guid(value):
            raise wrong
        return value.lower()
    raise wrong  # lookups are written through navigation properties, never directly


def _in_range(table: Table, column: Column, value: int | Decimal) -> Any:
    """Columns created with MinValue/MaxValue refuse values outside them."""
    low, high = column.min_value, column.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        raise errors.value_out_of_range(table.logical_name, column.name, low, high)
    return value


def json_number(value: object) -> Any:
    if isinstance(value, Decimal):
        # Whole numbers print as integers (a quantity of 2 reads "2"); anything else as the short float form.
        return (
            int(value) if value == value.to_integral_value() and value == value.normalize() else float(value)
        )
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, default=json_number, ensure_ascii=False).encode("utf-8")


def loads(body: bytes) -> Any:
    """A request body; decimals stay exact."""
    return json.loads(body.decode("utf-8"), parse_float=Decimal)
