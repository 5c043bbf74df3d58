"""The live schema: create tables, columns, keys and one-to-many relationships while the emulator runs.

Every change swaps an immutable Table into the store's table map, so a request that already holds a Table
keeps a consistent view. Key indexes build on emulated time (see keys.py): `tick()` runs once per request.
Listeners hear about new tables (the event registry adds their sdkmessagefilter rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .. import errors
from ..currency_columns import with_currency_columns
from ..schema import Column, ColumnType, NavigationProperty, Origin, RequiredLevel, Table, metadata_id
from ..store import Store
from .attributes import DEFAULT_OPTION_VALUE_PREFIX, REQUIRED_LEVELS, column_from_definition, metadata_type_of
from .entities import table_from_definition, with_column
from .keys import IMMEDIATE, EntityKey, KeyIndexTiming, KeyStatus, key_from_definition
from .labels import read_label
from .naming import custom_logical_name

FIRST_CUSTOM_OBJECT_TYPE_CODE = 10000


@dataclass(frozen=True)
class Relationship:
    schema_name: str
    referenced_entity: str
    referencing_entity: str
    referencing_attribute: str
    navigation_property: str

    @property
    def metadata_id(self) -> str:
        return metadata_id("relationship", self.schema_name)

    def json(self, referenced_attribute: str) -> dict[str, Any]:
        return {
            "@odata.type": "#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
            "MetadataId": self.metadata_id,
            "SchemaName": self.schema_name,
            "RelationshipType": "OneToManyRelationship",
            "IsCustomRelationship": True,
            "IsManaged": False,
            "ReferencedEntity": self.referenced_entity,
            "ReferencedAttribute": referenced_attribute,
            "ReferencingEntity": self.referencing_entity,
            "ReferencingAttribute": self.referencing_attribute,
            "ReferencingEntityNavigationPropertyName": self.navigation_property,
        }


class Catalog:
    def __init__(self, store: Store, timing: KeyIndexTiming) -> None:
        self.store = store
        self.timing = timing
        self.keys: dict[str, list[EntityKey]] = {}  # table logical name -> its keys
        self.relationships: dict[str, Relationship] = {}
        self.table_listeners: list[Callable[[Table], None]] = []
        self._ticks = 0
        self._failing: set[tuple[str, str]] = set()
        self._next_object_type_code = FIRST_CUSTOM_OBJECT_TYPE_CODE

    # --- reading ---------------------------------------------------------------------------------------
    @property
    def tables(self) -> dict[str, Table]:
        return self.store.tables

    def logical_names(self) -> dict[str, str]:
        return {entity_set: table.logical_name for entity_set, table in self.tables.items()}

    def table(self, logical_name: str) -> Table:
        found = next((t for t in self.tables.values() if t.logical_name == logical_name.lower()), None)
        if found is None:
            raise errors.unknown_entity(logical_name)
        return found

    def table_by_id(self, metadata_id_text: str) -> Table:
        found = next((t for t in self.tables.values() if t.metadata_id == metadata_id_text.lower()), None)
        if found is None:
            raise errors.unknown_entity(metadata_id_text)
        return found

    def key(self, logical_name: str, name: str) -> EntityKey:
        for key in self.keys.get(logical_name, []):
            if name.lower() in (key.logical_name, key.metadata_id):
                return key
        raise errors.unknown_key(logical_name, name)

    # --- tables and columns ---------------------------------------------------------------------------
    def create_table(self, body: Any, option_value_prefix: int = DEFAULT_OPTION_VALUE_PREFIX) -> Table:
        if isinstance(body, dict) and isinstance(body.get("SchemaName"), str):
            name = body["SchemaName"].lower()
            if any(t.logical_name == name for t in self.tables.values()):
                raise errors.duplicate_entity(body["SchemaName"])
        table = table_from_definition(
            body,
            object_type_code=self._next_object_type_code,
            taken_entity_sets=self.tables,
            option_value_prefix=option_value_prefix,
        )
        self._next_object_type_code += 1
        table = with_currency_columns(table)
        self.store.add_table(table)
        for listener in self.table_listeners:
            listener(table)
        return table

    def create_attribute(
        self, logical_name: str, body: Any, option_value_prefix: int = DEFAULT_OPTION_VALUE_PREFIX
    ) -> tuple[Table, str]:
        """Add the column a POSTed AttributeMetadata describes; returns the table and the column's name."""
        table = self.table(logical_name)
        schema_name = body.get("SchemaName") if isinstance(body, dict) else None
        if isinstance(schema_name, str) and schema_name.lower() in table.columns:
            raise errors.duplicate_attribute(table.logical_name, schema_name)
        column = column_from_definition(table, body, option_value_prefix=option_value_prefix)
        if column.is_primary_name:
            raise errors.invalid_definition("A table's primary name column is created with the table.")
        self.store.replace_table(with_currency_columns(with_column(table, column)))
        return table, column.name

    def create_relationship(self, body: Any) -> Relationship:
        """A OneToManyRelationshipMetadata: a lookup on the referencing table pointing at the referenced one."""
        if not isinstance(body, dict):
            raise errors.unreadable_json("RelationshipDefinitions")
        kind = metadata_type_of(body)
        if kind != "OneToManyRelationshipMetadata":
            raise errors.not_supported(f"Creating a {kind or 'relationship without @odata.type'}")
        schema_name = body.get("SchemaName")
        custom_logical_name(schema_name, "relationship")
        assert isinstance(schema_name, str)
        if schema_name.lower() in self.relationships:
            raise errors.invalid_definition(f"A relationship named '{schema_name}' already exists.")
        referenced = self.table(str(body.get("ReferencedEntity", "")))
        referencing = self.table(str(body.get("ReferencingEntity", "")))
        lookup = body.get("Lookup")
        if not isinstance(lookup, dict) or metadata_type_of(lookup) != "LookupAttributeMetadata":
            raise errors.invalid_definition(
                "The relationship needs a Lookup of type LookupAttributeMetadata."
            )
        column_name = custom_logical_name(lookup.get("SchemaName"), "attribute")
        if column_name in referencing.columns:
            raise errors.duplicate_attribute(referencing.logical_name, lookup["SchemaName"])
        navigation_name = body.get("ReferencingEntityNavigationPropertyName") or column_name
        if navigation_name in referencing.navigation:
            raise errors.invalid_definition(f"The navigation property '{navigation_name}' already exists.")
        level = lookup.get("RequiredLevel")
        level_name = level.get("Value") if isinstance(level, dict) else None
        column = Column(
            column_name,
            ColumnType.LOOKUP,
            REQUIRED_LEVELS.get(str(level_name), RequiredLevel.NONE),
            origin=Origin.SOLUTION,
            targets=(referenced.entity_set,),
            schema_name=lookup["SchemaName"],
            display_name=read_label(lookup, "DisplayName"),
            description=read_label(lookup, "Description"),
        )
        updated = with_column(referencing, column)
        navigation = NavigationProperty(navigation_name, column_name, referenced.entity_set)
        self.store.replace_table(
            replace(updated, navigation={**updated.navigation, navigation_name: navigation})
        )
        relationship = Relationship(
            schema_name, referenced.logical_name, referencing.logical_name, column_name, navigation_name
        )
        self.relationships[schema_name.lower()] = relationship
        return relationship

    # --- keys -------------------------------------------------------------------------------------------
    def create_key(self, logical_name: str, body: Any, *, build_now: bool = False) -> EntityKey:
        table = self.table(logical_name)
        keys = self.keys.setdefault(table.logical_name, [])
        key = key_from_definition(table, body, keys, self._ticks)
        keys.append(key)
        timing = IMMEDIATE if build_now else self.timing
        if timing.pending_requests == 0 and timing.in_progress_requests == 0:
            self._finish(key)
        return key

    def delete_key(self, logical_name: str, name: str) -> None:
        key = self.key(logical_name, name)
        self.keys[key.entity].remove(key)
        if key.status is KeyStatus.ACTIVE:
            table = self.table(key.entity)
            self.store.drop_key_index(table, key.columns)
            kept = tuple(columns for columns in table.alternate_keys if columns != key.columns)
            self.store.replace_table(replace(table, alternate_keys=kept))

    def fail_key_index(self, logical_name: str, name: str) -> None:
        """Make the index job of this key (created or still to come) end in Failed."""
        self._failing.add((logical_name.lower(), name.lower()))

    def tick(self) -> None:
        """One request of emulated time: index jobs move on."""
        self._ticks += 1
        for keys in self.keys.values():
            for key in keys:
                self._advance(key)

    def finish_key_indexes(self) -> None:
        """Run every pending index job to its end now."""
        for keys in self.keys.values():
            for key in keys:
                if key.status in (KeyStatus.PENDING, KeyStatus.IN_PROGRESS):
                    self._finish(key)

    def _advance(self, key: EntityKey) -> None:
        elapsed = self._ticks - key.since
        if key.status is KeyStatus.PENDING and elapsed >= self.timing.pending_requests:
            key.status, key.since, elapsed = KeyStatus.IN_PROGRESS, self._ticks, 0
        if key.status is KeyStatus.IN_PROGRESS and elapsed >= self.timing.in_progress_requests:
            self._finish(key)

    def _finish(self, key: EntityKey) -> None:
        table = self.table(key.entity)
        key.since = self._ticks
        if (key.entity, key.logical_name) in self._failing or self.store.duplicate_key_values(
            table, key.columns
        ):
            key.status = KeyStatus.FAILED  # the unique index cannot be built over duplicate rows
            return
        self.store.build_key_index(table, key.columns)
        self.store.replace_table(replace(table, alternate_keys=(*table.alternate_keys, key.columns)))
        key.status = KeyStatus.ACTIVE
