"""A create or update body, checked column by column and turned into the values to store.

Only the table's declared columns and navigation properties are accepted; lookups are written with
`<navigation property>@odata.bind`, never by their `_x_value` name. Instance annotations ("@odata.etag",
"name@OData.Community.Display.V1.FormattedValue") are ignored, as OData readers ignore them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import errors
from .schema import LOOKUP_TYPES, NavigationProperty, Table
from .values import coerce

BIND_SUFFIX = "@odata.bind"
Operation = Literal["create", "update"]
# Turns an @odata.bind value into the id of an existing row of the navigation property's target table.
ResolveReference = Callable[[Table, NavigationProperty, str], str]


def lookup_annotation(column: str) -> str:
    """Where a row keeps the table a lookup points at (the annotation Dataverse returns for it)."""
    return f"_{column}_value@Microsoft.Dynamics.CRM.lookuplogicalname"


@dataclass
class Changes:
    values: dict[str, Any] = field(default_factory=dict)  # column logical name -> stored value
    annotations: dict[str, str | None] = field(default_factory=dict)  # lookup annotation -> target table

    def apply_to(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {**row, **self.values, **self.annotations}


def parse_payload(
    table: Table,
    body: Any,
    *,
    operation: Operation,
    resolve: ResolveReference,
    logical_names: Mapping[str, str],
    trusted: bool = False,
) -> Changes:
    """`logical_names` maps entity sets to table names for the lookup annotation; `trusted` (seeding) may
    write columns the API would refuse, such as a salesorder's statecode on create."""
    if not isinstance(body, dict):
        raise errors.unreadable_json(table.entity_set)
    changes = Changes()
    for name, value in body.items():
        if name.endswith(BIND_SUFFIX):
            _bind(table, name.removesuffix(BIND_SUFFIX), value, changes, resolve, logical_names)
            lookup = table.columns[table.navigation[name.removesuffix(BIND_SUFFIX)].column]
            allowed = lookup.valid_for_create if operation == "create" else lookup.valid_for_update
            if not allowed and not trusted:
                raise errors.not_valid_for(table.logical_name, lookup.name, operation)
            continue
        if "@" in name:
            continue  # an instance or property annotation
        column = table.columns.get(name)
        if column is None or column.type in LOOKUP_TYPES:
            raise errors.undeclared_property(table.entity_set, table.logical_name, name)
        allowed = column.valid_for_create if operation == "create" else column.valid_for_update
        if not allowed and not trusted and not (operation == "update" and name == table.primary_id):
            raise errors.not_valid_for(table.logical_name, name, operation)
        changes.values[name] = coerce(table, column, value)
    return changes


def _bind(
    table: Table,
    navigation_name: str,
    value: Any,
    changes: Changes,
    resolve: ResolveReference,
    logical_names: Mapping[str, str],
) -> None:
    navigation = table.navigation.get(navigation_name)
    if navigation is None:
        raise errors.undeclared_navigation(table.entity_set, navigation_name)
    annotation = lookup_annotation(navigation.column)
    if value is None:
        changes.values[navigation.column] = None
        changes.annotations[annotation] = None
        return
    if not isinstance(value, str):
        raise errors.bad_reference(table.entity_set, navigation_name, "expected a URL string")
    if navigation.column in changes.values and changes.values[navigation.column] is not None:
        # customerid_account and customerid_contact both set: one column, two values
        raise errors.invalid_argument(f"The '{navigation.column}' lookup was set more than once.")
    changes.values[navigation.column] = resolve(table, navigation, value)
    changes.annotations[annotation] = logical_names[navigation.target]
