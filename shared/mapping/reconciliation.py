"""Reconciliation: what a settlement paid per order, against the CRM and against Amazon's own transactions.

Each finding names one order, one reason and the two amounts; nothing is a finding unless two sources that
should agree do not (by at least half a cent):
- the CRM has no order the settlement pays for (`missing_in_crm`);
- a shipment is paid again: by another settlement (its invoice lines say so) or by two transactions of this
  report (`settled_twice`);
- what the buyer paid according to the settlements (principal, tax, shipping, promotions of its sales, this
  settlement's plus earlier ones' for other shipments) is not the CRM order's total (`order_total_differs`).
  Compared only for orders the CRM holds as fully shipped (Fulfilled or Invoiced): a partly shipped order is
  settled shipment by shipment and would differ until its last one;
- the report pays an order differently than the transactions Amazon listed for it in this settlement do, per
  category (`transactions_differ`, e.g. a fee). Compared only when the finance sync has rows for it;
- the report's total is not the sum of its rows (`settlement_total_differs`).
Pure: the CRM's side arrives as arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from shared.mapping.finance_records import money
from shared.model.crm import RecordWrite, Reference
from shared.model.finance_tables import FinanceTables
from shared.model.money import CENT, ZERO, CategoryAmounts
from shared.model.settlement import (
    CrmOrderRef,
    EarlierSettlement,
    ReconciliationReason,
    ReconciliationResult,
    SettledOrder,
    SettlementSummary,
)

FULLY_SHIPPED_STATECODES = frozenset({3, 4})  # Fulfilled, Invoiced
TOLERANCE = CENT / 2


def reconcile_order(
    summary: SettlementSummary,
    settled: SettledOrder,
    crm: CrmOrderRef | None,
    *,
    earlier: Sequence[EarlierSettlement],
    transactions: CategoryAmounts | None,
) -> list[ReconciliationResult]:
    def result(
        reason: ReconciliationReason, expected: Decimal | None, actual: Decimal | None, **extra: Any
    ) -> ReconciliationResult:
        return ReconciliationResult(
            summary.settlement_id,
            settled.order_id,
            reason,
            summary.currency,
            expected,
            actual,
            salesorder_id=crm.salesorder_id if crm else None,
            **extra,
        )

    findings: list[ReconciliationResult] = []
    if crm is None:
        findings.append(
            result(
                ReconciliationReason.MISSING_IN_CRM,
                None,
                settled.amounts.total,
                detail=f"order {settled.order_id} is settled (report line {settled.first_line}) but not in the CRM",
            )
        )
    paid_before = [other for other in earlier if other.sale_groups & settled.sale_groups]
    if paid_before or settled.repeated_groups:
        where = ", ".join(sorted(other.settlement_id for other in paid_before)) or "this settlement"
        findings.append(
            result(
                ReconciliationReason.SETTLED_TWICE,
                None,
                settled.sale_amounts.sales,
                detail=f"shipment of order {settled.order_id} also paid in {where}",
            )
        )
    if (
        crm is not None
        and crm.total is not None
        and crm.statecode in FULLY_SHIPPED_STATECODES
        and settled.sale_groups
    ):
        other_shipments = sum(
            (
                amount
                for other in earlier
                for group, amount in other.sales_by_group.items()
                if group not in settled.sale_groups
            ),
            ZERO,
        )
        settled_sales = settled.sale_amounts.sales + other_shipments
        if abs(settled_sales - crm.total) >= TOLERANCE:
            findings.append(
                result(
                    ReconciliationReason.ORDER_TOTAL,
                    crm.total,
                    settled_sales,
                    category="sales",
                    detail=f"CRM total {crm.total} vs settled {settled_sales} (principal, tax, shipping, promotions)",
                )
            )
    if transactions is not None:
        for category in settled.amounts.differences(transactions, tolerance=TOLERANCE):
            findings.append(
                result(
                    ReconciliationReason.TRANSACTIONS,
                    transactions[category],
                    settled.amounts[category],
                    category=category.value,
                    detail=f"{category.value}: transactions {transactions[category]} vs settlement {settled.amounts[category]}",
                )
            )
    return findings


def reconcile_totals(summary: SettlementSummary, rows_total: Decimal) -> list[ReconciliationResult]:
    if abs(rows_total - summary.total) < TOLERANCE:
        return []
    return [
        ReconciliationResult(
            summary.settlement_id,
            None,
            ReconciliationReason.SETTLEMENT_TOTAL,
            summary.currency,
            summary.total,
            rows_total,
            detail=f"summary total {summary.total} vs rows {rows_total}",
        )
    ]


def result_record(
    result: ReconciliationResult, tables: FinanceTables, *, currency_id: str | None
) -> RecordWrite:
    columns = tables.reconciliation
    difference = result.difference
    fields: dict[str, Any] = {
        columns.name: f"{result.reason.value} {result.order_id or result.settlement_id}"[:200],
        columns.settlement_id: result.settlement_id,
        columns.order_id: result.order_id,
        columns.reason: result.reason.value,
        columns.category: result.category,
        columns.expected: money(result.expected) if result.expected is not None else None,
        columns.settled: money(result.settled) if result.settled is not None else None,
        columns.difference: money(difference) if difference is not None else None,
        columns.currency_code: result.currency,
        columns.detail: result.detail[:500],
    }
    binds: dict[str, Reference] = {
        columns.settlement: Reference(
            tables.settlements, {tables.settlement.settlement_id: result.settlement_id}
        )
    }
    if result.salesorder_id:
        binds[columns.salesorder] = Reference("salesorders", result.salesorder_id)
    if currency_id:
        binds["transactioncurrencyid"] = Reference("transactioncurrencies", currency_id)
    return RecordWrite(tables.reconciliations, {columns.result_key: result.key}, fields, binds)
