"""The Dataverse emulator's schema, checked column by column against Microsoft's CDM table definitions.

Every column the emulator accepts says where it comes from. CDM columns must match their CDM attribute
(type, maximum length, requirement level); state and status options must match the CDM option tables,
statecode->statuscode correlation included. Columns from elsewhere must really be absent from the CDM
document and accounted for: inherited from CdsStandard, an imported attribute group the document names, the
inline address expansion, or our solution's prefixed columns (provisioned the way the sandbox seeds them).
Lookups and their navigation properties must follow the CDM: every lookup a CDM document defines between
emulated tables exists, with the same targets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sandbox.dataverse_emulator import Column, ColumnType, DataverseEmulator, Origin, RequiredLevel, Table
from sandbox.dataverse_emulator.schema import POLYMORPHIC_TARGETS
from sandbox.dataverse_seed import provision_solution

PREFIX = "new_"


def provisioned_tables(prefix: str) -> dict[str, Table]:
    """The emulator's tables once the sync's solution is in (no server needed)."""
    emulator = DataverseEmulator(prefix=prefix)
    provision_solution(emulator, prefix)
    return dict(emulator.tables)


ALL_TABLES = provisioned_tables(PREFIX)
TABLES = {entity_set: table for entity_set, table in ALL_TABLES.items() if table.cdm_document}
# The CDM's User entity (applicationCommon/User.cdm.json, sourceName SystemUser) is not in the snapshot.
CDM_ENTITIES_OUTSIDE_THE_SNAPSHOT = {"User": "systemuser"}
# CDM data types that are text columns in Dataverse
TEXT_TYPES = {"string", "name", "email", "addressLine", "city", "country", "postalCode", "stateOrProvince"}
TEXT_TYPES |= {"phone", "firstName", "lastName", "fullName", "url", "tickerSymbol"}
CDM_TYPES = {
    "currency": ColumnType.MONEY,
    "decimal": ColumnType.DECIMAL,
    "integer": ColumnType.INTEGER,
    "bigInteger": ColumnType.BIGINT,
    "boolean": ColumnType.BOOLEAN,
    "dateTime": ColumnType.DATETIME,
    "entityId": ColumnType.UNIQUEIDENTIFIER,
    "guid": ColumnType.UNIQUEIDENTIFIER,
    "listLookup": ColumnType.STATE,
    "listLookupCorrelated": ColumnType.STATUS,
    "lookup": ColumnType.LOOKUP,
} | dict.fromkeys(TEXT_TYPES, ColumnType.STRING)


# --- a small reader for CDM entity documents ---------------------------------------------------------------
@dataclass
class CdmAttribute:
    name: str
    data_type: str
    required: str | None
    max_length: int | None
    options: list[list[str]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)  # lookups: the CDM entity names they reference


@dataclass
class CdmEntity:
    name: str
    source_name: str
    extends: str
    attributes: dict[str, CdmAttribute]
    references: set[str]  # attribute groups named but defined in other documents
    inline_entities: dict[str, dict[str, Any]]  # member name -> resolution guidance


def _traits(member: dict[str, Any]) -> tuple[str | None, list[list[str]]]:
    required, options = None, []
    data_type = member.get("dataType")
    traits = list(member.get("appliedTraits", []))
    if isinstance(data_type, dict):
        traits += data_type.get("appliedTraits", [])
    for trait in traits:
        if not isinstance(trait, dict):
            continue
        if trait["traitReference"] == "is.requiredAtLevel":
            required = trait["arguments"][0]["value"]
        elif trait["traitReference"] == "does.haveDefault":
            options = trait["arguments"][0]["entityReference"]["constantValues"]
    return required, options


def _read_members(members: list[Any], entity: CdmEntity) -> None:
    for member in members:
        if isinstance(member, str):
            entity.references.add(member)
        elif "attributeGroupReference" in member:
            _read_members(member["attributeGroupReference"].get("members", []), entity)
        elif "entity" in member:
            guidance = member.get("resolutionGuidance", {})
            foreign_key = guidance.get("entityByReference", {}).get("foreignKeyAttribute", {})
            if "sourceName" in foreign_key and "expansion" not in guidance:
                required, _ = _traits(foreign_key)
                entity.attributes[foreign_key["sourceName"]] = CdmAttribute(
                    foreign_key["sourceName"], "lookup", required, None, targets=_lookup_targets(member)
                )
            else:
                entity.inline_entities[member["name"]] = guidance
        elif "sourceName" in member:
            data_type = member["dataType"]
            kind = data_type["dataTypeReference"] if isinstance(data_type, dict) else data_type
            required, options = _traits(member)
            name = member["sourceName"]
            entity.attributes[name] = CdmAttribute(name, kind, required, member.get("maximumLength"), options)


def _lookup_targets(member: dict[str, Any]) -> list[str]:
    """`"entityReference": "Currency"`, or an inline entity ("Customer") whose options name the targets."""
    reference = member["entity"]["entityReference"]
    if isinstance(reference, str):
        return [reference]
    return [
        option["entity"]["entityReference"]
        for option in reference.get("hasAttributes", [])
        if "entity" in option
    ]


def read_cdm(path: Path) -> CdmEntity:
    document = json.loads(path.read_text(encoding="utf-8"))
    definition = next(item for item in document["definitions"] if "entityName" in item)
    entity = CdmEntity(
        definition["entityName"], definition["sourceName"], definition["extendsEntity"], {}, set(), {}
    )
    _read_members(definition["hasAttributes"], entity)
    return entity


@pytest.fixture(scope="module")
def cdm(dataverse_cdm_dir: Path) -> dict[str, CdmEntity]:
    return {
        entity_set: read_cdm(dataverse_cdm_dir / str(table.cdm_document))
        for entity_set, table in TABLES.items()
    }


@pytest.fixture(scope="module")
def cdm_tables(dataverse_cdm_dir: Path) -> dict[str, str]:
    """CDM entity name -> Dataverse logical name, for every document in the snapshot."""
    names = {
        read_cdm(path).name: read_cdm(path).source_name.lower()
        for path in dataverse_cdm_dir.glob("*.cdm.json")
    }
    return names | CDM_ENTITIES_OUTSIDE_THE_SNAPSHOT


def _entity_sets_of(logical_names: list[str]) -> set[str]:
    by_logical = {table.logical_name: entity_set for entity_set, table in ALL_TABLES.items()}
    return {by_logical[name] for name in logical_names}


def _emulated(logical_names: list[str]) -> bool:
    return all(name in {table.logical_name for table in ALL_TABLES.values()} for name in logical_names)


def _columns(origin: Origin) -> list[tuple[str, Column]]:
    return [
        (entity_set, c)
        for entity_set, t in ALL_TABLES.items()
        for c in t.columns.values()
        if c.origin is origin
    ]


def _cdm_lookups() -> list[tuple[str, Column]]:
    return [
        (entity_set, column)
        for entity_set, column in _columns(Origin.CDM)
        if column.type in (ColumnType.LOOKUP, ColumnType.CUSTOMER)
    ]


def _stateful() -> list[Table]:
    return [table for table in TABLES.values() if table.states]


# --- tests -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("table", TABLES.values(), ids=lambda table: table.entity_set)
def test_each_table_is_the_cdm_entity_it_claims(table: Table, cdm: dict[str, CdmEntity]) -> None:
    """Each emulated table reads the CDM document whose Dataverse source name is the table's logical name."""
    assert cdm[table.entity_set].source_name.lower() == table.logical_name


