"""Sales documents: orders (salesorder, salesorderdetail) and invoices (invoice, invoicedetail).

Orders and invoices share their shape in Dataverse: a header with a price list, a currency, a customer and
system-calculated totals, and lines that name a product and unit or are write-ins. Each column is the one the
CDM document (Order, OrderProduct, Invoice, InvoiceProduct) defines; the state models are the documented
ones (learn.microsoft.com reference/entities/salesorder and invoice: StateCode with DefaultStatus, StatusCode
with its State), which the CDM option tables repeat.
"""

from __future__ import annotations

from ..schema import (
    BOOLEAN,
    DATETIME,
    DECIMAL,
    MONEY,
    REQUIRED,
    SYSTEM,
    USERS,
    Column,
    ColumnType,
    Origin,
    StatusOption,
    Table,
    TableInfo,
    audit,
    lookup,
    make_table,
    primary_id,
    state_model,
    state_status,
    text,
    typed,
)

SALESORDER_STATES = {0: "Active", 1: "Submitted", 2: "Canceled", 3: "Fulfilled", 4: "Invoiced"}
SALESORDER_STATE_MODEL = state_model(
    SALESORDER_STATES,
    (
        StatusOption(1, "New", 0),
        StatusOption(2, "Pending", 0),
        StatusOption(3, "In Progress", 1),
        StatusOption(4, "No Money", 2),
        StatusOption(100001, "Complete", 3),
        StatusOption(100002, "Partial", 3),
        StatusOption(100003, "Invoiced", 4),
    ),
    {0: 1, 1: 3, 2: 4, 3: 100001, 4: 100003},
)
ORDER_ACTIVE, ORDER_SUBMITTED, ORDER_CANCELED, ORDER_FULFILLED, ORDER_INVOICED = range(5)
CLOSED_ORDER_STATES = frozenset({ORDER_CANCELED, ORDER_FULFILLED, ORDER_INVOICED})

INVOICE_STATE_MODEL = state_model(
    {0: "Active", 1: "Closed (deprecated)", 2: "Paid", 3: "Canceled"},
    (
        StatusOption(1, "New", 0),
        StatusOption(2, "Partially Shipped", 0),
        StatusOption(4, "Billed", 0),
        StatusOption(5, "Booked (applies to services)", 0),
        StatusOption(6, "Installed (applies to services)", 0),
        StatusOption(3, "Canceled (deprecated)", 1),
        StatusOption(7, "Paid in Full (deprecated)", 1),
        StatusOption(100001, "Complete", 2),
        StatusOption(100002, "Partial", 2),
        StatusOption(100003, "Canceled", 3),
    ),
    {0: 1, 1: 3, 2: 100001, 3: 100003},
)
INVOICE_PAID, INVOICE_CANCELED = 2, 3
CLOSED_INVOICE_STATES = frozenset({1, INVOICE_PAID, INVOICE_CANCELED})

TOTALS = (
    "totallineitemamount",
    "totallineitemdiscountamount",
    "totaldiscountamount",
    "totalamountlessfreight",
    "totaltax",
    "totalamount",
)
_SHIP_TO = (
    ("name", 200),
    ("line1", 250),
    ("line2", 250),
    ("line3", 250),
    ("city", 80),
    ("stateorprovince", 50),
    ("postalcode", 20),
    ("country", 80),
    ("telephone", 50),
)


def _header_columns() -> list[Column]:
    """What an order and an invoice header share."""
    return [
        text("name", 300, REQUIRED),
        text("description", 2000),
        text("emailaddress", 100),
        typed("freightamount", MONEY),
        typed("discountamount", MONEY),
        typed("discountpercentage", DECIMAL),
        *(typed(total, MONEY, computed=True) for total in TOTALS),
        typed("exchangerate", DECIMAL, computed=True),  # copied from the currency
        typed("ispricelocked", BOOLEAN, REQUIRED),
        typed("willcall", BOOLEAN),
        *(text(f"shipto_{part}", length) for part, length in _SHIP_TO),
        lookup("transactioncurrencyid", "transactioncurrencies", required=REQUIRED),
        lookup("pricelevelid", "pricelevels", required=REQUIRED),
        Column(
            "customerid",
            ColumnType.CUSTOMER,
            origin=Origin.IMPORTED,
            targets=("accounts", "contacts"),
            cdm_reference="customerIdAttribute",
        ),
        *audit(Origin.BASE),
    ]


