"""Table-specific behaviour: defaults, sales order states and totals, order-line product rules, full names.

Sources for the sales rules (learn.microsoft.com):
- salesorder statecode is not valid for create (reference/entities/salesorder: StateCode IsValidForCreate
  False); statuscode must belong to statecode (the same page's StatusCode table, and Order.cdm.json).
- Canceled and Fulfilled are reached only through CancelSalesOrder / FulfillSalesOrder (salesorder reference:
  Messages; an Update to those states fails with "This message can not be used to set the state of
  SalesOrder to Canceled ...", community.dynamics.com); see actions.py.
- Orders in a closed state are read-only ("Only active orders can be edited", Order.cdm.json statecode
  description; dynamics365/sales/dynamics-365-sales-privacy lists read-only order states), and so are their
  lines (ParentReadOnly). We treat Canceled, Fulfilled and Invoiced as closed and leave Submitted editable,
  which is what the sync needs to move an order back and forth between Active and Submitted.
- An order line names a product and its unit, or is a write-in: isproductoverridden with a
  productdescription (MissingUomId, MissingProductId, CannotSpecifyBothProductAndProductDesc,
  CannotSpecifyBothUomAndProductDesc in the web service error codes).

Totals (system-calculated pricing, amounts in the order's currency; nulls count as zero):
    line:  baseamount     = priceperunit * quantity
           extendedamount = baseamount - manualdiscountamount + tax
    order: totallineitemamount         = sum(baseamount - manualdiscountamount)
           totallineitemdiscountamount = sum(manualdiscountamount)
           totaltax                    = sum(tax)
           totaldiscountamount         = discountamount
           totalamountlessfreight      = totallineitemamount - totaldiscountamount
           totalamount                 = totalamountlessfreight + freightamount + totaltax
"""

from __future__ import annotations

import random
import string
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import errors
from .keys import RecordKey
from .payload import Changes, lookup_annotation
from .schema import CLOSED_ORDER_STATES, Table
from .store import Row
from .values import MONEY_QUANTUM

if TYPE_CHECKING:
    from .service import Service

ZERO = Decimal("0.00")
# The message Dataverse points to for each state an Update may not set on a sales order.
STATE_MESSAGES = {
    2: "CancelSalesOrderRequest",
    3: "FulfillSalesOrderRequest",
    4: "ConvertSalesOrderToInvoiceRequest",
}


def prepare_create(service: Service, table: Table, row: Row, changes: Changes, *, trusted: bool) -> Row:
    if table.states:
        if row.get("statecode") is None:
            row["statecode"] = 0  # every emulated table's state 0 is its active state
        if row.get("statuscode") is None:
            row["statuscode"] = table.default_status.get(row["statecode"])
    if table.logical_name == "salesorder":
        return _prepare_order(service, table, row, creating=True)
    if table.logical_name == "salesorderdetail":
        return _prepare_line(service, row)
    if table.logical_name == "contact":
        return _with_full_name(row)
    return row


def prepare_update(service: Service, table: Table, old: Row, new: Row, changes: Changes) -> Row:
    if table.states and "statecode" in changes.values and "statuscode" not in changes.values:
        new["statuscode"] = (
            table.default_status.get(new["statecode"]) if new["statecode"] is not None else None
        )
    if table.logical_name == "salesorder":
        if old["statecode"] in CLOSED_ORDER_STATES:
            raise errors.read_only_record()
        target_state = changes.values.get("statecode")
        if target_state in STATE_MESSAGES:
            raise errors.state_needs_message(
                "SalesOrder", table.states[target_state], STATE_MESSAGES[target_state]
            )
        return _prepare_order(service, table, new, creating=False)
    if table.logical_name == "salesorderdetail":
        _require_open_order(service, old)
        return _prepare_line(service, new)
    if table.logical_name == "contact":
        return _with_full_name(new)
    return new


def before_delete(service: Service, table: Table, row: Row) -> None:
    if table.logical_name == "salesorderdetail":
        _require_open_order(service, row)
    elif table.logical_name == "salesorder":
        # Order lines are parented by the order: deleting the order deletes them.
        for line in _lines_of(service, row["salesorderid"]):
            service.store.remove("salesorderdetails", line["salesorderdetailid"])


def after_write(service: Service, table: Table, old: Row | None, new: Row | None) -> None:
    """Keep the order's totals in step with its lines."""
    if table.logical_name != "salesorderdetail":
        return
    order_ids = {row["salesorderid"] for row in (old, new) if row is not None and row.get("salesorderid")}
    for order_id in order_ids:
        order = service.store.get("salesorders", order_id)
        if order is not None:
            refreshed = _with_totals(order, _lines_of(service, order_id))
            if refreshed != order:
                service.save(service.tables["salesorders"], refreshed)


