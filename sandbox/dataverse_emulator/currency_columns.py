"""Currency (Money) columns on custom tables, as Dataverse adds them.

Source: learn.microsoft.com power-apps/maker/data-platform/types-of-fields ("Using currency columns"): when the
first currency column is added to a table, Dataverse adds the `transactioncurrencyid` lookup (the currency of
the row's amounts) and `exchangerate` (the currency's rate to the base currency, copied when the row is saved);
every currency column gets a read-only `<column>_base`, its value in the base currency (value / exchangerate).
A row saved without a currency gets the organization's base currency.

The business tables of the emulator (orders, invoices, accounts, ...) come with their own currency columns;
this module gives custom tables what Dataverse gives them.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from .payload import lookup_annotation
from .schema import DECIMAL, MONEY, Column, NavigationProperty, Origin, Table, lookup, typed
from .store import Row
from .values import MONEY_QUANTUM

if TYPE_CHECKING:
    from .service import Service

CURRENCY = "transactioncurrencyid"
RATE = "exchangerate"
BASE_SUFFIX = "_base"


def with_currency_columns(table: Table) -> Table:
    """`table` plus the currency lookup, the rate and a `_base` column per money column (custom tables)."""
    if table.info is None or not table.info.is_custom:
        return table
    money = [c.name for c in table.columns.values() if c.type is MONEY and not c.name.endswith(BASE_SUFFIX)]
    if not money:
        return table
    added: list[Column] = []
    if CURRENCY not in table.columns:
        added.append(lookup(CURRENCY, "transactioncurrencies", origin=Origin.PLATFORM))
        added.append(replace(typed(RATE, DECIMAL, computed=True, origin=Origin.PLATFORM), precision=10))
    added += [
        replace(typed(name + BASE_SUFFIX, MONEY, computed=True, origin=Origin.PLATFORM), precision=2)
        for name in money
        if name + BASE_SUFFIX not in table.columns
    ]
    if not added:
        return table
    navigation = dict(table.navigation)
    if CURRENCY not in navigation:
        navigation[CURRENCY] = NavigationProperty(CURRENCY, CURRENCY, "transactioncurrencies")
    return replace(
        table,
        columns={**table.columns, **{column.name: column for column in added}},
        navigation=navigation,
    )


def has_currency_columns(table: Table) -> bool:
    return table.info is not None and table.info.is_custom and CURRENCY in table.columns


def stamp_base_amounts(service: Service, table: Table, row: Row) -> Row:
    """The row's currency (the base currency when none is given), its rate and the `_base` values."""
    if row.get(CURRENCY) is None:
        base = service.store.organization.get("basecurrencyid")
        if base is not None:
            row[CURRENCY] = base
            row[lookup_annotation(CURRENCY)] = "transactioncurrency"
    currency = service.store.get("transactioncurrencies", row[CURRENCY]) if row.get(CURRENCY) else None
    rate = currency.get(RATE) if currency else None
    row[RATE] = rate
    for column in table.columns:
        if not column.endswith(BASE_SUFFIX):
            continue
        value = row.get(column.removesuffix(BASE_SUFFIX))
        row[column] = (
            (Decimal(value) / Decimal(rate)).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP)
            if value is not None and rate
            else None
        )
    return row
