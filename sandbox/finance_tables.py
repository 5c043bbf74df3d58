"""The finance declaration (shared/finance_declaration.py) created in the Dataverse emulator, through its
definition hooks with the Web API's own JSON bodies: tables, columns, lookups (one-to-many relationships) and
alternate keys, keys built at once. Stands in for the provisioning command until that lands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.dataverse_emulator.webapi_client import label
from sandbox.dataverse_seed import SOLUTION_NAME
from shared.finance_declaration import ColumnSpec, LookupSpec, TableSpec, finance_declaration, schema_name

if TYPE_CHECKING:
    from sandbox.dataverse_emulator import DataverseEmulator

CRM = "Microsoft.Dynamics.CRM."
_METADATA_TYPES = {
    "String": "StringAttributeMetadata",
    "Memo": "MemoAttributeMetadata",
    "Money": "MoneyAttributeMetadata",
    "Decimal": "DecimalAttributeMetadata",
    "DateTime": "DateTimeAttributeMetadata",
    "DateOnly": "DateTimeAttributeMetadata",
    "Integer": "IntegerAttributeMetadata",
}


def provision_finance(dataverse: DataverseEmulator, prefix: str) -> None:
    """Every table, column, lookup and key of the finance declaration, in dependency order."""
    declaration = finance_declaration(prefix)
    for table in declaration:
        if table.is_new:
            dataverse.create_table(table_definition(table, prefix), SOLUTION_NAME)
        for column in table.columns:
            dataverse.create_attribute(
                table.logical_name, attribute_definition(column, prefix), SOLUTION_NAME
            )
    for table in declaration:
        for lookup in table.lookups:
            dataverse.create_relationship(relationship_definition(table, lookup, prefix))
        for key in table.keys:
            body = {
                "SchemaName": key.name,
                "DisplayName": label(key.name),
                "KeyAttributes": list(key.columns),
            }
            dataverse.create_key(table.logical_name, body, SOLUTION_NAME, build_now=True)


def table_definition(table: TableSpec, prefix: str) -> dict[str, Any]:
    assert table.primary_name is not None
    primary = {**attribute_definition(table.primary_name, prefix), "IsPrimaryName": True}
    return {
        "@odata.type": CRM + "EntityMetadata",
        "SchemaName": table.logical_name,
        "EntitySetName": table.entity_set,
        "DisplayName": label(table.label),
        "DisplayCollectionName": label(table.plural_label),
        "Description": label("Written by the Amazon Seller Central sync."),
        "OwnershipType": "UserOwned",
        "IsActivity": False,
        "HasNotes": False,
        "HasActivities": False,
        "Attributes": [primary],
    }


def attribute_definition(column: ColumnSpec, prefix: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@odata.type": CRM + _METADATA_TYPES[column.kind],
        "SchemaName": schema_name(prefix, column.label),
        "DisplayName": label(column.label),
        "Description": label("Written by the Amazon Seller Central sync."),
        "RequiredLevel": {"Value": "None", "CanBeChanged": True},
    }
    if column.kind == "String":
        body |= {"MaxLength": column.max_length, "FormatName": {"Value": "Text"}}
    elif column.kind == "Memo":
        body |= {"MaxLength": column.max_length, "Format": "TextArea"}
    elif column.kind == "Money":
        body |= {"PrecisionSource": 2}
    elif column.kind == "Decimal":
        body |= {"Precision": column.precision, "MinValue": -100000000000, "MaxValue": 100000000000}
    elif column.kind in ("DateTime", "DateOnly"):
        body |= {"Format": "DateOnly" if column.kind == "DateOnly" else "DateAndTime"}
    elif column.kind == "Integer":
        body |= {"MinValue": 0, "MaxValue": 2147483647, "Format": "None"}
    return body


def relationship_definition(table: TableSpec, lookup: LookupSpec, prefix: str) -> dict[str, Any]:
    return {
        "@odata.type": CRM + "OneToManyRelationshipMetadata",
        "SchemaName": lookup.relationship,
        "ReferencedEntity": lookup.target,
        "ReferencedAttribute": f"{lookup.target}id",
        "ReferencingEntity": table.logical_name,
        "ReferencingEntityNavigationPropertyName": lookup.name,
        "Lookup": {
            "@odata.type": CRM + "LookupAttributeMetadata",
            "SchemaName": schema_name(prefix, lookup.label),
            "DisplayName": label(lookup.label),
            "RequiredLevel": {"Value": "None", "CanBeChanged": True},
        },
    }
