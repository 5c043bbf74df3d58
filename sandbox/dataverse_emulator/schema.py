"""The tables the Dataverse emulator serves, column by column, as Microsoft's CDM documents describe them.

The accepted columns are listed explicitly: a payload naming anything else is refused the way Dataverse
refuses it, so a typo in the connector fails here and not first in production. Every column says where its
definition comes from (`Origin`); tests/contract/test_dataverse_emulator_contract.py checks each CDM column's
type, length and requirement level, and each state/status option, against the CDM snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class ColumnType(StrEnum):
    STRING = "String"
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


LOOKUP_TYPES = frozenset({ColumnType.LOOKUP, ColumnType.CUSTOMER})
NUMERIC_TYPES = frozenset(
    {
        ColumnType.INTEGER,
        ColumnType.BIGINT,
        ColumnType.DECIMAL,
        ColumnType.MONEY,
        ColumnType.STATE,
        ColumnType.STATUS,
    }
)


class RequiredLevel(StrEnum):
    NONE = "none"
    RECOMMENDED = "recommended"
    REQUIRED = "required"  # business-required: forms insist, the API does not
    SYSTEM_REQUIRED = "systemrequired"


class Origin(StrEnum):
    CDM = "cdm"  # an attribute of the table's CDM document
    BASE = "base"  # inherited from CdsStandard, the base entity the snapshot imports but does not include
    IMPORTED = "imported"  # an attribute group the CDM document names (`cdm_reference`) but defines elsewhere
    ADDRESS = "address"  # address1_* expanded from the document's inline `address` entity ("{a}{o}{M}")
    SOLUTION = "solution"  # our solution's own columns, publisher prefix first


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

    @property
    def property_name(self) -> str:
        """The name in Web API JSON and queries: lookups are read as `_<name>_value`."""
        return f"_{self.name}_value" if self.type in LOOKUP_TYPES else self.name

    @property
    def read_only(self) -> bool:
        return not (self.valid_for_create or self.valid_for_update)


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
class Table:
    logical_name: str
    entity_set: str
    primary_id: str
    cdm_document: str
    columns: Mapping[str, Column]
    navigation: Mapping[str, NavigationProperty] = field(default_factory=dict)
    alternate_keys: tuple[tuple[str, ...], ...] = ()
    states: Mapping[int, str] = field(default_factory=dict)
    statuses: Mapping[int, StatusOption] = field(default_factory=dict)
    default_status: Mapping[int, int] = field(default_factory=dict)  # statecode -> status set with it

    @property
    def properties(self) -> dict[str, Column]:
        """Queryable and returned properties by their Web API name."""
        return {column.property_name: column for column in self.columns.values()}

    def key_columns(self, names: Iterable[str]) -> tuple[str, ...] | None:
        """The alternate key made of exactly these columns (any order), if the table defines one."""
        wanted = sorted(names)
        return next((key for key in self.alternate_keys if sorted(key) == wanted), None)


# --- compact column builders ------------------------------------------------------------------------------
_NONE, _REQUIRED, _SYSTEM = RequiredLevel.NONE, RequiredLevel.REQUIRED, RequiredLevel.SYSTEM_REQUIRED


def _text(name: str, max_length: int, required: RequiredLevel = _NONE, origin: Origin = Origin.CDM) -> Column:
    return Column(name, ColumnType.STRING, required, max_length, origin)


def _typed(name: str, kind: ColumnType, required: RequiredLevel = _NONE, *, computed: bool = False) -> Column:
    """A non-text column; `computed` ones are calculated by the platform and cannot be written."""
    return Column(name, kind, required, valid_for_create=not computed, valid_for_update=not computed)


def _primary_id(name: str) -> Column:
    # A caller may choose the id on create; it never changes afterwards.
    return Column(name, ColumnType.UNIQUEIDENTIFIER, _SYSTEM, valid_for_update=False)


def _lookup(name: str, *targets: str, required: RequiredLevel = _NONE, origin: Origin = Origin.CDM) -> Column:
    kind = ColumnType.CUSTOMER if len(targets) > 1 else ColumnType.LOOKUP
    return Column(name, kind, required, origin=origin, targets=targets)


def _audit(origin: Origin) -> list[Column]:
    """createdon/modifiedon/versionnumber: set by the platform on every write."""
    return [
        Column(
            "createdon", ColumnType.DATETIME, origin=origin, valid_for_create=False, valid_for_update=False
        ),
        Column(
            "modifiedon", ColumnType.DATETIME, origin=origin, valid_for_create=False, valid_for_update=False
        ),
        Column(
            "versionnumber", ColumnType.BIGINT, origin=origin, valid_for_create=False, valid_for_update=False
        ),
    ]


def _state_status(*, state_valid_for_create: bool = True) -> list[Column]:
    return [
        Column("statecode", ColumnType.STATE, _SYSTEM, valid_for_create=state_valid_for_create),
        Column("statuscode", ColumnType.STATUS),
    ]


def _solution(prefix: str, name: str, kind: ColumnType, max_length: int | None = None) -> Column:
    return Column(prefix + name, kind, max_length=max_length, origin=Origin.SOLUTION)


@dataclass(frozen=True)
class StateModel:
    states: Mapping[int, str]
    statuses: Mapping[int, StatusOption]
    default_status: Mapping[int, int]  # statecode -> the status reason set with it


NO_STATE = StateModel({}, {}, {})


def _two_state(active_status: int, inactive_status: int) -> StateModel:
    """The Active(0)/Inactive(1) pattern most tables share."""
    return StateModel(
        states={0: "Active", 1: "Inactive"},
        statuses={
            active_status: StatusOption(active_status, "Active", 0),
            inactive_status: StatusOption(inactive_status, "Inactive", 1),
        },
        default_status={0: active_status, 1: inactive_status},
    )


def _table(
    logical_name: str,
    entity_set: str,
    cdm_document: str,
    columns: Iterable[Column],
    navigation: Iterable[NavigationProperty] = (),
    alternate_keys: tuple[tuple[str, ...], ...] = (),
    state_model: StateModel = NO_STATE,
) -> Table:
    return Table(
        logical_name=logical_name,
        entity_set=entity_set,
        primary_id=f"{logical_name}id",
        cdm_document=cdm_document,
        columns=MappingProxyType({column.name: column for column in columns}),
        navigation=MappingProxyType({nav.name: nav for nav in navigation}),
        alternate_keys=alternate_keys,
        states=MappingProxyType(dict(state_model.states)),
        statuses=MappingProxyType(dict(state_model.statuses)),
        default_status=MappingProxyType(dict(state_model.default_status)),
    )


# Documented salesorder state model (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/
# salesorder: StateCode options with DefaultStatus; StatusCode options with their State), same as Order.cdm.json.
SALESORDER_STATES = {0: "Active", 1: "Submitted", 2: "Canceled", 3: "Fulfilled", 4: "Invoiced"}
SALESORDER_STATUSES = {
    option.value: option
    for option in (
        StatusOption(1, "New", 0),
        StatusOption(2, "Pending", 0),
        StatusOption(3, "In Progress", 1),
        StatusOption(4, "No Money", 2),
        StatusOption(100001, "Complete", 3),
        StatusOption(100002, "Partial", 3),
        StatusOption(100003, "Invoiced", 4),
    )
}
SALESORDER_DEFAULT_STATUS = {0: 1, 1: 3, 2: 4, 3: 100001, 4: 100003}
ORDER_ACTIVE, ORDER_SUBMITTED, ORDER_CANCELED, ORDER_FULFILLED, ORDER_INVOICED = range(5)
CLOSED_ORDER_STATES = frozenset({ORDER_CANCELED, ORDER_FULFILLED, ORDER_INVOICED})

_MONEY, _DECIMAL, _DATETIME, _BOOLEAN = (
    ColumnType.MONEY,
    ColumnType.DECIMAL,
    ColumnType.DATETIME,
    ColumnType.BOOLEAN,
)
_ORDER_TOTALS = (
    "totallineitemamount",
    "totallineitemdiscountamount",
    "totaldiscountamount",
    "totalamountlessfreight",
    "totaltax",
    "totalamount",
)


def _salesorder(p: str) -> Table:
    columns = [
        _primary_id("salesorderid"),
        _text("name", 300, _REQUIRED),
        _text("description", 2000),
        Column("ordernumber", ColumnType.STRING, _SYSTEM, 100),  # auto-numbered when not given
        _text("emailaddress", 100),
        _typed("datefulfilled", _DATETIME),
        _typed("requestdeliveryby", _DATETIME),
        _typed("submitdate", _DATETIME),
        _typed("freightamount", _MONEY),
        _typed("discountamount", _MONEY),
        *(_typed(total, _MONEY, computed=True) for total in _ORDER_TOTALS),
        _typed("exchangerate", _DECIMAL, computed=True),  # copied from the currency
        _typed("ispricelocked", _BOOLEAN, _REQUIRED),
        _text("shipto_name", 200),
        _text("shipto_line1", 250),
        _text("shipto_line2", 250),
        _text("shipto_line3", 250),
        _text("shipto_city", 80),
        _text("shipto_stateorprovince", 50),
        _text("shipto_postalcode", 20),
        _text("shipto_country", 80),
        _text("shipto_telephone", 50),
        # statecode is not valid for create (salesorder reference: StateCode IsValidForCreate = False)
        *_state_status(state_valid_for_create=False),
        _lookup("transactioncurrencyid", "transactioncurrencies", required=_REQUIRED),
        _lookup("pricelevelid", "pricelevels", required=_REQUIRED),
        Column(
            "customerid",
            ColumnType.CUSTOMER,
            origin=Origin.IMPORTED,
            targets=("accounts", "contacts"),
            cdm_reference="customerIdAttribute",
        ),
        *_audit(Origin.BASE),
        _solution(p, "amazonorderid", ColumnType.STRING, 100),
        _solution(p, "amazonmarketplaceid", ColumnType.STRING, 20),
        _solution(p, "amazonfulfillmentchannel", ColumnType.STRING, 10),
        _solution(p, "amazonorderstatus", ColumnType.STRING, 40),
        _solution(p, "amazonlastupdatedtime", _DATETIME),
        _solution(p, "amazongrandtotal", _MONEY),
    ]
    navigation = [
        NavigationProperty("customerid_account", "customerid", "accounts"),
        NavigationProperty("customerid_contact", "customerid", "contacts"),
        NavigationProperty("transactioncurrencyid", "transactioncurrencyid", "transactioncurrencies"),
        NavigationProperty("pricelevelid", "pricelevelid", "pricelevels"),
    ]
    return _table(
        "salesorder",
        "salesorders",
        "Order.cdm.json",
        columns,
        navigation,
        alternate_keys=((p + "amazonorderid",),),
        state_model=StateModel(SALESORDER_STATES, SALESORDER_STATUSES, SALESORDER_DEFAULT_STATUS),
    )


def _salesorderdetail(p: str) -> Table:
    columns = [
        _primary_id("salesorderdetailid"),
        _lookup("salesorderid", "salesorders", required=_SYSTEM),
        _lookup("productid", "products"),
        _lookup("uomid", "uoms"),
        Column(  # follows the order's currency
            "transactioncurrencyid",
            ColumnType.LOOKUP,
            targets=("transactioncurrencies",),
            valid_for_create=False,
            valid_for_update=False,
        ),
        _typed("exchangerate", _DECIMAL, computed=True),
        _typed("quantity", _DECIMAL, _REQUIRED),
        _typed("priceperunit", _MONEY),
        _typed("ispriceoverridden", _BOOLEAN),
        _typed("isproductoverridden", _BOOLEAN),
        _text("productdescription", 500),
        _typed("tax", _MONEY),
        _typed("manualdiscountamount", _MONEY),
        _typed("baseamount", _MONEY, computed=True),
        _typed("extendedamount", _MONEY, computed=True),
        _typed("quantityshipped", _DECIMAL),
        _typed("quantitycancelled", _DECIMAL),
        _typed("lineitemnumber", ColumnType.INTEGER),
        _text("description", 2000),
        *_audit(Origin.BASE),
        _solution(p, "amazonorderid", ColumnType.STRING, 100),
        _solution(p, "amazonorderitemid", ColumnType.STRING, 100),
        _solution(p, "amazonsellersku", ColumnType.STRING, 200),
        _solution(p, "amazonasin", ColumnType.STRING, 20),
    ]
    navigation = [
        NavigationProperty("salesorderid", "salesorderid", "salesorders"),
        NavigationProperty("productid", "productid", "products"),
        NavigationProperty("uomid", "uomid", "uoms"),
    ]
    return _table(
        "salesorderdetail",
        "salesorderdetails",
        "OrderProduct.cdm.json",
        columns,
        navigation,
        alternate_keys=((p + "amazonorderid", p + "amazonorderitemid"),),
    )


_ADDRESS_1 = (("line1", 250), ("city", 80), ("stateorprovince", 50), ("postalcode", 20), ("country", 80))


def _contact(p: str) -> Table:
    columns = [
        _primary_id("contactid"),
        _text("firstname", 50, RequiredLevel.RECOMMENDED),
        _text("lastname", 50, _REQUIRED),
        Column("fullname", ColumnType.STRING, max_length=160, valid_for_create=False, valid_for_update=False),
        _text("emailaddress1", 100),
        _text("telephone1", 50),
        _text("description", 2000),
        *(
            Column(
                f"address1_{part}",
                ColumnType.STRING,
                max_length=length,
                origin=Origin.ADDRESS,
                cdm_reference="address",
            )
            for part, length in _ADDRESS_1
        ),
        *_state_status(),
        *_audit(Origin.BASE),
        _solution(p, "amazonbuyerid", ColumnType.STRING, 100),
    ]
    return _table(
        "contact",
        "contacts",
        "Contact.cdm.json",
        columns,
        alternate_keys=((p + "amazonbuyerid",),),
        state_model=_two_state(1, 2),
    )


def _account(p: str) -> Table:
    columns = [
        _primary_id("accountid"),
        _text("name", 160, _REQUIRED),
        _text("accountnumber", 20),
        _text("description", 2000),
        _text("emailaddress1", 100),
        _text("telephone1", 50),
        *_state_status(),
        *_audit(Origin.BASE),
        _solution(p, "amazonmarketplaceid", ColumnType.STRING, 20),
    ]
    return _table(
        "account",
        "accounts",
        "Account.cdm.json",
        columns,
        alternate_keys=((p + "amazonmarketplaceid",),),
        state_model=_two_state(1, 2),
    )


def _product() -> Table:
    columns = [
        _primary_id("productid"),
        _text("name", 100, _REQUIRED),
        Column("productnumber", ColumnType.STRING, _SYSTEM, 100),
        _text("description", 2000),
        _lookup("defaultuomid", "uoms", required=_REQUIRED),
        _lookup("defaultuomscheduleid", "uomschedules", required=_REQUIRED),
        _lookup("pricelevelid", "pricelevels", required=RequiredLevel.RECOMMENDED),
        _lookup("transactioncurrencyid", "transactioncurrencies"),
        _typed("price", _MONEY),
        _typed("quantitydecimal", ColumnType.INTEGER, _REQUIRED),
        *_state_status(),
        *_audit(Origin.CDM),  # Product.cdm.json extends CdmEntity and lists these itself
    ]
    navigation = [
        NavigationProperty("defaultuomid", "defaultuomid", "uoms"),
        NavigationProperty("defaultuomscheduleid", "defaultuomscheduleid", "uomschedules"),
        NavigationProperty("pricelevelid", "pricelevelid", "pricelevels"),
        NavigationProperty("transactioncurrencyid", "transactioncurrencyid", "transactioncurrencies"),
    ]
    return _table(
        "product",
        "products",
        "Product.cdm.json",
        columns,
        navigation,
        state_model=StateModel(
            states={0: "Active", 1: "Retired", 2: "Draft", 3: "Under Revision"},
            statuses={
                1: StatusOption(1, "Active", 0),
                2: StatusOption(2, "Retired", 1),
                0: StatusOption(0, "Draft", 2),
                3: StatusOption(3, "Under Revision", 3),
            },
            default_status={0: 1, 1: 2, 2: 0, 3: 3},
        ),
    )


def _pricelevel() -> Table:
    columns = [
        _primary_id("pricelevelid"),
        Column("name", ColumnType.STRING, _SYSTEM, 100),
        _text("description", 2000),
        _typed("begindate", _DATETIME),
        _typed("enddate", _DATETIME),
        _lookup("transactioncurrencyid", "transactioncurrencies", required=_REQUIRED),
        *_state_status(),
        *_audit(Origin.CDM),
    ]
    navigation = [
        NavigationProperty("transactioncurrencyid", "transactioncurrencyid", "transactioncurrencies")
    ]
    return _table(
        "pricelevel",
        "pricelevels",
        "PriceList.cdm.json",
        columns,
        navigation,
        state_model=_two_state(100001, 100002),
    )


def _uom() -> Table:
    columns = [
        _primary_id("uomid"),
        Column("name", ColumnType.STRING, _SYSTEM, 100),
        _lookup("uomscheduleid", "uomschedules", required=_SYSTEM),
        _lookup("baseuom", "uoms", required=_REQUIRED),
        _typed("quantity", _DECIMAL, _REQUIRED),
        _typed("isschedulebaseuom", _BOOLEAN),
        *_audit(Origin.CDM),
    ]
    navigation = [
        NavigationProperty("uomscheduleid", "uomscheduleid", "uomschedules"),
        NavigationProperty("baseuom", "baseuom", "uoms"),
    ]
    return _table("uom", "uoms", "Unit.cdm.json", columns, navigation)


def _uomschedule() -> Table:
    columns = [
        _primary_id("uomscheduleid"),
        Column("name", ColumnType.STRING, _SYSTEM, 200),
        _text("baseuomname", 100),
        _text("description", 2000),
        *_state_status(),
        *_audit(Origin.CDM),
    ]
    return _table("uomschedule", "uomschedules", "UnitGroup.cdm.json", columns, state_model=_two_state(1, 2))


def _transactioncurrency() -> Table:
    columns = [
        _primary_id("transactioncurrencyid"),
        Column("isocurrencycode", ColumnType.STRING, _SYSTEM, 5),
        Column("currencyname", ColumnType.STRING, _SYSTEM, 100),
        Column("currencysymbol", ColumnType.STRING, _SYSTEM, 10),
        _typed("exchangerate", _DECIMAL, _SYSTEM),
        _typed("currencyprecision", ColumnType.INTEGER, _SYSTEM),
        *_state_status(),
        *_audit(Origin.CDM),
    ]
    return _table(
        "transactioncurrency",
        "transactioncurrencies",
        "Currency.cdm.json",
        columns,
        state_model=_two_state(1, 2),
    )


def build_tables(prefix: str = "new_") -> dict[str, Table]:
    """Every emulated table by entity set name; `prefix` is our solution publisher's customization prefix."""
    tables = [
        _salesorder(prefix),
        _salesorderdetail(prefix),
        _contact(prefix),
        _account(prefix),
        _product(),
        _pricelevel(),
        _uom(),
        _uomschedule(),
        _transactioncurrency(),
    ]
    return {table.entity_set: table for table in tables}
