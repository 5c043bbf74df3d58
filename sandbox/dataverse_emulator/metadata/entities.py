"""Table definitions (EntityMetadata): read a POSTed custom table into a Table, write a Table back out.

Source: learn.microsoft.com power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-
web-api. A new table needs SchemaName, DisplayName, DisplayCollectionName, OwnershipType and, in `Attributes`,
exactly one StringAttributeMetadata with IsPrimaryName true (further columns may come along). Dataverse adds
the primary id `<logicalname>id`, statecode/statuscode (Active/Inactive), and the audit columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from .. import errors
from ..schema import (
    Column,
    ColumnType,
    Origin,
    Table,
    TableInfo,
    audit,
    make_table,
    primary_id,
    state_status,
    two_state,
)
from .attributes import column_from_definition
from .labels import label, read_label
from .naming import custom_logical_name, plural

OWNERSHIP_TYPES = ("UserOwned", "OrganizationOwned")
_ENTITY_SET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def table_from_definition(
    body: Any, *, object_type_code: int, taken_entity_sets: Iterable[str], option_value_prefix: int
) -> Table:
    if not isinstance(body, dict):
        raise errors.unreadable_json("EntityDefinitions")
    logical_name = custom_logical_name(body.get("SchemaName"), "entity")
    schema_name: str = body["SchemaName"]
    ownership = body.get("OwnershipType", "UserOwned")
    if ownership not in OWNERSHIP_TYPES:
        raise errors.invalid_definition(f"OwnershipType must be one of {', '.join(OWNERSHIP_TYPES)}.")
    if body.get("IsActivity") is True:
        raise errors.not_supported("Creating an activity table")
    display_name = read_label(body, "DisplayName")
    display_collection_name = read_label(body, "DisplayCollectionName")
    if display_name is None or display_collection_name is None:
        raise errors.invalid_definition("A table definition needs a DisplayName and a DisplayCollectionName.")
    entity_set = body.get("EntitySetName") or plural(logical_name)
    if (
        not isinstance(entity_set, str)
        or not _ENTITY_SET_NAME.match(entity_set)
        or entity_set in taken_entity_sets
    ):
        raise errors.invalid_definition(f"The entity set name '{entity_set}' is not valid or already in use.")
    attributes = body.get("Attributes")
    shell = make_table(
        logical_name,
        entity_set,
        None,
        [],
        TableInfo(schema_name, object_type_code, display_name, display_collection_name),
    )
    columns = [
        column_from_definition(shell, attribute, option_value_prefix=option_value_prefix)
        for attribute in (attributes if isinstance(attributes, list) else [])
    ]
    primary_names = [column for column in columns if column.is_primary_name]
    if len(primary_names) != 1 or primary_names[0].type is not ColumnType.STRING:
        raise errors.invalid_definition(
            "The table definition must include exactly one StringAttributeMetadata with IsPrimaryName true in "
            "Attributes."
        )
    names = [column.name for column in columns]
    if len(set(names)) != len(names):
        raise errors.duplicate_attribute(logical_name, next(n for n in names if names.count(n) > 1))
    system = [
        replace(primary_id(f"{logical_name}id", Origin.PLATFORM), schema_name=f"{schema_name}Id"),
        *state_status(origin=Origin.PLATFORM),
        *audit(Origin.PLATFORM),
    ]
    info = TableInfo(
        schema_name,
        object_type_code,
        display_name,
        display_collection_name,
        primary_name=primary_names[0].name,
        ownership=ownership,
        is_custom=True,
        description=read_label(body, "Description"),
    )
    return make_table(logical_name, entity_set, None, [*system, *columns], info, state=two_state(1, 2))


ENTITY_PROPERTIES = (
    "MetadataId",
    "HasChanged",
    "LogicalName",
    "SchemaName",
    "EntitySetName",
    "LogicalCollectionName",
    "CollectionSchemaName",
    "PrimaryIdAttribute",
    "PrimaryNameAttribute",
    "ObjectTypeCode",
    "IsCustomEntity",
    "IsManaged",
    "OwnershipType",
    "IsActivity",
    "IsIntersect",
    "IsValidForAdvancedFind",
    "ChangeTrackingEnabled",
    "TableType",
    "DisplayName",
    "DisplayCollectionName",
    "Description",
)


def entity_json(table: Table) -> dict[str, Any]:
    """The EntityMetadata of a table, without its Attributes and Keys (those are expanded on request)."""
    info = table.info or TableInfo(table.logical_name, 0, table.logical_name, table.entity_set)
    owner = table.metadata_id
    return {
        "MetadataId": owner,
        "HasChanged": None,
        "LogicalName": table.logical_name,
        "SchemaName": info.schema_name,
        "EntitySetName": table.entity_set,
        "LogicalCollectionName": plural(table.logical_name) if info.is_custom else table.entity_set,
        "CollectionSchemaName": plural(info.schema_name),
        "PrimaryIdAttribute": table.primary_id,
        "PrimaryNameAttribute": info.primary_name,
        "ObjectTypeCode": info.object_type_code,
        "IsCustomEntity": info.is_custom,
        "IsManaged": False,
        "OwnershipType": info.ownership,
        "IsActivity": False,
        "IsIntersect": False,
        "IsValidForAdvancedFind": True,
        "ChangeTrackingEnabled": False,
        "TableType": "Standard",
        "DisplayName": label(info.display_name, owner + ":display"),
        "DisplayCollectionName": label(info.display_collection_name, owner + ":collection"),
        "Description": label(info.description, owner + ":description"),
    }


def with_column(table: Table, column: Column) -> Table:
    return replace(table, columns={**table.columns, column.name: column})