def _line_columns(parent: str, parent_set: str, own_set: str) -> list[Column]:
    """What an order line and an invoice line share; `parent` is the header's lookup column."""
    return [
        lookup(parent, parent_set, required=SYSTEM),
        lookup("productid", "products"),
        lookup("uomid", "uoms"),
        lookup("transactioncurrencyid", "transactioncurrencies", read_only=True),  # follows the header
        lookup("parentbundleid", own_set),
        lookup("parentbundleidref", own_set),
        lookup("salesrepid", USERS),
        typed("exchangerate", DECIMAL, computed=True),
        typed("quantity", DECIMAL, REQUIRED),
        typed("priceperunit", MONEY),
        typed("ispriceoverridden", BOOLEAN),
        typed("isproductoverridden", BOOLEAN),
        text("productdescription", 500),
        typed("tax", MONEY),
        typed("manualdiscountamount", MONEY),
        typed("volumediscountamount", MONEY, computed=True),
        typed("baseamount", MONEY, computed=True),
        typed("extendedamount", MONEY, computed=True),
        typed("quantityshipped", DECIMAL),
        typed("quantitycancelled", DECIMAL),
        typed("quantitybackordered", DECIMAL),
        typed("lineitemnumber", ColumnType.INTEGER),
        text("description", 2000),
        *audit(Origin.BASE),
    ]


def salesorder() -> Table:
    columns = [
        primary_id("salesorderid"),
        *_header_columns(),
        Column("ordernumber", ColumnType.STRING, SYSTEM, 100),  # auto-numbered when not given
        typed("datefulfilled", DATETIME),
        typed("requestdeliveryby", DATETIME),
        typed("submitdate", DATETIME),
        # statecode is not valid for create (salesorder reference: StateCode IsValidForCreate = False)
        *state_status(state_valid_for_create=False),
    ]
    info = TableInfo("SalesOrder", 1088, "Order", "Orders", primary_name="name")
    return make_table(
        "salesorder", "salesorders", "Order.cdm.json", columns, info, state=SALESORDER_STATE_MODEL
    )


def salesorderdetail() -> Table:
    columns = [
        primary_id("salesorderdetailid"),
        *_line_columns("salesorderid", "salesorders", "salesorderdetails"),
    ]
    info = TableInfo("SalesOrderDetail", 1089, "Order Product", "Order Products")
    return make_table("salesorderdetail", "salesorderdetails", "OrderProduct.cdm.json", columns, info)


def invoice() -> Table:
    columns = [
        primary_id("invoiceid"),
        *_header_columns(),
        Column("invoicenumber", ColumnType.STRING, SYSTEM, 100),  # auto-numbered when not given
        typed("datedelivered", DATETIME),
        typed("duedate", DATETIME),
        lookup("salesorderid", "salesorders"),
        *(text(f"billto_{part}", length) for part, length in _SHIP_TO),
        *state_status(),
    ]
    info = TableInfo("Invoice", 1090, "Invoice", "Invoices", primary_name="name")
    return make_table("invoice", "invoices", "Invoice.cdm.json", columns, info, state=INVOICE_STATE_MODEL)


def invoicedetail() -> Table:
    columns = [
        primary_id("invoicedetailid"),
        *_line_columns("invoiceid", "invoices", "invoicedetails"),
        lookup("salesorderdetailid", "salesorderdetails"),
        typed("actualdeliveryon", DATETIME),
        text("shippingtrackingnumber", 100),
        typed("invoiceispricelocked", BOOLEAN, REQUIRED, computed=True),  # mirrors the invoice
        typed("invoicestatecode", ColumnType.STATE, SYSTEM, computed=True),
    ]
    info = TableInfo("InvoiceDetail", 1091, "Invoice Product", "Invoice Products")
    return make_table("invoicedetail", "invoicedetails", "InvoiceProduct.cdm.json", columns, info)
