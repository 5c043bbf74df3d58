"""Canonical finance transactions -> rows of the transaction table (and the settlement rows they point at).

Pure: what Dataverse must tell us (currency ids, which orders it has, the rate of the posting date) arrives as
arguments.

Why the breakdowns are columns and not a child table: accountants read them per transaction (views, sums,
exports), and a column per category is what a Dynamics view can show and total without a join. Amazon's leaf
types are open-ended, so the columns are its categories (principal, tax, shipping, promotions, fees, withheld
tax, other) and always add up to the total; the full tree is kept beside them as JSON for the audit trail. A
child row per leaf would cost ten writes per order for data nobody reads one leaf at a time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from shared.model.crm import RecordWrite, Reference
from shared.model.exchange_rates import ExchangeRate
from shared.model.finance import FinanceTransaction
from shared.model.finance_tables import FinanceTables, RateColumns
from shared.model.money import AmountCategory
from shared.model.settlement import SettlementSummary
from shared.timeutil import iso_z

MAX_BREAKDOWN_TEXT = 100_000  # the memo column holds more; a tree this large is not Amazon's


@dataclass(frozen=True)
class TransactionRow:
    """The write of one transaction, and the settlement row its lookup binds to (created if missing)."""

    record: RecordWrite
    settlement: RecordWrite | None
    content_hash: str


def transaction_row(
    transaction: FinanceTransaction,
    tables: FinanceTables,
    *,
    currency_id: str | None,
    salesorder_id: str | None,
    rate: ExchangeRate | None,
) -> TransactionRow:
    columns = tables.transaction
    amounts = transaction.amounts
    fields: dict[str, Any] = {
        columns.name: _name(transaction),
        columns.transaction_type: transaction.transaction_type,
        columns.status: transaction.status.value,
        columns.description: transaction.description,
        columns.posted: iso_z(transaction.posted),
        columns.marketplace_id: transaction.marketplace_id,
        columns.currency_code: transaction.currency,
        columns.total: money(transaction.total),
        columns.principal: money(amounts[AmountCategory.PRINCIPAL]),
        columns.tax: money(amounts[AmountCategory.TAX]),
        columns.shipping: money(amounts[AmountCategory.SHIPPING]),
        columns.promotions: money(amounts[AmountCategory.PROMOTIONS]),
        columns.fees: money(amounts[AmountCategory.FEES]),
        columns.withheld_tax: money(amounts[AmountCategory.WITHHELD_TAX]),
        columns.other: money(amounts[AmountCategory.OTHER]),
        columns.order_id: transaction.order_id,
        columns.settlement_id: transaction.settlement_id,
        columns.event_group_id: transaction.event_group_id,
        columns.shipment_id: transaction.shipment_id,
        columns.refund_id: transaction.refund_id,
        columns.deferral_reason: transaction.deferral_reason,
        columns.maturity: iso_z(transaction.maturity) if transaction.maturity else None,
        **rate_fields(columns, rate, transaction.total),
        columns.breakdowns: _breakdown_text(transaction),
    }
    binds: dict[str, Reference] = {}
    if currency_id:
        binds["transactioncurrencyid"] = Reference("transactioncurrencies", currency_id)
    if salesorder_id:
        binds[columns.salesorder] = Reference("salesorders", salesorder_id)
    settlement = None
    if transaction.settlement_id:
        settlement = settlement_stub(tables, transaction.settlement_id)
        binds[columns.settlement] = Reference(tables.settlements, settlement.key)
    key = {columns.transaction_id: transaction.transaction_id}
    content_hash = record_hash(RecordWrite(tables.transactions, key, fields, binds))
    fields[columns.content_hash] = content_hash
    return TransactionRow(RecordWrite(tables.transactions, key, fields, binds), settlement, content_hash)


def relink_record(tables: FinanceTables, transaction_id: str, salesorder_id: str) -> RecordWrite:
    """Point a transaction row written before its order arrived at the order."""
    columns = tables.transaction
    return RecordWrite(
        tables.transactions,
        {columns.transaction_id: transaction_id},
        {},
        {columns.salesorder: Reference("salesorders", salesorder_id)},
    )


def settlement_stub(tables: FinanceTables, settlement_id: str) -> RecordWrite:
    """The settlement row a transaction points at, before (or after) its report fills it in: the same name
    either way, so the upsert never changes what the report wrote."""
    columns = tables.settlement
    return RecordWrite(
        tables.settlements,
        {columns.settlement_id: settlement_id},
        {columns.name: settlement_name(settlement_id)},
    )


def settlement_record(
    summary: SettlementSummary,
    tables: FinanceTables,
    *,
    report_id: str,
    orders: int,
    rows: int,
    mismatches: int | None,
    currency_id: str | None,
    rate: ExchangeRate | None,
) -> RecordWrite:
    """The settlement row: the payout, what its report held, and the base value at the deposit date's rate."""
    columns = tables.settlement
    fields: dict[str, Any] = {
        columns.name: settlement_name(summary.settlement_id),
        columns.start: iso_z(summary.start),
        columns.end: iso_z(summary.end),
        columns.deposit: iso_z(summary.deposit_date) if summary.deposit_date else None,
        columns.total: money(summary.total),
        columns.currency_code: summary.currency,
        columns.report_id: report_id,
        columns.order_count: orders,
        columns.row_count: rows,
        **rate_fields(columns, rate, summary.total),
    }
    if mismatches is not None:
        fields[columns.mismatch_count] = mismatches
    binds = {"transactioncurrencyid": Reference("transactioncurrencies", currency_id)} if currency_id else {}
    return RecordWrite(tables.settlements, {columns.settlement_id: summary.settlement_id}, fields, binds)


def settlement_name(settlement_id: str) -> str:
    return f"Amazon settlement {settlement_id}"


def rate_fields(columns: RateColumns, rate: ExchangeRate | None, amount: Decimal) -> dict[str, Any]:
    """The rate used for the base value, stored with the row (all empty when no rate covers the date)."""
    return {
        columns.exchange_rate: float(rate.rate) if rate else None,
        columns.rate_date: rate.rate_date.isoformat() if rate else None,
        columns.rate_source: rate.source if rate else None,
        columns.base_currency_code: rate.base_currency if rate else None,
        columns.base_total: money(rate.to_base(amount)) if rate else None,
    }


def record_hash(record: RecordWrite) -> str:
    """A fingerprint of everything a write would set: equal hashes mean there is nothing to write."""
    text = json.dumps(asdict(record), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def money(value: Decimal) -> float:
    """A JSON number for a Money column; two-decimal amounts survive the float exactly as written."""
    return float(value)


def _name(transaction: FinanceTransaction) -> str:
    subject = transaction.order_id or transaction.description or transaction.transaction_id
    return f"{transaction.transaction_type} {subject} {transaction.posted:%Y-%m-%d}"[:200]


def _breakdown_text(transaction: FinanceTransaction) -> str | None:
    if not transaction.leaves:
        return None
    leaves: list[Mapping[str, str]] = [
        {"path": leaf.path, "amount": str(leaf.amount)} for leaf in transaction.leaves
    ]
    text = json.dumps(leaves, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= MAX_BREAKDOWN_TEXT else None
