"""The shapes of the emulator's schema: tables, columns, navigation properties, state models.

The tables themselves are defined in tables/ (one module per area); the metadata endpoints (metadata/) add
columns, tables and keys at run time, so a Table is immutable and the live schema swaps in a new one on every
change. The accepted columns are listed explicitly: a payload naming anything else is refused the way
Dataverse refuses it, so a typo in the connector fails here and not first in production. Every column says
where its definition comes from (`Origin`); tests/contract/test_dataverse_emulator_contract.py checks the CDM
ones, and the navigation properties, against the CDM snapshot.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType


class ColumnType(StrEnum):
    STRING = "String"
    MEMO = "Memo"  # multi-line text: Edm.String like String, but never part of a key
    INTEGER = "Integer"
    BIGINT = "BigInt"
    DECIMAL = "Decimal"
    MONEY = "Money"
    BOOLEAN = "Boolean"
    DATETIME = "DateTime"
    UNIQUEIDENTIFIER = "Uniqueidentifier"
    LOOKUP = "Lookup"  # one target table
    CUSTOMER = "Customer"  # account or contact, one navigation property per target
    STATE = "State"
    STATUS = "Status"
    PICKLIST = "Picklist"  # a choice: an integer from the column's options


LOOKUP_TYPES = frozenset({ColumnType.LOOKUP, ColumnType.CUSTOMER})
TEXT_TYPES = frozenset({ColumnType.STRING, ColumnType.MEMO})
OPTION_TYPES = frozenset({ColumnType.STATE, ColumnType.STATUS, ColumnType.PICKLIST})
NUMERIC_TYPES = frozenset(
    {
        ColumnType.INTEGER,
        ColumnType.BIGINT,
        ColumnType.DECIMAL,
        ColumnType.MONEY,
        *OPTION_TYPES,
    }
)


class RequiredLevel(StrEnum):
    NONE = "none"
    RECOMMENDED = "recommended"
    REQUIRED = "required"  # business-required ("ApplicationRequired"): forms insist, the API does not
    SYSTEM_REQUIRED = "systemrequired"


class Origin(StrEnum):
    CDM = "cdm"  # an attribute of the table's CDM document
    BASE = "base"  # inherited from CdsStandard, the base entity the snapshot imports but does not include
    IMPORTED = "imported"  # an attribute group the CDM document names (`cdm_reference`) but defines elsewhere
    ADDRESS = "address"  # address1_* expanded from the document's inline `address` entity ("{a}{o}{M}")
    SOLUTION = "solution"  # a custom column created through the metadata endpoints, publisher prefix first
    PLATFORM = "platform"  # a system table with no CDM document; its Dataverse table reference is the source


@dataclass(frozen=True)
class Column:
    name: str  # logical name
    type: ColumnType
    required: RequiredLevel = RequiredLevel.NONE
    max_length: int | None = None
    origin: Origin = Origin.CDM
    valid_for_create: bool = True
    valid_for_update: bool = True
    targets: tuple[str, ...] = ()  # entity sets a lookup may point at
    cdm_reference: str | None = None  # IMPORTED / ADDRESS: the CDM member this column comes from
    options: tuple[tuple[int, str], ...] = ()  # PICKLIST: (value, label)
    precision: int | None = None  # DECIMAL / MONEY: digits after the point
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    # Metadata only the definition endpoints show (custom columns carry what their creator sent).
    schema_name: str | None = None
    display_name: str | None = None
    description: str | None = None
    format: str | None = None  # FormatName / Format: Text, Email, TextArea, DateOnly, DateAndTime ...
    is_primary_name: bool = False
    valid_for_read: bool = True  # secrets (a service endpoint's SAS key) can be written, never read back
    polymorphic: bool = False  # a lookup with several possible targets, even if only one is emulated

    @property
    def property_name(self) -> str:
        """The name in Web API JSON and queries: lookups are read as `_<name>_value`."""
        return f"_{self.name}_value" if self.type in LOOKUP_TYPES else self.name

    @property
    def read_only(self) -> bool:
        return not (self.valid_for_create or self.valid_for_update)

    @property
    def is_custom(self) -> bool:
        return self.origin is Origin.SOLUTION


@dataclass(frozen=True)
class NavigationProperty:
    """`<name>@odata.bind` sets lookup `column` to a row of `target` (an entity set)."""

    name: str
    column: str
    target: str


@dataclass(frozen=True)
class StatusOption:
    value: int
    label: str
    state: int  # the statecode this status reason belongs to


@dataclass(frozen=True)
class TableInfo:
    """What the table definition (EntityMetadata) says beyond the columns."""

    schema_name: str
    object_type_code: int
    display_name: str
    display_collection_name: str
    primary_name: str | None = None
    ownership: str = "UserOwned"  # OwnershipTypes: UserOwned, OrganizationOwned, None
    is_custom: bool = False
    description: str | None = None
    # Platform-managed rows (sdkmessage, sdkmessagefilter) are read-only through the Web API.
    writable: bool = True
    # Tables whose rows can be solution components (componenttype), for MSCRM.SolutionUniqueName.
    component_type: int | None = None


@dataclass(frozen=True)
class Table:
    logical_name: str
    entity_set: str
    primary_id: str
    cdm_document: str | None
    columns: Mapping[str, Column]
    navigation: Mapping[str, NavigationProperty] = field(default_factory=dict)
    alternate_keys: tuple[tuple[str, ...], ...] = ()  # keys whose index is Active: the ones a URL may use
    states: Mapping[int, str] = field(default_factory=dict)
    statuses: Mapping[int, StatusOption] = field(default_factory=dict)
    default_status: Mapping[int, int] = field(default_factory=dict)  # statecode -> status set with it
    info: TableInfo | None = None

    @property
    def properties(self) -> dict[str, Column]:
        """Queryable and returned properties by their Web API name."""
        return {column.property_name: column for column in self.columns.values() if column.valid_for_read}

    @property
    def metadata_id(self) -> str:
        return metadata_id("entity", self.logical_name)

    def key_columns(self, names: Iterable[str]) -> tuple[str, ...] | None:
        """The active alternate key made of exactly these columns (any order), if the table has one."""
        wanted = sorted(names)
        return next((key for key in self.alternate_keys if sorted(key) == wanted), None)


_METADATA_NAMESPACE = uuid.UUID("4c1d8a5e-3f0b-4e7a-9a55-2b8f0e6d7c31")


def metadata_id(kind: str, name: str) -> str:
    """A MetadataId that stays the same for the same definition across runs (tests name them)."""
    return str(uuid.uuid5(_METADATA_NAMESPACE, f"{kind}:{name.lower()}"))


# --- compact column builders ------------------------------------------------------------------------------
NONE, REQUIRED, SYSTEM = RequiredLevel.NONE, RequiredLevel.REQUIRED, RequiredLevel.SYSTEM_REQUIRED
MONEY, DECIMAL, DATETIME, BOOLEAN = (
    ColumnType.MONEY,
    ColumnType.DECIMAL,
    ColumnType.DATETIME,
    ColumnType.BOOLEAN,
)


def text(name: str, max_length: int, required: RequiredLevel = NONE, origin: Origin = Origin.CDM) -> Column:
    return Column(name, ColumnType.STRING, required, max_length, origin)


def memo(name: str, max_length: int, origin: Origin = Origin.CDM) -> Column:
    return Column(name, ColumnType.MEMO, max_length=max_length, origin=origin)


def typed(
    name: str,
    kind: ColumnType,
    required: RequiredLevel = NONE,
    *,
    computed: bool = False,
    origin: Origin = Origin.CDM,
) -> Column:
    """A non-text column; `computed` ones are calculated by the platform and cannot be written."""
    return Column(
        name, kind, required, origin=origin, valid_for_create=not computed, valid_for_update=not computed
    )


def picklist(
    name: str, options: Mapping[int, str], required: RequiredLevel = NONE, origin: Origin = Origin.PLATFORM
) -> Column:
    return Column(name, ColumnType.PICKLIST, required, origin=origin, options=tuple(options.items()))


def primary_id(name: str, origin: Origin = Origin.CDM) -> Column:
    # A caller may choose the id on create; it never changes afterwards.
    return Column(name, ColumnType.UNIQUEIDENTIFIER, SYSTEM, origin=origin, valid_for_update=False)


def lookup(
    name: str,
    *targets: str,
    required: RequiredLevel = NONE,
    origin: Origin = Origin.CDM,
    read_only: bool = False,
    polymorphic: bool = False,
) -> Column:
    kind = ColumnType.CUSTOMER if len(targets) > 1 else ColumnType.LOOKUP
    return Column(
        name,
        kind,
        required,
        origin=origin,
        targets=targets,
        valid_for_create=not read_only,
        valid_for_update=not read_only,
        polymorphic=polymorphic,
    )


# Targets of the emulated lookups with several possible tables (customer lookups, a step's event handler).
POLYMORPHIC_TARGETS = {"accounts": "account", "contacts": "contact", "serviceendpoints": "serviceendpoint"}


def navigation_for(column: Column) -> list[NavigationProperty]:
    """The single-valued navigation properties Dataverse names after a system lookup: the lookup's own name for
    one target, `<lookup>_<target table>` for each target of a lookup that may point at several tables."""
    if column.type is ColumnType.LOOKUP and not column.polymorphic:
        return [NavigationProperty(column.name, column.name, column.targets[0])]
    return [
        NavigationProperty(f"{column.name}_{POLYMORPHIC_TARGETS[target]}", column.name, target)
        for target in column.targets
    ]


# The platform stamps these on every write: createdon/modifiedon/versionnumber, and who did it.
USERS = "systemusers"


def audit(origin: Origin, *, with_users: bool = True) -> list[Column]:
    stamped = [
        typed("createdon", DATETIME, computed=True, origin=origin),
        typed("modifiedon", DATETIME, computed=True, origin=origin),
        typed("versionnumber", ColumnType.BIGINT, computed=True, origin=origin),
    ]
    if with_users:
        stamped += [
            lookup(user, USERS, origin=origin, read_only=True)
            for user in ("createdby", "modifiedby", "createdonbehalfby", "modifiedonbehalfby")
        ]
    return stamped


def state_status(*, state_valid_for_create: bool = True, origin: Origin = Origin.CDM) -> list[Column]:
    return [
        Column("statecode", ColumnType.STATE, SYSTEM, origin=origin, valid_for_create=state_valid_for_create),
        Column("statuscode", ColumnType.STATUS, origin=origin),
    ]


@dataclass(frozen=True)
class StateModel:
    states: Mapping[int, str]
    statuses: Mapping[int, StatusOption]
    default_status: Mapping[int, int]  # statecode -> the status reason set with it


NO_STATE = StateModel({}, {}, {})


def two_state(active_status: int, inactive_status: int) -> StateModel:
    """The Active(0)/Inactive(1) pattern most tables share."""
    return StateModel(
        states={0: "Active", 1: "Inactive"},
        statuses={
            active_status: StatusOption(active_status, "Active", 0),
            inactive_status: StatusOption(inactive_status, "Inactive", 1),
        },
        default_status={0: active_status, 1: inactive_status},
    )


def state_model(
    states: Mapping[int, str], statuses: Iterable[StatusOption], defaults: Mapping[int, int]
) -> StateModel:
    return StateModel(states, {option.value: option for option in statuses}, defaults)


def make_table(
    logical_name: str,
    entity_set: str,
    cdm_document: str | None,
    columns: Iterable[Column],
    info: TableInfo,
    *,
    state: StateModel = NO_STATE,
) -> Table:
    """A table whose navigation properties follow from its lookups, named as Dataverse names them."""
    column_list = list(columns)
    navigation = [
        nav for column in column_list if column.type in LOOKUP_TYPES for nav in navigation_for(column)
    ]
    return Table(
        logical_name=logical_name,
        entity_set=entity_set,
        primary_id=f"{logical_name}id",
        cdm_document=cdm_document,
        columns=MappingProxyType({column.name: column for column in column_list}),
        navigation=MappingProxyType({nav.name: nav for nav in navigation}),
        states=MappingProxyType(dict(state.states)),
        statuses=MappingProxyType(dict(state.statuses)),
        default_status=MappingProxyType(dict(state.default_status)),
        info=info,
    )