@pytest.mark.parametrize(("entity_set", "column"), _columns(Origin.CDM), ids=lambda v: getattr(v, "name", v))
def test_cdm_columns_match_their_cdm_attribute(
    entity_set: str, column: Column, cdm: dict[str, CdmEntity]
) -> None:
    """A CDM column has the CDM attribute's type, maximum length and requirement level."""
    attribute = cdm[entity_set].attributes.get(column.name)
    assert attribute is not None, f"{entity_set}.{column.name} is not in {TABLES[entity_set].cdm_document}"
    assert CDM_TYPES[attribute.data_type] is column.type or (
        attribute.data_type == "lookup" and column.type is ColumnType.CUSTOMER
    )
    assert column.max_length == attribute.max_length
    assert column.required == RequiredLevel(attribute.required or "none")


@pytest.mark.parametrize(("entity_set", "column"), _columns(Origin.BASE), ids=lambda v: getattr(v, "name", v))
def test_base_columns_come_from_cdsstandard(
    entity_set: str, column: Column, cdm: dict[str, CdmEntity]
) -> None:
    """Columns inherited from CdsStandard belong to a table that extends it and whose document omits them."""
    assert cdm[entity_set].extends == "CdsStandard"
    assert column.name not in cdm[entity_set].attributes


@pytest.mark.parametrize(
    ("entity_set", "column"), _columns(Origin.IMPORTED), ids=lambda v: getattr(v, "name", v)
)
def test_imported_columns_are_named_by_the_document(
    entity_set: str, column: Column, cdm: dict[str, CdmEntity]
) -> None:
    """A column from an imported attribute group is one the CDM document references by name."""
    assert column.cdm_reference in cdm[entity_set].references
    assert column.name not in cdm[entity_set].attributes


