"""Platform tables the emulator needs around the business data: users, publishers, solutions and solution
components. They have no CDM document; columns and option values are those of the Dataverse table reference
(learn.microsoft.com power-apps/developer/data-platform/reference/entities/<table>).
"""

from __future__ import annotations

from ..schema import (
    BOOLEAN,
    NONE,
    SYSTEM,
    Column,
    ColumnType,
    Origin,
    Table,
    TableInfo,
    audit,
    lookup,
    make_table,
    memo,
    primary_id,
    typed,
)

P = Origin.PLATFORM

# solutioncomponent.componenttype values of the components the emulator records.
COMPONENT_ENTITY, COMPONENT_ATTRIBUTE, COMPONENT_RELATIONSHIP, COMPONENT_ENTITY_KEY = 1, 2, 10, 14
COMPONENT_STEP, COMPONENT_STEP_IMAGE, COMPONENT_SERVICE_ENDPOINT = 92, 93, 95
COMPONENT_TYPES = {
    COMPONENT_ENTITY: "Entity",
    COMPONENT_ATTRIBUTE: "Attribute",
    COMPONENT_RELATIONSHIP: "Relationship",
    COMPONENT_ENTITY_KEY: "Entity Key",
    COMPONENT_STEP: "SDK Message Processing Step",
    COMPONENT_STEP_IMAGE: "SDK Message Processing Step Image",
    COMPONENT_SERVICE_ENDPOINT: "Service Endpoint",
}


def _text(name: str, max_length: int, required: bool = False) -> Column:
    return Column(name, ColumnType.STRING, SYSTEM if required else NONE, max_length, P)


def systemuser() -> Table:
    columns = [
        primary_id("systemuserid", P),
        _text("firstname", 256),
        _text("lastname", 256),
        Column(
            "fullname",
            ColumnType.STRING,
            max_length=200,
            origin=P,
            valid_for_create=False,
            valid_for_update=False,
        ),
        _text("domainname", 1024),
        _text("internalemailaddress", 100),
        typed("applicationid", ColumnType.UNIQUEIDENTIFIER, origin=P),  # set for application users
        typed("azureactivedirectoryobjectid", ColumnType.UNIQUEIDENTIFIER, origin=P),
        typed("isdisabled", BOOLEAN, origin=P),
        *audit(P),
    ]
    info = TableInfo("SystemUser", 8, "User", "Users", primary_name="fullname", ownership="BusinessOwned")
    return make_table("systemuser", "systemusers", None, columns, info)


def organization() -> Table:
    """The one row of the organization's settings; the emulator shows its base currency (read-only here)."""
    columns = [
        primary_id("organizationid", P),
        _text("name", 160),
        lookup("basecurrencyid", "transactioncurrencies", origin=P, read_only=True),
        *audit(P),
    ]
    info = TableInfo(
        "Organization",
        1019,
        "Organization",
        "Organizations",
        primary_name="name",
        ownership="None",
        writable=False,
    )
    return make_table("organization", "organizations", None, columns, info)


def publisher() -> Table:
    columns = [
        primary_id("publisherid", P),
        _text("uniquename", 256, required=True),
        _text("friendlyname", 256, required=True),
        _text("customizationprefix", 8, required=True),
        typed("customizationoptionvalueprefix", ColumnType.INTEGER, SYSTEM, origin=P),
        memo("description", 2000, P),
        typed("isreadonly", BOOLEAN, computed=True, origin=P),
        *audit(P),
    ]
    info = TableInfo(
        "Publisher",
        7101,
        "Publisher",
        "Publishers",
        primary_name="friendlyname",
        ownership="OrganizationOwned",
    )
    return make_table("publisher", "publishers", None, columns, info)


def solution() -> Table:
    columns = [
        primary_id("solutionid", P),
        _text("uniquename", 65, required=True),
        _text("friendlyname", 256, required=True),
        _text("version", 256, required=True),
        lookup("publisherid", "publishers", required=SYSTEM, origin=P),
        memo("description", 2000, P),
        typed("ismanaged", BOOLEAN, computed=True, origin=P),
        typed("installedon", ColumnType.DATETIME, computed=True, origin=P),
        *audit(P),
    ]
    info = TableInfo(
        "Solution", 7100, "Solution", "Solutions", primary_name="friendlyname", ownership="OrganizationOwned"
    )
    return make_table("solution", "solutions", None, columns, info)


def solutioncomponent() -> Table:
    """Read-only through the Web API: components are added by MSCRM.SolutionUniqueName (or AddSolutionComponent)."""
    columns = [
        primary_id("solutioncomponentid", P),
        lookup("solutionid", "solutions", origin=P, read_only=True),
        typed("objectid", ColumnType.UNIQUEIDENTIFIER, computed=True, origin=P),
        Column(
            "componenttype",
            ColumnType.PICKLIST,
            origin=P,
            options=tuple(COMPONENT_TYPES.items()),
            valid_for_create=False,
            valid_for_update=False,
        ),
        Column(
            "rootcomponentbehavior",
            ColumnType.PICKLIST,
            origin=P,
            options=(
                (0, "Include Subcomponents"),
                (1, "Do not include subcomponents"),
                (2, "Include As Shell Only"),
            ),
            valid_for_create=False,
            valid_for_update=False,
        ),
        typed("ismetadata", BOOLEAN, computed=True, origin=P),
        *audit(P),
    ]
    info = TableInfo(
        "SolutionComponent",
        7103,
        "Solution Component",
        "Solution Components",
        ownership="None",
        writable=False,
    )
    return make_table("solutioncomponent", "solutioncomponents", None, columns, info)
