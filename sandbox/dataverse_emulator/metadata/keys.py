"""Alternate keys (EntityKeyMetadata) and the asynchronous job that builds each key's index.

Sources (learn.microsoft.com power-apps/developer/data-platform/define-alternate-keys-entity): a key's columns
are Decimal, Integer, String, DateTime, Lookup or Picklist columns; at most 16 columns and 900 bytes per key,
at most ten keys per table. The unique index is built by a background job: EntityKeyIndexStatus moves
Pending -> InProgress -> Active, or Failed (for example when existing rows repeat the key's values). Until the
key is Active it is not in the service's model, so a URL or an @odata.bind using it is refused like any key
the table does not have.

The emulator runs the job on emulated time: each request to the emulator is one tick, and KeyIndexTiming says
how many ticks a key stays Pending and InProgress. Timing(0, 0) builds indexes at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .. import errors
from ..schema import ColumnType, Table, metadata_id
from .labels import label, read_label
from .naming import custom_logical_name


class KeyStatus(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    ACTIVE = "Active"
    FAILED = "Failed"


@dataclass(frozen=True)
class KeyIndexTiming:
    pending_requests: int = 1
    in_progress_requests: int = 1


IMMEDIATE = KeyIndexTiming(0, 0)


@dataclass
class EntityKey:
    entity: str  # the table's logical name
    logical_name: str
    schema_name: str
    columns: tuple[str, ...]
    display_name: str | None = None
    status: KeyStatus = KeyStatus.PENDING
    since: int = 0  # the tick at which the current status began

    @property
    def metadata_id(self) -> str:
        return metadata_id("key", f"{self.entity}.{self.logical_name}")


MAX_KEYS_PER_TABLE = 10
MAX_KEY_COLUMNS = 16
MAX_KEY_BYTES = 900  # SQL Server's index key limit
# Bytes a value takes in the index: nvarchar stores two per character; decimal(23,10) takes 13.
_KEY_BYTES = {
    ColumnType.INTEGER: 4,
    ColumnType.PICKLIST: 4,
    ColumnType.DECIMAL: 13,
    ColumnType.DATETIME: 8,
    ColumnType.LOOKUP: 16,
}


def key_from_definition(table: Table, body: Any, existing: list[EntityKey], tick: int) -> EntityKey:
    if not isinstance(body, dict):
        raise errors.unreadable_json("Keys")
    logical_name = custom_logical_name(body.get("SchemaName"), "key")
    columns = body.get("KeyAttributes")
    if not isinstance(columns, list) or not columns or not all(isinstance(name, str) for name in columns):
        raise errors.invalid_definition(
            "An entity key needs KeyAttributes: the logical names of its columns."
        )
    if len(set(columns)) != len(columns) or len(columns) > MAX_KEY_COLUMNS:
        raise errors.invalid_definition(
            f"An entity key names each column once, at most {MAX_KEY_COLUMNS} columns."
        )
    size = 0
    for name in columns:
        column = table.columns.get(name)
        if column is None:
            raise errors.unknown_attribute(table.logical_name, name)
        if column.type is ColumnType.STRING:
            size += 2 * (column.max_length or 0)
        elif column.type in _KEY_BYTES:
            size += _KEY_BYTES[column.type]
        else:
            raise errors.invalid_definition(
                f"The column '{name}' of type {column.type} cannot be part of an entity key: only Decimal, "
                "Integer, String, DateTime, Lookup and Picklist columns can."
            )
    if size > MAX_KEY_BYTES:
        raise errors.invalid_definition(
            f"The entity key is {size} bytes long; an index key allows at most {MAX_KEY_BYTES} bytes."
        )
    if len(existing) >= MAX_KEYS_PER_TABLE:
        raise errors.invalid_definition(f"A table can have at most {MAX_KEYS_PER_TABLE} entity keys.")
    for key in existing:
        if key.logical_name == logical_name or sorted(key.columns) == sorted(columns):
            raise errors.invalid_definition(
                f"The entity '{table.logical_name}' already has an entity key "
                f"'{key.schema_name}' with that name or those columns."
            )
    return EntityKey(
        table.logical_name,
        logical_name,
        body["SchemaName"],
        tuple(columns),
        read_label(body, "DisplayName"),
        since=tick,
    )


def key_json(key: EntityKey) -> dict[str, Any]:
    return {
        "MetadataId": key.metadata_id,
        "HasChanged": None,
        "LogicalName": key.logical_name,
        "SchemaName": key.schema_name,
        "EntityLogicalName": key.entity,
        "KeyAttributes": list(key.columns),
        "DisplayName": label(key.display_name, key.metadata_id),
        "EntityKeyIndexStatus": str(key.status),
        "IsManaged": False,
        "IsCustomizable": {
            "Value": True,
            "CanBeChanged": True,
            "ManagedPropertyLogicalName": "iscustomizable",
        },
        "IntroducedVersion": "1.0.0.0",
        "IsSecondaryKey": False,
        "IsExportKey": False,
        "IsSynchronous": False,
    }
