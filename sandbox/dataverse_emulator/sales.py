"""Sales documents: orders and invoices with their lines, numbered, priced and totalled as Dataverse does.

Sources (learn.microsoft.com):
- salesorder statecode is not valid for create; statuscode must belong to statecode (reference/entities/
  salesorder, Order.cdm.json); invoice states Active/Closed/Paid/Canceled (reference/entities/invoice,
  Invoice.cdm.json).
- Canceled, Fulfilled and Invoiced orders are reached only through CancelSalesOrder, FulfillSalesOrder and
  ConvertSalesOrderToInvoice (an Update to those states fails with "This message can not be used to set the
  state of SalesOrder to Canceled ...", community.dynamics.com); see actions.py and invoicing.py.
- Documents in a closed state are read-only ("Only active orders can be edited", Order.cdm.json statecode
  description), and so are their lines (ParentReadOnly). Submitted orders stay editable, which the sync needs
  to move an order between Active and Submitted; Paid and Canceled invoices are closed.
- A line names a product and its unit, or is a write-in: isproductoverridden with a productdescription
  (MissingUomId, MissingProductId, CannotSpecifyBothProductAndProductDesc, CannotSpecifyBothUomAndProductDesc).

Totals (system-calculated pricing, amounts in the document's currency; nulls count as zero):
    line:     baseamount     = (priceperunit - volumediscountamount) * quantity   (no discount lists: 0)
              extendedamount = baseamount - manualdiscountamount + tax
    document: totallineitemamount         = sum(baseamount - manualdiscountamount)
              totallineitemdiscountamount = sum(manualdiscountamount)
              totaltax                    = sum(tax)
              totaldiscountamount         = discountamount + totallineitemamount * discountpercentage / 100
              totalamountlessfreight      = totallineitemamount - totaldiscountamount
              totalamount                 = totalamountlessfreight + freightamount + totaltax
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from . import errors
from .keys import RecordKey
from .payload import Changes, lookup_annotation
from .schema import Table
from .store import Row
from .tables.sales import CLOSED_INVOICE_STATES, CLOSED_ORDER_STATES, SALESORDER_STATES
from .values import MONEY_QUANTUM

if TYPE_CHECKING:
    from .service import Service

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class SalesDocument:
    header: str  # entity set
    lines: str
    parent: str  # the lines' lookup to the header
    number: str  # the auto-numbered column
    number_prefix: str
    closed_states: frozenset[int]
    # States an Update may not set, and the message Dataverse points to instead.
    state_messages: Mapping[int, str]


ORDER = SalesDocument(
    "salesorders",
    "salesorderdetails",
    "salesorderid",
    "ordernumber",
    "ORD",
    CLOSED_ORDER_STATES,
    {2: "CancelSalesOrderRequest", 3: "FulfillSalesOrderRequest", 4: "ConvertSalesOrderToInvoiceRequest"},
)
INVOICE = SalesDocument(
    "invoices", "invoicedetails", "invoiceid", "invoicenumber", "INV", CLOSED_INVOICE_STATES, {}
)
BY_HEADER = {document.header: document for document in (ORDER, INVOICE)}
BY_LINES = {document.lines: document for document in (ORDER, INVOICE)}


# --- headers ---
def prepare_header(
    service: Service, document: SalesDocument, table: Table, row: Row, *, creating: bool
) -> Row:
    if creating:
        if not row.get(document.number):
            row[document.number] = _document_number(document.number_prefix, service.store.next_order_number())
        if row.get("ispricelocked") is None:
            row["ispricelocked"] = False
        if row.get("transactioncurrencyid") is None:
            _default_currency(service, row)
    currency = _get(service, "transactioncurrencies", row.get("transactioncurrencyid"))
    row["exchangerate"] = currency["exchangerate"] if currency else None
    return with_totals(row, [] if creating else lines_of(service, document, row[table.primary_id]))


def check_header_update(document: SalesDocument, old: Row, changes: Changes) -> None:
    if old["statecode"] in document.closed_states:
        raise errors.read_only_record()
    target_state = changes.values.get("statecode")
    if isinstance(target_state, int) and target_state in document.state_messages:
        raise errors.state_needs_message(
            "SalesOrder", SALESORDER_STATES[target_state], document.state_messages[target_state]
        )


def _default_currency(service: Service, row: Row) -> None:
    """The price list's currency, else the organization's base currency."""
    price_list = _get(service, "pricelevels", row.get("pricelevelid"))
    currency_id = price_list.get("transactioncurrencyid") if price_list else None
    if currency_id is None:
        currency_id = service.store.organization.get("basecurrencyid")
    if currency_id is not None:
        row["transactioncurrencyid"] = currency_id
        row[lookup_annotation("transactioncurrencyid")] = "transactioncurrency"


def _document_number(prefix: str, sequence: int) -> str:
    """Dataverse's auto-number shape: ORD-<5-digit sequence>-<6 random letters/digits> (INV- for invoices)."""
    suffix = "".join(random.Random(sequence).choices(string.ascii_uppercase + string.digits, k=6))
    return f"{prefix}-{sequence:05d}-{suffix}"


