"""Table-specific behaviour, called by the service at fixed points of every write.

- Defaults: state 0 with its default status reason, when a row is created without a state.
- Sales documents (orders, invoices and their lines): see sales.py.
- Contacts: fullname follows the organization's default "First Last" convention.
- Event registrations (service endpoints, steps, images): see events/registration.py.
- Price list items: carry their price list's currency (Dataverse sets it; the API may not).
- Currencies: the first currency created is the organization's base currency (organization.basecurrencyid);
  its exchange rate stays 1 (transactioncurrency reference: ExchangeRate "Exchange rate between the transaction
  currency and the base currency"), every other currency's rate can be updated and applies to documents saved
  afterwards.
- Custom tables with currency columns: the row's currency, rate and `_base` values (currency_columns.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from . import currency_columns, errors, sales
from .events import registration
from .payload import Changes, lookup_annotation
from .schema import Table
from .store import Row

if TYPE_CHECKING:
    from .service import Service


def prepare_create(service: Service, table: Table, row: Row, changes: Changes, *, trusted: bool) -> Row:
    if table.states:
        if row.get("statecode") is None:
            row["statecode"] = 0  # every emulated table's state 0 is its active state
        if row.get("statuscode") is None:
            row["statuscode"] = table.default_status.get(row["statecode"])
    if table.entity_set in sales.BY_HEADER:
        return sales.prepare_header(service, sales.BY_HEADER[table.entity_set], table, row, creating=True)
    if table.entity_set in sales.BY_LINES:
        return sales.prepare_line(service, sales.BY_LINES[table.entity_set], row)
    if table.logical_name in ("contact", "systemuser"):
        return _with_full_name(row)
    if table.logical_name in registration.REGISTRATION_TABLES:
        return registration.prepare(service, table.logical_name, row, creating=True)
    if table.logical_name == "productpricelevel":
        return _in_price_list_currency(service, row)
    if table.logical_name == "transactioncurrency":
        organization = service.store.organization
        if organization.get("basecurrencyid") is None:
            organization["basecurrencyid"] = row["transactioncurrencyid"]
            row["exchangerate"] = Decimal(1)
            _organization_row_follows(service)
    if currency_columns.has_currency_columns(table):
        return currency_columns.stamp_base_amounts(service, table, row)
    return row


def prepare_update(service: Service, table: Table, old: Row, new: Row, changes: Changes) -> Row:
    if table.states and "statecode" in changes.values and "statuscode" not in changes.values:
        new["statuscode"] = (
            table.default_status.get(new["statecode"]) if new["statecode"] is not None else None
        )
    if table.entity_set in sales.BY_HEADER:
        document = sales.BY_HEADER[table.entity_set]
        sales.check_header_update(document, old, changes)
        return sales.prepare_header(service, document, table, new, creating=False)
    if table.entity_set in sales.BY_LINES:
        document = sales.BY_LINES[table.entity_set]
        sales.require_open_header(service, document, old)
        return sales.prepare_line(service, document, new)
    if table.logical_name in ("contact", "systemuser"):
        return _with_full_name(new)
    if table.logical_name in registration.REGISTRATION_TABLES:
        return registration.prepare(service, table.logical_name, new, creating=False)
    if table.logical_name == "productpricelevel":
        return _in_price_list_currency(service, new)
    is_base = old.get("transactioncurrencyid") == service.store.organization.get("basecurrencyid")
    if table.logical_name == "transactioncurrency" and is_base and new.get("exchangerate") != 1:
        raise errors.invalid_argument("The exchange rate of the base currency cannot be modified.")
    if currency_columns.has_currency_columns(table):
        return currency_columns.stamp_base_amounts(service, table, new)
    return new


def before_delete(service: Service, table: Table, row: Row) -> None:
    if table.entity_set in sales.BY_LINES:
        sales.require_open_header(service, sales.BY_LINES[table.entity_set], row)
    elif table.entity_set in sales.BY_HEADER:
        document = sales.BY_HEADER[table.entity_set]
        sales.delete_lines(service, document, row[table.primary_id])


def after_write(service: Service, table: Table, old: Row | None, new: Row | None) -> None:
    if table.entity_set in sales.BY_LINES:
        sales.refresh_totals(service, sales.BY_LINES[table.entity_set], old, new)


def _organization_row_follows(service: Service) -> None:
    """The organizations row shows the base currency the store keeps."""
    rows = service.store.rows("organizations")
    if not rows:
        return
    row = dict(rows[0])
    row["basecurrencyid"] = service.store.organization["basecurrencyid"]
    row[lookup_annotation("basecurrencyid")] = "transactioncurrency"
    service.save(service.tables["organizations"], row)


def _in_price_list_currency(service: Service, row: Row) -> Row:
    price_list = service.store.get("pricelevels", row["pricelevelid"]) if row.get("pricelevelid") else None
    row["transactioncurrencyid"] = price_list.get("transactioncurrencyid") if price_list else None
    row[lookup_annotation("transactioncurrencyid")] = "transactioncurrency"
    return row


def _with_full_name(row: Row) -> Row:
    """fullname follows the organization's default "First Last" convention."""
    parts = [row.get("firstname"), row.get("lastname")]
    row["fullname"] = " ".join(part for part in parts if part) or None
    return row
