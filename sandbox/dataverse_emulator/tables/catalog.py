"""Reference data: products, price lists, units, unit groups and currencies.

These CDM documents extend CdmEntity and list their audit columns themselves, so those are CDM columns here.
"""

from __future__ import annotations

from decimal import Decimal

from ..schema import (
    BOOLEAN,
    DATETIME,
    DECIMAL,
    MONEY,
    REQUIRED,
    SYSTEM,
    Column,
    ColumnType,
    Origin,
    RequiredLevel,
    StatusOption,
    Table,
    TableInfo,
    audit,
    lookup,
    make_table,
    picklist,
    primary_id,
    state_model,
    state_status,
    text,
    two_state,
    typed,
)


def product() -> Table:
    columns = [
        primary_id("productid"),
        text("name", 100, REQUIRED),
        Column("productnumber", ColumnType.STRING, SYSTEM, 100),
        text("description", 2000),
        lookup("defaultuomid", "uoms", required=REQUIRED),
        lookup("defaultuomscheduleid", "uomschedules", required=REQUIRED),
        lookup("pricelevelid", "pricelevels", required=RequiredLevel.RECOMMENDED),
        lookup("transactioncurrencyid", "transactioncurrencies"),
        lookup("parentproductid", "products"),
        typed("price", MONEY),
        typed("quantitydecimal", ColumnType.INTEGER, REQUIRED),  # decimals a quantity may have, not stock
        typed("quantityonhand", DECIMAL),  # the stock the integration sends Amazon as MFN quantity
        *state_status(),
        *audit(Origin.CDM),
    ]
    states = state_model(
        {0: "Active", 1: "Retired", 2: "Draft", 3: "Under Revision"},
        (
            StatusOption(1, "Active", 0),
            StatusOption(2, "Retired", 1),
            StatusOption(0, "Draft", 2),
            StatusOption(3, "Under Revision", 3),
        ),
        {0: 1, 1: 2, 2: 0, 3: 3},
    )
    info = TableInfo("Product", 1024, "Product", "Products", primary_name="name")
    return make_table("product", "products", "Product.cdm.json", columns, info, state=states)


def pricelevel() -> Table:
    columns = [
        primary_id("pricelevelid"),
        Column("name", ColumnType.STRING, SYSTEM, 100),
        text("description", 2000),
        typed("begindate", DATETIME),
        typed("enddate", DATETIME),
        lookup("transactioncurrencyid", "transactioncurrencies", required=REQUIRED),
        *state_status(),
        *audit(Origin.CDM),
    ]
    info = TableInfo("PriceLevel", 1022, "Price List", "Price Lists", primary_name="name")
    return make_table(
        "pricelevel", "pricelevels", "PriceList.cdm.json", columns, info, state=two_state(100001, 100002)
    )


PRICING_METHODS = {
    1: "Currency Amount",
    2: "Percent of List",
    3: "Percent Markup - Current Cost",
    4: "Percent Margin - Current Cost",
    5: "Percent Markup - Standard Cost",
    6: "Percent Margin - Standard Cost",
}


def productpricelevel() -> Table:
    """Price List Item: a product's price in one price list, in that price list's currency (Dataverse copies
    the price list's currency onto the item). Not in the CDM snapshot; columns as the Dataverse table
    reference (reference/entities/productpricelevel) lists them."""
    columns = [
        primary_id("productpricelevelid", Origin.PLATFORM),
        lookup("pricelevelid", "pricelevels", required=REQUIRED, origin=Origin.PLATFORM),
        lookup("productid", "products", required=REQUIRED, origin=Origin.PLATFORM),
        lookup("uomid", "uoms", required=REQUIRED, origin=Origin.PLATFORM),
        lookup("transactioncurrencyid", "transactioncurrencies", origin=Origin.PLATFORM, read_only=True),
        typed("amount", MONEY, origin=Origin.PLATFORM),
        picklist("pricingmethodcode", PRICING_METHODS, origin=Origin.PLATFORM),
        *audit(Origin.PLATFORM),
    ]
    info = TableInfo("ProductPriceLevel", 1026, "Price List Item", "Price List Items")
    return make_table("productpricelevel", "productpricelevels", None, columns, info)


def uom() -> Table:
    columns = [
        primary_id("uomid"),
        Column("name", ColumnType.STRING, SYSTEM, 100),
        lookup("uomscheduleid", "uomschedules", required=SYSTEM),
        lookup("baseuom", "uoms", required=REQUIRED),
        typed("quantity", DECIMAL, REQUIRED),
        typed("isschedulebaseuom", BOOLEAN),
        *audit(Origin.CDM),
    ]
    info = TableInfo("UoM", 1055, "Unit", "Units", primary_name="name")
    return make_table("uom", "uoms", "Unit.cdm.json", columns, info)


def uomschedule() -> Table:
    columns = [
        primary_id("uomscheduleid"),
        Column("name", ColumnType.STRING, SYSTEM, 200),
        text("baseuomname", 100),
        text("description", 2000),
        *state_status(),
        *audit(Origin.CDM),
    ]
    info = TableInfo("UoMSchedule", 1056, "Unit Group", "Unit Groups", primary_name="name")
    return make_table(
        "uomschedule", "uomschedules", "UnitGroup.cdm.json", columns, info, state=two_state(1, 2)
    )


def transactioncurrency() -> Table:
    columns = [
        primary_id("transactioncurrencyid"),
        Column("isocurrencycode", ColumnType.STRING, SYSTEM, 5),
        Column("currencyname", ColumnType.STRING, SYSTEM, 100),
        Column("currencysymbol", ColumnType.STRING, SYSTEM, 10),
        # Writable: finance updates rates (the base currency's stays 1, see rules).
        Column(  # ExchangeRate: precision 10, between 0.0000000001 and 100,000,000,000 (currency reference)
            "exchangerate",
            DECIMAL,
            SYSTEM,
            precision=10,
            min_value=Decimal("0.0000000001"),
            max_value=Decimal("100000000000"),
        ),
        typed("currencyprecision", ColumnType.INTEGER, SYSTEM),
        *state_status(),
        *audit(Origin.CDM),
    ]
    info = TableInfo(
        "TransactionCurrency",
        9105,
        "Currency",
        "Currencies",
        primary_name="currencyname",
        ownership="OrganizationOwned",
    )
    return make_table(
        "transactioncurrency",
        "transactioncurrencies",
        "Currency.cdm.json",
        columns,
        info,
        state=two_state(1, 2),
    )
