"""Column definitions (AttributeMetadata): read a POSTed definition into a Column, write a Column back out.

Sources (learn.microsoft.com, power-apps/developer/data-platform): webapi/create-update-column-definitions-
using-web-api (the request bodies for String, Memo, Money, DateTime, Boolean, Decimal, Integer, Picklist and
BigInt columns; a customer lookup needs CreateCustomerRelationships, a lookup a relationship), entity-attribute-
metadata (String MaxLength up to 4000, Memo up to 1,048,576; Decimal precision 0-10 within +-100,000,000,000;
Money precision 0-4 within +-922,337,203,685,477), and the Web API metadata reference for property names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from .. import errors
from ..schema import Column, ColumnType, Origin, RequiredLevel, Table, metadata_id
from .labels import label, read_label
from .naming import custom_logical_name

NAMESPACE = "Microsoft.Dynamics.CRM."
DEFAULT_OPTION_VALUE_PREFIX = 10000  # the default publisher's: options are numbered 100000000, 100000001, ...


@dataclass(frozen=True)
class AttributeKind:
    metadata_type: str  # the derived AttributeMetadata type
    attribute_type: str  # AttributeType
    type_name: str  # AttributeTypeName.Value


KINDS: dict[ColumnType, AttributeKind] = {
    ColumnType.STRING: AttributeKind("StringAttributeMetadata", "String", "StringType"),
    ColumnType.MEMO: AttributeKind("MemoAttributeMetadata", "Memo", "MemoType"),
    ColumnType.INTEGER: AttributeKind("IntegerAttributeMetadata", "Integer", "IntegerType"),
    ColumnType.BIGINT: AttributeKind("BigIntAttributeMetadata", "BigInt", "BigIntType"),
    ColumnType.DECIMAL: AttributeKind("DecimalAttributeMetadata", "Decimal", "DecimalType"),
    ColumnType.MONEY: AttributeKind("MoneyAttributeMetadata", "Money", "MoneyType"),
    ColumnType.BOOLEAN: AttributeKind("BooleanAttributeMetadata", "Boolean", "BooleanType"),
    ColumnType.DATETIME: AttributeKind("DateTimeAttributeMetadata", "DateTime", "DateTimeType"),
    ColumnType.UNIQUEIDENTIFIER: AttributeKind(
        "UniqueIdentifierAttributeMetadata", "Uniqueidentifier", "UniqueidentifierType"
    ),
    ColumnType.LOOKUP: AttributeKind("LookupAttributeMetadata", "Lookup", "LookupType"),
    ColumnType.CUSTOMER: AttributeKind("LookupAttributeMetadata", "Customer", "CustomerType"),
    ColumnType.STATE: AttributeKind("StateAttributeMetadata", "State", "StateType"),
    ColumnType.STATUS: AttributeKind("StatusAttributeMetadata", "Status", "StatusType"),
    ColumnType.PICKLIST: AttributeKind("PicklistAttributeMetadata", "Picklist", "PicklistType"),
}
# What POST .../Attributes can create; lookups come with a relationship.
CREATABLE = {
    KINDS[kind].metadata_type: kind
    for kind in (
        ColumnType.STRING,
        ColumnType.MEMO,
        ColumnType.INTEGER,
        ColumnType.BIGINT,
        ColumnType.DECIMAL,
        ColumnType.MONEY,
        ColumnType.BOOLEAN,
        ColumnType.DATETIME,
        ColumnType.PICKLIST,
    )
}
KNOWN_TYPES = {kind.metadata_type for kind in KINDS.values()} | {
    "AttributeMetadata",
    "MultiSelectPicklistAttributeMetadata",
    "ImageAttributeMetadata",
    "FileAttributeMetadata",
    "DoubleAttributeMetadata",
    "ComplexLookupAttributeMetadata",
}

REQUIRED_LEVELS = {
    "None": RequiredLevel.NONE,
    "Recommended": RequiredLevel.RECOMMENDED,
    "ApplicationRequired": RequiredLevel.REQUIRED,
    "SystemRequired": RequiredLevel.SYSTEM_REQUIRED,
}
REQUIRED_LEVEL_NAMES = {level: name for name, level in REQUIRED_LEVELS.items()}

_INT32 = (Decimal(-(2**31)), Decimal(2**31 - 1))
# (default precision, highest precision, default min, default max); min/max are also the widest allowed.
_NUMBER_LIMITS = {
    ColumnType.DECIMAL: (2, 10, Decimal("-100000000000"), Decimal("100000000000")),
    ColumnType.MONEY: (2, 4, Decimal("-922337203685477"), Decimal("922337203685477")),
    ColumnType.INTEGER: (0, 0, *_INT32),
}
_TEXT_LIMITS = {ColumnType.STRING: (100, 4000), ColumnType.MEMO: (2000, 1048576)}


def metadata_type_of(body: dict[str, Any]) -> str | None:
    odata_type = body.get("@odata.type")
    if not isinstance(odata_type, str):
        return None
    return odata_type.removeprefix("#").removeprefix(NAMESPACE)


def column_from_definition(
    table: Table, body: Any, *, option_value_prefix: int = DEFAULT_OPTION_VALUE_PREFIX
) -> Column:
    """The custom column a POSTed AttributeMetadata body describes, checked the way Dataverse checks it."""
    segment = "Attributes"
    if not isinstance(body, dict):
        raise errors.unreadable_json(segment)
    metadata_type = metadata_type_of(body)
    if metadata_type is None:
        raise errors.invalid_definition(
            "The attribute definition needs an @odata.type naming a derived AttributeMetadata type, such as "
            "Microsoft.Dynamics.CRM.StringAttributeMetadata."
        )
    if metadata_type not in KNOWN_TYPES:
        raise errors.unresolved_type(segment, NAMESPACE + metadata_type)
    if metadata_type in ("LookupAttributeMetadata", "ComplexLookupAttributeMetadata"):
        raise errors.invalid_definition(
            "A lookup column is created with its relationship: POST RelationshipDefinitions with a "
            "OneToManyRelationshipMetadata (or the CreateCustomerRelationships action for a customer lookup)."
        )
    kind = CREATABLE.get(metadata_type)
    if kind is None:
        raise errors.not_supported(f"Creating a {metadata_type} column")
    name = custom_logical_name(body.get("SchemaName"), "attribute")
    column = Column(
        name,
        kind,
        _required_level(body),
        origin=Origin.SOLUTION,
        schema_name=body["SchemaName"],
        display_name=read_label(body, "DisplayName"),
        description=read_label(body, "Description"),
        is_primary_name=body.get("IsPrimaryName") is True,
    )
    if kind in _TEXT_LIMITS:
        return _text_column(column, body)
    if kind in _NUMBER_LIMITS:
        return _number_column(column, body)
    if kind is ColumnType.DATETIME:
        return replace(column, format=_string(body, "Format", ("DateOnly", "DateAndTime"), "DateAndTime"))
    if kind is ColumnType.BOOLEAN:
        return replace(column, options=_boolean_options(body))
    if kind is ColumnType.PICKLIST:
        return replace(column, options=_picklist_options(body, option_value_prefix))
    return column  # BigInt: the whole Int64 range


def _required_level(body: dict[str, Any]) -> RequiredLevel:
    level = body.get("RequiredLevel")
    if level is None:
        return RequiredLevel.NONE
    value = level.get("Value") if isinstance(level, dict) else None
    if value not in REQUIRED_LEVELS:
        raise errors.invalid_definition(
            "RequiredLevel.Value must be one of None, Recommended, ApplicationRequired, SystemRequired."
        )
    return REQUIRED_LEVELS[value]


def _text_column(column: Column, body: dict[str, Any]) -> Column:
    default, highest = _TEXT_LIMITS[column.type]
    max_length = body.get("MaxLength", default)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 1 <= max_length <= highest:
        raise errors.invalid_definition(
            f"MaxLength of a {column.type} column must be between 1 and {highest}."
        )
    if column.type is ColumnType.STRING:
        format_name = body.get("FormatName") or {"Value": "Text"}
        text_format = format_name.get("Value") if isinstance(format_name, dict) else None
    else:
        text_format = body.get("Format", "TextArea")
    if not isinstance(text_format, str):
        raise errors.invalid_definition("The text format must be a string such as Text or Email.")
    return replace(column, max_length=max_length, format=text_format)


def _number_column(column: Column, body: dict[str, Any]) -> Column:
    default_precision, highest_precision, lowest, highest = _NUMBER_LIMITS[column.type]
    low, high = _decimal(body, "MinValue", lowest), _decimal(body, "MaxValue", highest)
    if not lowest <= low <= high <= highest:
        raise errors.invalid_definition(
            f"MinValue and MaxValue of a {column.type} column must lie between {lowest} and {highest}, "
            "MinValue first."
        )
    precision = body.get("Precision", default_precision)
    if (
        isinstance(precision, bool)
        or not isinstance(precision, int)
        or not 0 <= precision <= highest_precision
    ):
        raise errors.invalid_definition(
            f"Precision of a {column.type} column must be between 0 and {highest_precision}."
        )
    integer = column.type is ColumnType.INTEGER
    return replace(
        column,
        precision=None if integer else precision,
        min_value=low,
        max_value=high,
        format=body.get("Format", "None") if integer else None,
    )


def _decimal(body: dict[str, Any], name: str, default: Decimal) -> Decimal:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        raise errors.invalid_definition(f"{name} must be a number.")
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise errors.invalid_definition(f"{name} must be a number.") from None


def _string(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(name, default)
    if value not in allowed:
        raise errors.invalid_definition(f"{name} must be one of {', '.join(allowed)}.")
    return str(value)


def _boolean_options(body: dict[str, Any]) -> tuple[tuple[int, str], ...]:
    option_set = body.get("OptionSet") or {}
    labels = {}
    for value, key, default in ((1, "TrueOption", "Yes"), (0, "FalseOption", "No")):
        option = option_set.get(key) if isinstance(option_set, dict) else None
        labels[value] = (read_label(option, "Label") if isinstance(option, dict) else None) or default
    return tuple(labels.items())


def _picklist_options(body: dict[str, Any], option_value_prefix: int) -> tuple[tuple[int, str], ...]:
    option_set = body.get("OptionSet")
    if isinstance(body.get("GlobalOptionSet@odata.bind"), str):
        raise errors.not_supported("A choice column bound to a global choice")
    if (
        not isinstance(option_set, dict)
        or not isinstance(option_set.get("Options"), list)
        or not option_set["Options"]
    ):
        raise errors.invalid_definition("A choice column needs OptionSet.Options.")
    options: dict[int, str] = {}
    next_value = option_value_prefix * 10000  # Dataverse numbers options it is not given from the prefix
    for option in option_set["Options"]:
        if not isinstance(option, dict):
            raise errors.invalid_definition("Each option needs a Value and a Label.")
        value = option.get("Value")
        if value is None:
            while next_value in options:
                next_value += 1
            value = next_value
        if isinstance(value, bool) or not isinstance(value, int) or value in options:
            raise errors.invalid_definition("Option values must be distinct whole numbers.")
        options[value] = read_label(option, "Label") or str(value)
    return tuple(options.items())


# --- writing definitions out ----------------------------------------------------------------------------------
def attribute_json(table: Table, column: Column, logical_names: Mapping[str, str]) -> dict[str, Any]:
    """The AttributeMetadata of a column, with its derived type's own properties; `logical_names` maps entity
    sets to table names (lookups store their targets as entity sets, definitions name tables)."""
    kind = KINDS[column.type]
    attribute_type = "Lookup" if column.polymorphic else kind.attribute_type
    owner = f"{table.logical_name}.{column.name}"
    out: dict[str, Any] = {
        "@odata.type": f"#{NAMESPACE}{kind.metadata_type}",
        "MetadataId": metadata_id("attribute", owner),
        "HasChanged": None,
        "AttributeOf": None,
        "AttributeType": attribute_type,
        "AttributeTypeName": {"Value": f"{attribute_type}Type"},
        "EntityLogicalName": table.logical_name,
        "LogicalName": column.name,
        "SchemaName": column.schema_name or column.name,
        "IsCustomAttribute": column.is_custom,
        "IsPrimaryId": column.name == table.primary_id,
        "IsPrimaryName": column.is_primary_name
        or (table.info is not None and table.info.primary_name == column.name),
        "IsValidForCreate": column.valid_for_create,
        "IsValidForUpdate": column.valid_for_update,
        "IsValidForRead": column.valid_for_read,
        "IsValidODataAttribute": True,
        "IsLogical": False,
        "IsManaged": False,
        "RequiredLevel": {
            "Value": REQUIRED_LEVEL_NAMES[column.required],
            "CanBeChanged": column.is_custom,
            "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
        },
        "DisplayName": label(column.display_name, owner + ":display"),
        "Description": label(column.description, owner + ":description"),
    }
    out |= _type_properties(column, logical_names)
    return out


def _type_properties(column: Column, logical_names: Mapping[str, str]) -> dict[str, Any]:
    kind = column.type
    if kind is ColumnType.STRING:
        return {"MaxLength": column.max_length, "FormatName": {"Value": column.format or "Text"}}
    if kind is ColumnType.MEMO:
        return {"MaxLength": column.max_length, "Format": column.format or "TextArea"}
    if kind in (ColumnType.DECIMAL, ColumnType.MONEY, ColumnType.INTEGER):
        default_precision, _, lowest, highest = _NUMBER_LIMITS[kind]
        out: dict[str, Any] = {
            "MinValue": column.min_value if column.min_value is not None else lowest,
            "MaxValue": column.max_value if column.max_value is not None else highest,
        }
        if kind is ColumnType.INTEGER:
            return out | {"Format": column.format or "None"}
        precision = column.precision if column.precision is not None else default_precision
        return out | {"Precision": precision} | ({"PrecisionSource": 2} if kind is ColumnType.MONEY else {})
    if kind is ColumnType.DATETIME:
        return {"Format": column.format or "DateAndTime", "DateTimeBehavior": {"Value": "UserLocal"}}
    if kind is ColumnType.BOOLEAN:
        return {"DefaultValue": False}
    if kind in (ColumnType.LOOKUP, ColumnType.CUSTOMER):
        return {"Targets": [logical_names.get(target, target) for target in column.targets]}
    if kind is ColumnType.PICKLIST:
        return {"DefaultFormValue": -1}
    return {}


def option_set_json(table: Table, column: Column) -> dict[str, Any]:
    """The attribute's OptionSet navigation property ($expand=OptionSet) for choices and booleans."""
    owner = f"{table.logical_name}.{column.name}"
    if column.type is ColumnType.BOOLEAN:
        options = dict(column.options or ((1, "Yes"), (0, "No")))
        return {
            "MetadataId": metadata_id("optionset", owner),
            "OptionSetType": "Boolean",
            "TrueOption": {"Value": 1, "Label": label(options[1], owner + ":true")},
            "FalseOption": {"Value": 0, "Label": label(options[0], owner + ":false")},
        }
    if column.type is ColumnType.PICKLIST:
        return {
            "MetadataId": metadata_id("optionset", owner),
            "OptionSetType": "Picklist",
            "IsGlobal": False,
            "Options": [
                {"Value": value, "Label": label(text, f"{owner}:{value}")} for value, text in column.options
            ],
        }
    states = table.states if column.type is ColumnType.STATE else {}
    statuses = table.statuses if column.type is ColumnType.STATUS else {}
    return {
        "MetadataId": metadata_id("optionset", owner),
        "OptionSetType": str(column.type),
        "Options": [
            {"Value": value, "Label": label(text, f"{owner}:{value}")} for value, text in states.items()
        ]
        + [
            {
                "Value": option.value,
                "State": option.state,
                "Label": label(option.label, f"{owner}:{option.value}"),
            }
            for option in statuses.values()
        ],
    }
