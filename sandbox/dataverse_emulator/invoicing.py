"""The unbound ConvertSalesOrderToInvoice action (learn.microsoft.com: ConvertSalesOrderToInvoice Action /
ConvertSalesOrderToInvoiceRequest): parameters `SalesOrderId` (Edm.Guid, not nullable) and `ColumnSet`
(ColumnSet ComplexType: `AllColumns` or `Columns`, the invoice columns to return); it answers with the new
invoice.

What it does, as Dynamics 365 Sales does it: the invoice copies the order's customer, price list, currency,
discounts, freight and ship-to address and links back through `salesorderid`; each order line becomes an
invoice line with the same product or write-in description, quantity, prices, discount and tax, linked
through `salesorderdetailid`; the order moves to Invoiced / Invoiced (4/100003) and is read-only from then
on. An order already Canceled or Invoiced cannot be converted. Everything happens in one transaction.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .keys import RecordKey
from .odata_filter import parse_select
from .payload import lookup_annotation
from .responses import representation
from .sales import ORDER, lines_of
from .service import Service
from .store import Row
from .tables.sales import ORDER_CANCELED, ORDER_INVOICED
from .values import is_guid

ACTION = "ConvertSalesOrderToInvoice"
_HEADER_COPIED = (
    "name",
    "description",
    "emailaddress",
    "discountamount",
    "discountpercentage",
    "freightamount",
    "ispricelocked",
    "willcall",
    *(
        f"shipto_{part}"
        for part in (
            "name",
            "line1",
            "line2",
            "line3",
            "city",
            "stateorprovince",
            "postalcode",
            "country",
            "telephone",
        )
    ),
)
_LINE_COPIED = (
    "quantity",
    "priceperunit",
    "ispriceoverridden",
    "isproductoverridden",
    "productdescription",
    "tax",
    "manualdiscountamount",
    "lineitemnumber",
    "description",
)
_BINDS = {"pricelevelid": "pricelevels", "transactioncurrencyid": "transactioncurrencies"}


def convert_sales_order_to_invoice(service: Service, body: Any) -> tuple[Row, list[str] | None]:
    """Create the invoice; returns it and the columns ColumnSet asks for (None: all)."""
    if not isinstance(body, dict):
        raise errors.unreadable_json(ACTION)
    order_id = body.get("SalesOrderId")
    if not isinstance(order_id, str) or not is_guid(order_id):
        raise errors.invalid_argument(f"{ACTION} needs a SalesOrderId parameter (Edm.Guid).")
    columns = _column_set(service, body.get("ColumnSet"))
    orders = service.tables["salesorders"]
    order = service.require(orders, RecordKey(record_id=order_id.lower()))
    if order["statecode"] in (ORDER_CANCELED, ORDER_INVOICED):
        raise errors.read_only_record()
    resolve = service.resolver(None)
    invoices, invoice_lines = service.tables["invoices"], service.tables["invoicedetails"]
    invoice = service.create(invoices, _invoice_body(order), resolve, trusted=True)
    for line in lines_of(service, ORDER, order["salesorderid"]):
        service.create(invoice_lines, _line_body(line, invoice["invoiceid"]), resolve, trusted=True)
    service.update_state(
        orders, order, {"statecode": ORDER_INVOICED, "statuscode": orders.default_status[ORDER_INVOICED]}
    )
    refreshed = service.store.get("invoices", invoice["invoiceid"])
    assert refreshed is not None
    return refreshed, columns


def invoice_response(service: Service, invoice: Row, columns: list[str] | None) -> dict[str, Any]:
    table = service.tables["invoices"]
    return representation(table, invoice, columns, annotations=False)


def _column_set(service: Service, column_set: Any) -> list[str] | None:
    if column_set is None:
        return [service.tables["invoices"].primary_id]
    if not isinstance(column_set, dict):
        raise errors.invalid_argument(
            'ColumnSet must be a ColumnSet: {"AllColumns": true} or {"Columns": [...]}.'
        )
    if column_set.get("AllColumns") is True:
        return None
    names = column_set.get("Columns") or []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise errors.invalid_argument("ColumnSet.Columns must be a list of column names.")
    return (
        parse_select(",".join(names), service.tables["invoices"])
        if names
        else [service.tables["invoices"].primary_id]
    )


def _invoice_body(order: Row) -> dict[str, Any]:
    body: dict[str, Any] = {name: order.get(name) for name in _HEADER_COPIED if order.get(name) is not None}
    body["salesorderid@odata.bind"] = f"/salesorders({order['salesorderid']})"
    for column, entity_set in _BINDS.items():
        if order.get(column):
            body[f"{column}@odata.bind"] = f"/{entity_set}({order[column]})"
    customer_table = order.get(lookup_annotation("customerid"))
    if order.get("customerid") and customer_table in ("account", "contact"):
        body[f"customerid_{customer_table}@odata.bind"] = f"/{customer_table}s({order['customerid']})"
    return body


def _line_body(line: Row, invoice_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {name: line.get(name) for name in _LINE_COPIED if line.get(name) is not None}
    body["invoiceid@odata.bind"] = f"/invoices({invoice_id})"
    body["salesorderdetailid@odata.bind"] = f"/salesorderdetails({line['salesorderdetailid']})"
    for column, entity_set in (("productid", "products"), ("uomid", "uoms")):
        if line.get(column):
            body[f"{column}@odata.bind"] = f"/{entity_set}({line[column]})"
    return body
