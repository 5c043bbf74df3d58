"""The definition endpoints: EntityDefinitions (tables, their Attributes and Keys) and RelationshipDefinitions.

    GET    EntityDefinitions[?$select&$filter&$expand=Attributes,Keys]
    GET    EntityDefinitions(LogicalName='x') | EntityDefinitions(<MetadataId>)
    POST   EntityDefinitions                                        a custom table, primary name included
    GET    EntityDefinitions(..)/Attributes[/Microsoft.Dynamics.CRM.<Type>AttributeMetadata]
    GET    EntityDefinitions(..)/Attributes(LogicalName='y')[/Microsoft.Dynamics.CRM.<Type>][?$expand=OptionSet]
    POST   EntityDefinitions(..)/Attributes
    GET    EntityDefinitions(..)/Keys | Keys(LogicalName='k') | Keys(<MetadataId>)
    POST   EntityDefinitions(..)/Keys ;  DELETE EntityDefinitions(..)/Keys(..)
    POST   RelationshipDefinitions (OneToManyRelationshipMetadata) ; GET RelationshipDefinitions(SchemaName='r')

Creates answer 204 with OData-EntityId, as the documented examples do; `MSCRM.SolutionUniqueName` adds what
was created to that unmanaged solution. Sources: webapi/query-metadata-web-api, retrieve-metadata-name-
metadataid, create-update-entity-definitions-using-web-api, create-update-column-definitions-using-web-api,
define-alternate-keys-entity, create-update-entity-relationships-using-web-api (learn.microsoft.com).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.http_emulator import EmulatorRequest, EmulatorResponse

from .. import errors
from ..keys import Resource, read_string_literal
from ..responses import json_response, no_content
from ..schema import Table
from ..solutions import Solutions
from ..tables.platform import (
    COMPONENT_ATTRIBUTE,
    COMPONENT_ENTITY,
    COMPONENT_ENTITY_KEY,
    COMPONENT_RELATIONSHIP,
)
from ..values import is_guid, loads
from .attributes import KINDS, NAMESPACE, attribute_json, option_set_json
from .catalog import Catalog
from .entities import ENTITY_PROPERTIES, entity_json
from .keys import key_json

RESOURCES = ("EntityDefinitions", "RelationshipDefinitions")
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.]*)(?:\((?P<key>.*)\))?$")
_NAMED_KEY = re.compile(r"^\s*(?P<property>LogicalName|SchemaName)\s*=\s*(?P<value>'.*')\s*$")
_EXPAND = re.compile(r"(?P<name>\w+)(?:\(\$select=(?P<select>[^)]*)\))?")


@dataclass(frozen=True)
class _Segment:
    name: str
    key: str | None


class MetadataRoutes:
    def __init__(self, catalog: Catalog, solutions: Solutions, service_root: Callable[[], str]) -> None:
        self.catalog = catalog
        self.solutions = solutions
        self.service_root = service_root

    # --- dispatch ---------------------------------------------------------------------------------------
    def route(self, request: EmulatorRequest, resource: Resource) -> EmulatorResponse:
        segments = _segments(resource.rest)
        method = request.method
        solution = request.headers.get("mscrm.solutionuniquename") or None
        if solution is not None:
            self.solutions.find(solution)  # an unknown solution fails before anything is created
        if resource.name == "RelationshipDefinitions":
            return self._relationships(request, resource, segments, solution)
        if resource.key is None:
            if segments:
                raise errors.segment_not_found(segments[0].name)
            if method == "GET":
                return self._entity_list(request)
            if method == "POST":
                return self._create_table(request, solution)
            raise errors.method_not_allowed(method, "EntityDefinitions")
        table = self._table(resource.key)
        if not segments:
            if method == "GET":
                return self._entity(request, table)
            raise errors.method_not_allowed(method, "EntityDefinitions")
        head, rest = segments[0], segments[1:]
        if head.name == "Attributes":
            return self._attributes(request, table, head, rest, solution)
        if head.name == "Keys" and not rest:
            return self._keys(request, table, head, solution)
        raise errors.segment_not_found(head.name)

    @staticmethod
    def operation(resource: Resource, method: str) -> str:
        tail = [segment.name for segment in _segments(resource.rest)]
        part = (tail[0] if tail else resource.name).lower()
        return f"metadata:{method.lower()}:{part}"

    # --- tables -------------------------------------------------------------------------------------------
    def _table(self, key: str) -> Table:
        named = _named(key, "LogicalName")
        if named is not None:
            return self.catalog.table(named)
        if is_guid(key.strip()):
            return self.catalog.table_by_id(key.strip())
        raise errors.invalid_key("EntityMetadata")

    def _entity_list(self, request: EmulatorRequest) -> EmulatorResponse:
        select = _select(request, ENTITY_PROPERTIES, "EntityMetadata")
        tables = sorted(self.catalog.tables.values(), key=lambda table: table.logical_name)
        items = [entity_json(table) for table in tables]
        if (text := request.query_value("$filter")) is not None:
            predicate = _filter(text, "EntityMetadata")
            items = [item for item in items if predicate(item)]
        expanded = [self._expanded(request, self.catalog.table(item["LogicalName"]), item) for item in items]
        context = f"{self.service_root()}/$metadata#EntityDefinitions{_columns(select)}"
        return json_response(
            200, {"@odata.context": context, "value": [_project(item, select) for item in expanded]}
        )

    def _entity(self, request: EmulatorRequest, table: Table) -> EmulatorResponse:
        select = _select(request, ENTITY_PROPERTIES, "EntityMetadata")
        item = _project(self._expanded(request, table, entity_json(table)), select)
        context = f"{self.service_root()}/$metadata#EntityDefinitions{_columns(select)}/$entity"
        return json_response(200, {"@odata.context": context, **item})

    def _expanded(self, request: EmulatorRequest, table: Table, item: dict[str, Any]) -> dict[str, Any]:
        text = request.query_value("$expand")
        if not text:
            return item
        for match in _EXPAND.finditer(text):
            name, select_text = match["name"], match["select"]
            select = [s.strip() for s in select_text.split(",")] if select_text else None
            if name == "Attributes":
                names = self.catalog.logical_names()
                attributes = [
                    self._attribute_item(table, column_name, names) for column_name in table.columns
                ]
                item["Attributes"] = [_project(attribute, select) for attribute in attributes]
            elif name == "Keys":
                item["Keys"] = [
                    _project(key_json(key), select) for key in self.catalog.keys.get(table.logical_name, [])
                ]
            else:
                raise errors.not_supported(f"$expand={name} on EntityDefinitions")
        return item

    def _create_table(self, request: EmulatorRequest, solution: str | None) -> EmulatorResponse:
        table = self.catalog.create_table(_body(request), self.solutions.option_value_prefix(solution))
        self.solutions.add(solution, COMPONENT_ENTITY, table.metadata_id)
        for column in table.columns.values():
            if column.is_custom:
                self.solutions.add(
                    solution, COMPONENT_ATTRIBUTE, self._attribute_item(table, column.name)["MetadataId"]
                )
        return no_content({"OData-EntityId": f"{self.service_root()}/EntityDefinitions({table.metadata_id})"})

    # --- attributes ---------------------------------------------------------------------------------------
    def _attribute_item(
        self, table: Table, column_name: str, logical_names: dict[str, str] | None = None
    ) -> dict[str, Any]:
        names = logical_names if logical_names is not None else self.catalog.logical_names()
        return attribute_json(table, table.columns[column_name], names)

    def _attributes(
        self,
        request: EmulatorRequest,
        table: Table,
        head: _Segment,
        rest: list[_Segment],
        solution: str | None,
    ) -> EmulatorResponse:
        cast = _cast(rest)
        root = self.service_root()
        if head.key is None:
            if request.method == "POST" and cast is None:
                table, name = self.catalog.create_attribute(
                    table.logical_name, _body(request), self.solutions.option_value_prefix(solution)
                )
                metadata_id = self._attribute_item(self.catalog.table(table.logical_name), name)["MetadataId"]
                self.solutions.add(solution, COMPONENT_ATTRIBUTE, metadata_id)
                entity_id = (
                    f"{root}/EntityDefinitions(LogicalName='{table.logical_name}')/Attributes({metadata_id})"
                )
                return no_content({"OData-EntityId": entity_id})
            if request.method != "GET":
                raise errors.method_not_allowed(request.method, "Attributes")
            names = self.catalog.logical_names()
            items = [self._attribute_item(table, name, names) for name in table.columns]
            if cast is not None:
                items = [item for item in items if item["@odata.type"] == f"#{NAMESPACE}{cast}"]
            if (text := request.query_value("$filter")) is not None:
                predicate = _filter(text, "AttributeMetadata")
                items = [item for item in items if predicate(item)]
            select = _attribute_select(request, items)
            suffix = f"/{NAMESPACE}{cast}" if cast else ""
            context = f"{root}/$metadata#EntityDefinitions('{table.logical_name}')/Attributes{suffix}"
            return json_response(
                200, {"@odata.context": context, "value": [_project(i, select) for i in items]}
            )
        if request.method != "GET":
            raise errors.method_not_allowed(request.method, "Attributes")
        column_name = self._column_name(table, head.key)
        item = self._attribute_item(table, column_name)
        if cast is not None and item["@odata.type"] != f"#{NAMESPACE}{cast}":
            raise errors.segment_not_found(NAMESPACE + cast)
        if request.query_value("$expand") == "OptionSet" and "OptionSet" not in item:
            item["OptionSet"] = option_set_json(table, table.columns[column_name])
        select = _attribute_select(request, [item])
        suffix = f"/{NAMESPACE}{cast}" if cast else ""
        context = f"{root}/$metadata#EntityDefinitions('{table.logical_name}')/Attributes{suffix}/$entity"
        return json_response(200, {"@odata.context": context, **_project(item, select)})

    def _column_name(self, table: Table, key: str) -> str:
        named = _named(key, "LogicalName")
        if named is not None:
            if named not in table.columns:
                raise errors.unknown_attribute(table.logical_name, named)
            return named
        for name in table.columns:
            if self._attribute_item(table, name)["MetadataId"] == key.strip().lower():
                return name
        raise errors.unknown_attribute(table.logical_name, key)

    # --- keys -----------------------------------------------------------------------------------------------
    def _keys(
        self, request: EmulatorRequest, table: Table, head: _Segment, solution: str | None
    ) -> EmulatorResponse:
        root = self.service_root()
        if head.key is None:
            if request.method == "POST":
                key = self.catalog.create_key(table.logical_name, _body(request))
                self.solutions.add(solution, COMPONENT_ENTITY_KEY, key.metadata_id)
                entity_id = (
                    f"{root}/EntityDefinitions(LogicalName='{table.logical_name}')/Keys({key.metadata_id})"
                )
                return no_content({"OData-EntityId": entity_id})
            if request.method != "GET":
                raise errors.method_not_allowed(request.method, "Keys")
            keys = [key_json(key) for key in self.catalog.keys.get(table.logical_name, [])]
            context = f"{root}/$metadata#EntityDefinitions('{table.logical_name}')/Keys"
            return json_response(200, {"@odata.context": context, "value": keys})
        name = _named(head.key, "LogicalName") or head.key.strip()
        if request.method == "DELETE":
            self.catalog.delete_key(table.logical_name, name)
            return no_content()
        if request.method != "GET":
            raise errors.method_not_allowed(request.method, "Keys")
        key = self.catalog.key(table.logical_name, name)
        context = f"{root}/$metadata#EntityDefinitions('{table.logical_name}')/Keys/$entity"
        return json_response(200, {"@odata.context": context, **key_json(key)})

    # --- relationships -------------------------------------------------------------------------------------
    def _relationships(
        self, request: EmulatorRequest, resource: Resource, segments: list[_Segment], solution: str | None
    ) -> EmulatorResponse:
        if segments:
            raise errors.segment_not_found(segments[0].name)
        root = self.service_root()
        if resource.key is None:
            if request.method != "POST":
                raise errors.method_not_allowed(request.method, "RelationshipDefinitions")
            relationship = self.catalog.create_relationship(_body(request))
            self.solutions.add(solution, COMPONENT_RELATIONSHIP, relationship.metadata_id)
            referencing = self.catalog.table(relationship.referencing_entity)
            lookup_id = self._attribute_item(referencing, relationship.referencing_attribute)["MetadataId"]
            self.solutions.add(solution, COMPONENT_ATTRIBUTE, lookup_id)
            return no_content(
                {"OData-EntityId": f"{root}/RelationshipDefinitions({relationship.metadata_id})"}
            )
        if request.method != "GET":
            raise errors.method_not_allowed(request.method, "RelationshipDefinitions")
        wanted = (_named(resource.key, "SchemaName") or resource.key.strip()).lower()
        for relationship in self.catalog.relationships.values():
            if wanted in (relationship.schema_name.lower(), relationship.metadata_id):
                referenced = self.catalog.table(relationship.referenced_entity)
                context = f"{root}/$metadata#RelationshipDefinitions/$entity"
                return json_response(
                    200, {"@odata.context": context, **relationship.json(referenced.primary_id)}
                )
        raise errors.DataverseError(404, "0x80040217", f"Could not find relationship '{resource.key}'.")


# --- request helpers ---------------------------------------------------------------------------------------
def _segments(rest: str | None) -> list[_Segment]:
    if not rest:
        return []
    segments = []
    for text in rest.strip("/").split("/"):
        match = _SEGMENT.match(text)
        if match is None:
            raise errors.segment_not_found(text)
        segments.append(_Segment(match["name"], match["key"]))
    return segments


def _cast(rest: list[_Segment]) -> str | None:
    if not rest:
        return None
    if len(rest) > 1 or rest[0].key is not None or not rest[0].name.startswith(NAMESPACE):
        raise errors.segment_not_found(rest[0].name)
    cast = rest[0].name.removeprefix(NAMESPACE)
    if cast not in {kind.metadata_type for kind in KINDS.values()}:
        raise errors.segment_not_found(rest[0].name)
    return cast


def _named(key: str, property_name: str) -> str | None:
    match = _NAMED_KEY.match(key)
    if match is None or match["property"] != property_name:
        return None
    value, _ = read_string_literal(match["value"], 0)
    return value


def _body(request: EmulatorRequest) -> Any:
    try:
        return loads(request.body) if request.body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise errors.unreadable_json(request.path.rsplit("/", 1)[-1]) from None


def _select(request: EmulatorRequest, known: Iterable[str], type_name: str) -> list[str] | None:
    text = request.query_value("$select")
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    allowed = set(known)
    for name in names:
        if name not in allowed:
            raise errors.unknown_query_property(type_name, name)
    return names


def _attribute_select(request: EmulatorRequest, items: list[dict[str, Any]]) -> list[str] | None:
    known = {name for item in items for name in item} | {"Targets", "MaxLength", "Format", "FormatName"}
    return _select(request, known, "AttributeMetadata")


def _project(item: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """The selected properties (MetadataId and the derived type always come along) plus expansions."""
    if select is None:
        return item
    keep = {"MetadataId", "@odata.type", "Attributes", "Keys", "OptionSet", *select}
    return {name: value for name, value in item.items() if name in keep}


def _columns(select: list[str] | None) -> str:
    return f"({','.join(select)})" if select else ""


_CLAUSE = re.compile(r"^\s*(?P<property>\w+)\s+eq\s+(?P<literal>.+?)\s*$")


def _filter(text: str, type_name: str) -> Callable[[dict[str, Any]], bool]:
    """The `Property eq literal [and ...]` filters the definition endpoints are queried with."""
    tests: list[tuple[str, Any]] = []
    for clause in re.split(r"\s+and\s+", text.strip()):
        match = _CLAUSE.match(clause)
        if match is None:
            raise errors.not_supported(
                f"The $filter '{text}' on {type_name} (only 'Property eq value' and 'and')"
            )
        tests.append((match["property"], _literal(match["literal"])))
    return lambda item: all(item.get(name) == value for name, value in tests)


def _literal(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    enum = re.fullmatch(r"[\w.]+('.*')", text)  # Microsoft.Dynamics.CRM.AttributeTypeCode'String'
    value, _ = read_string_literal(enum[1] if enum else text, 0)
    if value is None:
        raise errors.query_syntax(f"'{text}' is not a literal the definition endpoints understand.")
    return value