@pytest.mark.parametrize(
    ("entity_set", "column"), _columns(Origin.ADDRESS), ids=lambda v: getattr(v, "name", v)
)
def test_address_columns_expand_the_inline_address(
    entity_set: str, column: Column, cdm: dict[str, CdmEntity]
) -> None:
    """address1_* columns are the first expansion ("{a}{o}{M}") of the document's inline address entity."""
    assert column.cdm_reference is not None
    guidance = cdm[entity_set].inline_entities[column.cdm_reference]
    assert guidance["renameFormat"] == "{a}{o}{M}"
    assert guidance["expansion"]["startingOrdinal"] == 1 <= guidance["expansion"]["maximumExpansion"]
    assert column.name.startswith(f"{column.cdm_reference}1_")
    assert column.type is ColumnType.STRING
    assert column.max_length


@pytest.mark.parametrize(
    ("entity_set", "column"), _columns(Origin.SOLUTION), ids=lambda v: getattr(v, "name", v)
)
def test_solution_columns_carry_the_publisher_prefix(
    entity_set: str, column: Column, cdm: dict[str, CdmEntity]
) -> None:
    """Our own columns start with the publisher prefix and never shadow a CDM attribute."""
    assert column.name.startswith(PREFIX)
    assert column.name not in cdm[entity_set].attributes
    assert column.type is not ColumnType.STRING or column.max_length


@pytest.mark.parametrize("table", _stateful(), ids=lambda table: table.entity_set)
def test_state_options_match_the_cdm(table: Table, cdm: dict[str, CdmEntity]) -> None:
    """statecode offers exactly the CDM's states with their labels."""
    options = cdm[table.entity_set].attributes["statecode"].options
    assert dict(table.states) == {int(value): label for _, label, value, _ in options}


@pytest.mark.parametrize("table", _stateful(), ids=lambda table: table.entity_set)
def test_status_options_and_their_states_match_the_cdm(table: Table, cdm: dict[str, CdmEntity]) -> None:
    """statuscode offers exactly the CDM's status reasons, each correlated with the CDM's statecode."""
    options = cdm[table.entity_set].attributes["statuscode"].options
    expected = {int(value): (label, int(state)) for _, label, value, _, state in options}
    assert {value: (option.label, option.state) for value, option in table.statuses.items()} == expected


@pytest.mark.parametrize("table", _stateful(), ids=lambda table: table.entity_set)
def test_every_state_has_a_default_status_of_its_own(table: Table) -> None:
    """Setting a state without a status reason picks one that belongs to that state."""
    assert set(table.default_status) == set(table.states)
    assert all(table.statuses[status].state == state for state, status in table.default_status.items())


def test_salesorder_statecode_is_not_valid_for_create() -> None:
    """A sales order's statecode cannot be written on create (Dataverse: IsValidForCreate = False)."""
    assert TABLES["salesorders"].columns["statecode"].valid_for_create is False