def with_totals(header: Row, lines: list[Row]) -> Row:
    def total(name: str) -> Decimal:
        return sum((money(line.get(name)) for line in lines), ZERO)

    line_items = total("baseamount") - total("manualdiscountamount")
    percentage = Decimal(header.get("discountpercentage") or 0)
    discount = money(header.get("discountamount")) + (line_items * percentage / 100).quantize(
        MONEY_QUANTUM, rounding=ROUND_HALF_UP
    )
    tax = total("tax")
    less_freight = line_items - discount
    return {
        **header,
        "totallineitemamount": line_items,
        "totallineitemdiscountamount": total("manualdiscountamount"),
        "totaldiscountamount": discount,
        "totalamountlessfreight": less_freight,
        "totaltax": tax,
        "totalamount": less_freight + money(header.get("freightamount")) + tax,
    }


# --- lines ---
def prepare_line(service: Service, document: SalesDocument, row: Row) -> Row:
    header = require_open_header(service, document, row)
    check_product(row)
    row["transactioncurrencyid"] = header.get("transactioncurrencyid")
    row[lookup_annotation("transactioncurrencyid")] = header.get(lookup_annotation("transactioncurrencyid"))
    row["exchangerate"] = header.get("exchangerate")
    if document is INVOICE:
        row["invoiceispricelocked"] = header.get("ispricelocked")
        row["invoicestatecode"] = header.get("statecode")
    row["volumediscountamount"] = ZERO
    base = ((money(row.get("priceperunit")) - ZERO) * number(row.get("quantity"))).quantize(MONEY_QUANTUM)
    row["baseamount"] = base
    row["extendedamount"] = base - money(row.get("manualdiscountamount")) + money(row.get("tax"))
    return row


def require_open_header(service: Service, document: SalesDocument, line: Row) -> Row:
    header_id = line.get(document.parent)
    table = service.tables[document.header]
    if header_id is None:
        raise errors.invalid_argument(
            f"The '{document.parent}' attribute of the '{service.tables[document.lines].logical_name}' entity "
            "is required."
        )
    header = service.store.get(document.header, header_id)
    if header is None:
        raise service.not_found(table, RecordKey(record_id=header_id))
    if header["statecode"] in document.closed_states:
        raise errors.parent_read_only()
    return header


def check_product(line: Row) -> None:
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


def lines_of(service: Service, document: SalesDocument, header_id: str) -> list[Row]:
    return service.store.children(document.lines, document.parent, header_id)


def refresh_totals(service: Service, document: SalesDocument, old: Row | None, new: Row | None) -> None:
    """Keep the document's totals in step with its lines."""
    header_ids = {row[document.parent] for row in (old, new) if row is not None and row.get(document.parent)}
    for header_id in header_ids:
        header = service.store.get(document.header, header_id)
        if header is not None:
            refreshed = with_totals(header, lines_of(service, document, header_id))
            if refreshed != header:
                service.save(service.tables[document.header], refreshed)


def delete_lines(service: Service, document: SalesDocument, header_id: str) -> None:
    """Lines are parented by their document: deleting the document deletes them."""
    lines = service.tables[document.lines]
    for line in lines_of(service, document, header_id):
        service.store.remove(document.lines, line[lines.primary_id])


# --- helpers ---
def _get(service: Service, entity_set: str, record_id: Any) -> Row | None:
    return service.store.get(entity_set, record_id) if isinstance(record_id, str) else None


def money(value: Any) -> Decimal:
    return Decimal(value).quantize(MONEY_QUANTUM) if value is not None else ZERO


def number(value: Any) -> Decimal:
    return Decimal(value) if value is not None else Decimal(0)
