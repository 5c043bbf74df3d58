"""Request bodies of the Dataverse definition endpoints, built from the declarations (pure: no HTTP here).

Shapes after Microsoft's Web API samples (create-update-entity-definitions-using-web-api,
create-update-column-definitions-using-web-api, define-alternate-keys-entity): every definition carries a
typed `@odata.type`, labels are `Label` objects with one English (1033) localized label.
"""

from __future__ import annotations

from typing import Any

from shared.model.crm_schema import AlternateKey, Column, ColumnType, CustomTable, Lookup

NAMESPACE = "Microsoft.Dynamics.CRM."
ENGLISH = 1033
# The publisher's prefix for choice values; 10000 is what a new org's default publisher uses.
DEFAULT_OPTION_VALUE_PREFIX = 10000


def label(text: str) -> dict[str, Any]:
    return {
        "@odata.type": NAMESPACE + "Label",
        "LocalizedLabels": [
            {"@odata.type": NAMESPACE + "LocalizedLabel", "Label": text, "LanguageCode": ENGLISH}
        ],
    }


def attribute_body(column: Column, *, schema_name: str | None = None) -> dict[str, Any]:
    """POST EntityDefinitions(LogicalName='t')/Attributes. The schema name is the logical name: Dataverse
    lower-cases it, so giving it in lower case keeps the two equal and the declaration the only truth."""
    body: dict[str, Any] = {
        "@odata.type": f"{NAMESPACE}{column.type.value}AttributeMetadata",
        "SchemaName": schema_name or column.name,
        "DisplayName": label(column.label),
        "Description": label(column.description),
        "RequiredLevel": {"Value": "None", "CanBeChanged": True},
    }
    kind = column.type
    if kind is ColumnType.STRING:
        body |= {"MaxLength": column.max_length or 100, "FormatName": {"Value": "Text"}}
    elif kind is ColumnType.MEMO:
        body |= {"MaxLength": column.max_length or 2000, "Format": "TextArea"}
    elif kind is ColumnType.MONEY:
        # PrecisionSource 2: the currency's own precision (JPY 0, USD 2), which is what Amazon sends.
        body |= {"PrecisionSource": 2}
    elif kind is ColumnType.DECIMAL:
        body |= {"Precision": column.precision if column.precision is not None else 2}
    elif kind is ColumnType.DATETIME:
        body |= {"Format": "DateAndTime", "DateTimeBehavior": {"Value": "UserLocal"}}
    elif kind is ColumnType.BOOLEAN:
        body |= {
            "DefaultValue": False,
            "OptionSet": {
                "TrueOption": {"Value": 1, "Label": label("Yes")},
                "FalseOption": {"Value": 0, "Label": label("No")},
            },
        }
    elif kind is ColumnType.INTEGER:
        body |= {"Format": "None"}
    return body


def key_body(key: AlternateKey) -> dict[str, Any]:
    """POST EntityDefinitions(LogicalName='t')/Keys (EntityKeyMetadata)."""
    return {"SchemaName": key.name, "DisplayName": label(key.label), "KeyAttributes": list(key.columns)}


def relationship_body(lookup: Lookup) -> dict[str, Any]:
    """POST RelationshipDefinitions: a one-to-many relationship, the lookup column made with it. The navigation
    property is given the column's (lower-case) name, so writes bind `<column>@odata.bind`."""
    return {
        "@odata.type": NAMESPACE + "OneToManyRelationshipMetadata",
        "SchemaName": lookup.relationship,
        "ReferencedEntity": lookup.target,
        "ReferencedAttribute": f"{lookup.target}id",
        "ReferencingEntity": lookup.table,
        "ReferencingEntityNavigationPropertyName": lookup.name,
        "Lookup": {
            "@odata.type": NAMESPACE + "LookupAttributeMetadata",
            "SchemaName": lookup.name,
            "DisplayName": label(lookup.label),
            "Description": label(lookup.description),
            "RequiredLevel": {"Value": "None", "CanBeChanged": True},
        },
    }


def table_body(table: CustomTable, columns: list[Column]) -> dict[str, Any]:
    """POST EntityDefinitions: the table with its primary name column and its other declared columns."""
    primary = Column(
        table.name, table.primary_name, ColumnType.STRING, table.primary_name_label, table.primary_name_length
    )
    primary_body = attribute_body(primary) | {
        "IsPrimaryName": True,
        "RequiredLevel": {"Value": "ApplicationRequired", "CanBeChanged": True},
    }
    return {
        "@odata.type": NAMESPACE + "EntityMetadata",
        "SchemaName": table.name,
        "DisplayName": label(table.label),
        "DisplayCollectionName": label(table.plural_label),
        "Description": label(table.description),
        "OwnershipType": "OrganizationOwned" if table.organization_owned else "UserOwned",
        "IsActivity": False,
        "HasActivities": False,
        "HasNotes": False,
        "Attributes": [primary_body, *(attribute_body(column) for column in columns)],
    }


def publisher_body(unique_name: str, friendly_name: str, prefix: str) -> dict[str, Any]:
    return {
        "uniquename": unique_name,
        "friendlyname": friendly_name,
        "customizationprefix": prefix,
        "customizationoptionvalueprefix": DEFAULT_OPTION_VALUE_PREFIX,
        "description": "Publisher of the Amazon Seller Central sync's customizations.",
    }


def solution_body(unique_name: str, friendly_name: str, publisher_id: str) -> dict[str, Any]:
    return {
        "uniquename": unique_name,
        "friendlyname": friendly_name,
        "version": "1.0.0.0",
        "description": "Columns, keys and event steps of the Amazon Seller Central sync.",
        "publisherid@odata.bind": f"/publishers({publisher_id})",
    }