@pytest.mark.parametrize("table", TABLES.values(), ids=lambda table: table.entity_set)
def test_alternate_keys_are_bounded_text_columns(table: Table) -> None:
    """Every alternate-key column exists and is a text column with a maximum length."""
    for key in table.alternate_keys:
        for name in key:
            column = table.columns[name]
            assert column.type is ColumnType.STRING
            assert column.max_length


@pytest.mark.parametrize("table", ALL_TABLES.values(), ids=lambda table: table.entity_set)
def test_navigation_properties_set_lookups_to_their_targets(table: Table) -> None:
    """Each navigation property writes a lookup column of the table that may point at the property's target."""
    for navigation in table.navigation.values():
        column = table.columns[navigation.column]
        assert navigation.target in column.targets
        assert navigation.target in ALL_TABLES


@pytest.mark.parametrize("table", ALL_TABLES.values(), ids=lambda table: table.entity_set)
def test_every_lookup_has_dataverses_navigation_properties(table: Table) -> None:
    """A lookup is bound through `<lookup>` (one target) or `<lookup>_<table>` per target, as Dataverse names them."""
    for column in table.columns.values():
        if column.type not in (ColumnType.LOOKUP, ColumnType.CUSTOMER):
            continue
        navigation = {name: nav.target for name, nav in table.navigation.items() if nav.column == column.name}
        if len(column.targets) == 1 and not column.polymorphic:
            assert navigation == {column.name: column.targets[0]} or column.is_custom
        else:
            assert navigation == {f"{column.name}_{POLYMORPHIC_TARGETS[t]}": t for t in column.targets}


@pytest.mark.parametrize(("entity_set", "column"), _cdm_lookups(), ids=lambda v: getattr(v, "name", v))
def test_cdm_lookups_point_where_the_cdm_says(
    entity_set: str, column: Column, cdm: dict[str, CdmEntity], cdm_tables: dict[str, str]
) -> None:
    """A CDM lookup's targets are the tables its CDM attribute references, no more and no fewer."""
    attribute = cdm[entity_set].attributes[column.name]
    assert set(column.targets) == _entity_sets_of([cdm_tables[name] for name in attribute.targets])


@pytest.mark.parametrize("table", TABLES.values(), ids=lambda table: table.entity_set)
def test_cdm_lookups_between_emulated_tables_are_emulated(
    table: Table, cdm: dict[str, CdmEntity], cdm_tables: dict[str, str]
) -> None:
    """Every lookup the CDM document defines whose targets are all emulated tables exists, with navigation."""
    for attribute in cdm[table.entity_set].attributes.values():
        targets = [cdm_tables.get(name, name) for name in attribute.targets]
        if attribute.data_type != "lookup" or not _emulated(targets):
            continue
        column = table.columns.get(attribute.name)
        assert column is not None, f"{table.entity_set}.{attribute.name} (a lookup to {targets}) is missing"
        assert {
            nav.target for nav in table.navigation.values() if nav.column == column.name
        } == _entity_sets_of(targets)


def test_contact_parent_customer_binds_to_accounts_and_contacts() -> None:
    """contact.parentcustomerid is written through parentcustomerid_account or parentcustomerid_contact."""
    navigation = TABLES["contacts"].navigation
    assert navigation["parentcustomerid_account"].target == "accounts"
    assert navigation["parentcustomerid_contact"].target == "contacts"


def test_the_prefix_is_configurable() -> None:
    """Another publisher prefix renames every solution column and alternate key."""
    tables = provisioned_tables("cr5a1_")
    assert "cr5a1_amazonorderid" in tables["salesorders"].columns
    assert tables["salesorderdetails"].alternate_keys == (("cr5a1_amazonorderid", "cr5a1_amazonorderitemid"),)


def test_platform_columns_live_only_outside_the_cdm() -> None:
    """Tables with a CDM document take no column from the platform reference: those are the CDM's to define."""
    assert [(s, c.name) for s, c in _columns(Origin.PLATFORM) if ALL_TABLES[s].cdm_document] == []
