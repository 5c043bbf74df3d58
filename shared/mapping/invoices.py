"""A settled order -> a Dynamics invoice (`invoice` + `invoicedetail` lines) of what Amazon settled for it.

Why the invoice is written here and not made with ConvertSalesOrderToInvoice: the action copies the order's
lines and prices, while the invoice must say what Amazon actually settled (promotions, refunds, a shipment paid
twice); it can run once per order (it closes the order as Invoiced), while an order can be settled in several
settlements (a refund weeks later); it is not idempotent (a lost answer would leave us guessing whether an
invoice exists) and cannot carry our alternate key. An upsert by (settlement id, order id), lines by (settlement
id, order id, line reference), in one change set, is idempotent, batched and complete; the invoice still points
at its order (`salesorderid`) and copies its customer, currency and price list.

Lines, one per item of each Amazon transaction:
- a sale: the item at its settled principal (quantity and unit price when they divide evenly, else one unit at
  the total), promotions as the line's discount, the tax as its tax; shipping as a line of its own;
- a refund (and any other transaction naming the order) is a credit line: a negative quantity at the refunded
  amount, with the refunded tax; refunded shipping likewise.
Amazon's fees are not the buyer's: they stay on the transaction rows and the settlement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shared.mapping.document_lines import product_or_write_in
from shared.model.crm import CrmState, ProductRef, RecordWrite, Reference
from shared.model.finance_tables import FinanceTables
from shared.model.money import CENT, ZERO, AmountCategory
from shared.model.settlement import CrmOrderRef, SettledKind, SettledLine, SettledOrder, SettlementSummary

INVOICE_PAID = CrmState(2, 100001)  # Paid / Complete: Amazon paid it out


@dataclass(frozen=True)
class InvoicePlan:
    order_id: str
    invoice: RecordWrite
    lines: tuple[RecordWrite, ...]

    @property
    def records(self) -> tuple[RecordWrite, ...]:
        return (self.invoice, *self.lines)


def plan_invoice(
    settled: SettledOrder,
    crm: CrmOrderRef,
    summary: SettlementSummary,
    tables: FinanceTables,
    *,
    products: Mapping[str, ProductRef],
    currency_id: str | None,
) -> InvoicePlan:
    columns = tables.invoice
    key = {columns.settlement_id: summary.settlement_id, columns.order_id: settled.order_id}
    binds: dict[str, Reference] = {
        "salesorderid": Reference("salesorders", crm.salesorder_id),
        columns.settlement: Reference(
            tables.settlements, {tables.settlement.settlement_id: summary.settlement_id}
        ),
    }
    if crm.customer is not None:
        table = crm.customer.entity_set.removesuffix("s")
        binds[f"customerid_{table}"] = crm.customer
    if crm.currency_id or currency_id:
        binds["transactioncurrencyid"] = Reference(
            "transactioncurrencies", crm.currency_id or currency_id or ""
        )
    if crm.price_list_id:
        binds["pricelevelid"] = Reference("pricelevels", crm.price_list_id)
    fields = {
        "name": f"Amazon {settled.order_id} settlement {summary.settlement_id}"[:300],
        "description": f"What Amazon settled for order {settled.order_id} in settlement {summary.settlement_id}",
        "ispricelocked": True,
        **({"datedelivered": summary.deposit_date.date().isoformat()} if summary.deposit_date else {}),
    }
    invoice = RecordWrite("invoices", key, fields, binds)
    invoice_ref = Reference("invoices", key)
    lines: list[RecordWrite] = []
    for settled_line in settled.lines:
        for line_item in _line_fields(settled_line):
            number = len(lines) + 1
            lines.append(
                _line_record(tables, summary, settled, settled_line, line_item, number, invoice_ref, products)
            )
    return InvoicePlan(settled.order_id, invoice, tuple(lines))


def _line_fields(line: SettledLine) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(line reference, write-in label or None for the item's product, invoicedetail columns) of the item's
    line and of its shipping line, if any."""
    amounts = line.amounts
    principal, promotions = amounts[AmountCategory.PRINCIPAL], amounts[AmountCategory.PROMOTIONS]
    tax, shipping = amounts[AmountCategory.TAX], amounts[AmountCategory.SHIPPING]
    quantity = line.quantity if line.quantity and line.quantity > 0 else 1
    found: list[tuple[str, str | None, dict[str, Any]]] = []
    if principal or promotions or tax:
        if line.kind is SettledKind.SALE:
            found.append((line.ref, None, _priced(principal, quantity, tax, -promotions)))
        else:
            found.append((line.ref, None, _credited(principal + promotions, quantity, tax)))
    if shipping:
        ref = f"{line.kind.value}shipping-{line.group_id}-{line.item_code}"
        if line.kind is SettledKind.SALE:
            found.append((ref, "Shipping", _priced(shipping, 1, ZERO, ZERO)))
        else:
            found.append((ref, "Shipping refund", _credited(shipping, 1, ZERO)))
    return found


def _priced(total: Decimal, quantity: int, tax: Decimal, discount: Decimal) -> dict[str, Any]:
    """Quantity and unit price when the total divides evenly into units, else one unit at the total: the line
    must add up to exactly what was settled."""
    unit = (total / quantity).quantize(CENT, rounding=ROUND_HALF_UP)
    if unit * quantity != total:
        unit, quantity = total, 1
    return {
        "quantity": float(quantity),
        "priceperunit": float(unit),
        "manualdiscountamount": float(discount) if discount else None,
        "tax": float(tax),
    }


def _credited(amount: Decimal, quantity: int, tax: Decimal) -> dict[str, Any]:
    """A line giving `amount` back (negative): negative units at a positive price, with the refunded tax."""
    line = _priced(abs(amount), quantity, tax, ZERO)
    if amount < 0:
        line["quantity"] = -line["quantity"]
    return line


def _line_record(
    tables: FinanceTables,
    summary: SettlementSummary,
    settled: SettledOrder,
    line: SettledLine,
    line_item: tuple[str, str | None, dict[str, Any]],
    number: int,
    invoice: Reference,
    products: Mapping[str, ProductRef],
) -> RecordWrite:
    ref, label, fields = line_item
    columns = tables.invoice_line
    key = {
        columns.settlement_id: summary.settlement_id,
        columns.order_id: settled.order_id,
        columns.line_ref: ref,
    }
    values: dict[str, Any] = {
        **fields,
        "lineitemnumber": number,
        # Amazon decides the price; without the override Dataverse would reprice from the price list.
        "ispriceoverridden": True,
    }
    binds: dict[str, Reference] = {"invoiceid": invoice}
    product = products.get(line.sku or "") if label is None else None
    what = label or " ".join(part for part in (line.sku, line.item_code) if part)
    product_or_write_in(values, binds, product, f"{what} ({line.kind.value} {line.group_id})")
    return RecordWrite("invoicedetails", key, values, binds)