# --- sales orders ---
def _prepare_order(service: Service, table: Table, row: Row, *, creating: bool) -> Row:
    if creating:
        if not row.get("ordernumber"):
            row["ordernumber"] = _order_number(service.store.next_order_number())
        if row.get("ispricelocked") is None:
            row["ispricelocked"] = False
        if row.get("transactioncurrencyid") is None:
            _default_currency(service, row)
    currency = _get(service, "transactioncurrencies", row.get("transactioncurrencyid"))
    row["exchangerate"] = currency["exchangerate"] if currency else None
    return _with_totals(row, [] if creating else _lines_of(service, row["salesorderid"]))


def _default_currency(service: Service, row: Row) -> None:
    """The price list's currency, else the organization's base currency (exchange rate 1)."""
    price_list = _get(service, "pricelevels", row.get("pricelevelid"))
    currency_id = price_list.get("transactioncurrencyid") if price_list else None
    if currency_id is None:
        base = next(
            (c for c in service.store.rows("transactioncurrencies") if c.get("exchangerate") == 1), None
        )
        currency_id = base["transactioncurrencyid"] if base else None
    if currency_id is not None:
        row["transactioncurrencyid"] = currency_id
        row[lookup_annotation("transactioncurrencyid")] = "transactioncurrency"


def _order_number(sequence: int) -> str:
    """Dataverse's auto-number shape for orders: ORD-<5-digit sequence>-<6 random letters/digits>."""
    suffix = "".join(random.Random(sequence).choices(string.ascii_uppercase + string.digits, k=6))
    return f"ORD-{sequence:05d}-{suffix}"


def _with_totals(order: Row, lines: list[Row]) -> Row:
    def total(name: str) -> Decimal:
        return sum((_money(line.get(name)) for line in lines), ZERO)

    line_items = total("baseamount") - total("manualdiscountamount")
    discount = _money(order.get("discountamount"))
    tax = total("tax")
    less_freight = line_items - discount
    return {
        **order,
        "totallineitemamount": line_items,
        "totallineitemdiscountamount": total("manualdiscountamount"),
        "totaldiscountamount": discount,
        "totalamountlessfreight": less_freight,
        "totaltax": tax,
        "totalamount": less_freight + _money(order.get("freightamount")) + tax,
    }


# --- order lines ---
def _prepare_line(service: Service, row: Row) -> Row:
    order = _require_open_order(service, row)
    _check_product(row)
    row["transactioncurrencyid"] = order.get("transactioncurrencyid")
    row[lookup_annotation("transactioncurrencyid")] = order.get(lookup_annotation("transactioncurrencyid"))
    row["exchangerate"] = order.get("exchangerate")
    base = (_money(row.get("priceperunit")) * _number(row.get("quantity"))).quantize(MONEY_QUANTUM)
    row["baseamount"] = base
    row["extendedamount"] = base - _money(row.get("manualdiscountamount")) + _money(row.get("tax"))
    return row


def _require_open_order(service: Service, line: Row) -> Row:
    order_id = line.get("salesorderid")
    if order_id is None:
        raise errors.invalid_argument(
            "The 'salesorderid' attribute of the 'salesorderdetail' entity is required."
        )
    order = service.store.get("salesorders", order_id)
    if order is None:
        raise service.not_found(service.tables["salesorders"], RecordKey(record_id=order_id))
    if order["statecode"] in CLOSED_ORDER_STATES:
        raise errors.parent_read_only()
    return order


def _check_product(line: Row) -> None:
    description = line.get("productdescription")
    if line.get("productid") is not None:
        if description:
            raise errors.product_and_description()
        if line.get("uomid") is None:
            raise errors.missing_uom()
        return
    if description and line.get("uomid") is not None:
        raise errors.uom_and_description()
    if not (line.get("isproductoverridden") and description):
        raise errors.missing_product()  # neither an existing product nor a complete write-in


def _lines_of(service: Service, order_id: str) -> list[Row]:
    return service.store.children("salesorderdetails", "salesorderid", order_id)


# --- contacts ---
def _with_full_name(row: Row) -> Row:
    """fullname follows the organization's default "First Last" convention."""
    parts = [row.get("firstname"), row.get("lastname")]
    row["fullname"] = " ".join(part for part in parts if part) or None
    return row


# --- helpers ---
def _get(service: Service, entity_set: str, record_id: Any) -> Row | None:
    return service.store.get(entity_set, record_id) if isinstance(record_id, str) else None


def _money(value: Any) -> Decimal:
    return Decimal(value).quantize(MONEY_QUANTUM) if value is not None else ZERO


def _number(value: Any) -> Decimal:
    return Decimal(value) if value is not None else Decimal(0)
