"""Amazon's money side: the transaction, settlement and reconciliation tables, their lookups and keys, and the
columns invoices and their lines carry so a settlement's invoice can be upserted.

Names come from shared/model/finance_tables.py (what the mapping writes). Money columns bring Dataverse's own
`transactioncurrencyid`, `exchangerate` and `_base` columns with them: the currency of a row is that lookup.
- `{prefix}financetransaction`: one row per Amazon transaction (key: Amazon's transaction id), lookups to its
  sales order and its settlement;
- `{prefix}settlement`: one row per settlement (key: Amazon's settlement id);
- `{prefix}reconciliation`: one row per finding (key: settlement, order, reason and category in one value);
- invoice: Amazon's settlement and order ids (together its key) and a lookup to the settlement; invoice line:
  the settlement and order ids and the line's reference (together its key).
"""

from __future__ import annotations

from shared.model.crm_schema import AlternateKey, Column, ColumnType, CustomTable, Feature, Lookup
from shared.model.finance_tables import FinanceTables, RateColumns
from shared.provision.schema.context import SchemaContext

STRING, MEMO, MONEY, DECIMAL, DATETIME, INTEGER = (
    ColumnType.STRING,
    ColumnType.MEMO,
    ColumnType.MONEY,
    ColumnType.DECIMAL,
    ColumnType.DATETIME,
    ColumnType.INTEGER,
)
ID = 100  # Amazon's ids: order ids 19 characters, settlement ids 11, transaction ids ~43


def declare(context: SchemaContext) -> Feature:
    tables = FinanceTables(context.prefix)
    p = context.prefix
    settlement_table, transaction_table, findings_table = (
        tables.settlement_table,
        tables.transaction_table,
        tables.reconciliation_table,
    )
    return Feature(
        name="finance",
        tables=(
            CustomTable(settlement_table, "Amazon Settlement", "Amazon Settlements", tables.settlement.name),
            CustomTable(transaction_table, "Amazon Transaction", "Amazon Transactions", tables.transaction.name),
            CustomTable(
                findings_table,
                "Amazon Reconciliation Result",
                "Amazon Reconciliation Results",
                tables.reconciliation.name,
            ),
        ),
        columns=(*_settlement(tables), *_transaction(tables), *_findings(tables), *_invoices(tables)),
        lookups=(
            Lookup(transaction_table, tables.transaction.salesorder, "salesorder", f"{p}salesorder_financetransaction", "Sales order"),
            Lookup(transaction_table, tables.transaction.settlement, settlement_table, f"{p}settlement_financetransaction", "Settlement"),
            Lookup(findings_table, tables.reconciliation.salesorder, "salesorder", f"{p}salesorder_reconciliation", "Sales order"),
            Lookup(findings_table, tables.reconciliation.settlement, settlement_table, f"{p}settlement_reconciliation", "Settlement"),
            Lookup("invoice", tables.invoice.settlement, settlement_table, f"{p}settlement_invoice", "Amazon settlement"),
        ),
        keys=(
            AlternateKey(settlement_table, f"{p}amazonsettlementkey", (tables.settlement.settlement_id,), "Amazon settlement id"),
            AlternateKey(transaction_table, f"{p}amazontransactionkey", (tables.transaction.transaction_id,), "Amazon transaction id"),
            AlternateKey(findings_table, f"{p}reconciliationresultkey", (tables.reconciliation.result_key,), "Result key"),
            AlternateKey(
                "invoice",
                f"{p}amazonsettlementinvoicekey",
                (tables.invoice.settlement_id, tables.invoice.order_id),
                "Amazon settlement and order",
            ),
            AlternateKey(
                "invoicedetail",
                f"{p}amazonsettlementlinekey",
                (tables.invoice_line.settlement_id, tables.invoice_line.order_id, tables.invoice_line.line_ref),
                "Amazon settlement, order and line",
            ),
        ),
    )  # fmt: skip


def _rates(table: str, columns: RateColumns, what: str) -> tuple[Column, ...]:
    return (
        Column(table, columns.exchange_rate, DECIMAL, f"Exchange rate ({what})", precision=10),
        Column(table, columns.rate_date, DATETIME, "Rate date"),
        Column(table, columns.rate_source, STRING, "Rate source", 40),
        Column(table, columns.base_currency_code, STRING, "Base currency code", 3),
        Column(table, columns.base_total, DECIMAL, "Base total amount", precision=2),
    )


def _settlement(tables: FinanceTables) -> tuple[Column, ...]:
    t, c = tables.settlement_table, tables.settlement
    return (
        Column(t, c.settlement_id, STRING, "Amazon settlement id", ID),
        Column(t, c.start, DATETIME, "Start date"),
        Column(t, c.end, DATETIME, "End date"),
        Column(t, c.deposit, DATETIME, "Deposit date"),
        Column(t, c.total, MONEY, "Total amount"),
        Column(t, c.currency_code, STRING, "Currency code", 3),
        Column(t, c.report_id, STRING, "Report id", ID),
        Column(t, c.order_count, INTEGER, "Orders"),
        Column(t, c.row_count, INTEGER, "Rows"),
        Column(t, c.mismatch_count, INTEGER, "Mismatches"),
        *_rates(t, c, "deposit date"),
    )


def _transaction(tables: FinanceTables) -> tuple[Column, ...]:
    t, c = tables.transaction_table, tables.transaction
    money = (
        (c.total, "Total amount"),
        (c.principal, "Principal"),
        (c.tax, "Tax"),
        (c.shipping, "Shipping"),
        (c.promotions, "Promotions"),
        (c.fees, "Amazon fees"),
        (c.withheld_tax, "Tax withheld by Amazon"),
        (c.other, "Other amounts"),
    )
    return (
        Column(t, c.transaction_id, STRING, "Amazon transaction id", 200),
        Column(t, c.transaction_type, STRING, "Transaction type", ID),
        Column(t, c.status, STRING, "Transaction status", 30),
        Column(t, c.description, STRING, "Description", 500),
        Column(t, c.posted, DATETIME, "Posted date"),
        Column(t, c.marketplace_id, STRING, "Amazon marketplace id", 20),
        Column(t, c.currency_code, STRING, "Currency code", 3),
        *(Column(t, name, MONEY, label) for name, label in money),
        Column(t, c.order_id, STRING, "Amazon order id", ID),
        Column(t, c.settlement_id, STRING, "Amazon settlement id", ID),
        Column(t, c.event_group_id, STRING, "Financial event group id", 200),
        Column(t, c.shipment_id, STRING, "Shipment id", ID),
        Column(t, c.refund_id, STRING, "Refund id", ID),
        Column(t, c.deferral_reason, STRING, "Deferral reason", ID),
        Column(t, c.maturity, DATETIME, "Maturity date"),
        *_rates(t, c, "posting date"),
        Column(t, c.breakdowns, MEMO, "Breakdowns (JSON)", 100_000),
        Column(t, c.content_hash, STRING, "Content hash", 64),
    )


def _findings(tables: FinanceTables) -> tuple[Column, ...]:
    t, c = tables.reconciliation_table, tables.reconciliation
    return (
        Column(t, c.result_key, STRING, "Result key", 300),
        Column(t, c.settlement_id, STRING, "Amazon settlement id", ID),
        Column(t, c.order_id, STRING, "Amazon order id", ID),
        Column(t, c.reason, STRING, "Reason", 50),
        Column(t, c.category, STRING, "Category", 30),
        Column(t, c.expected, MONEY, "Expected amount"),
        Column(t, c.settled, MONEY, "Settled amount"),
        Column(t, c.difference, MONEY, "Difference"),
        Column(t, c.currency_code, STRING, "Currency code", 3),
        Column(t, c.detail, STRING, "Detail", 500),
    )


def _invoices(tables: FinanceTables) -> tuple[Column, ...]:
    invoice, line = tables.invoice, tables.invoice_line
    return (
        Column("invoice", invoice.settlement_id, STRING, "Amazon settlement id", ID),
        Column("invoice", invoice.order_id, STRING, "Amazon order id", ID),
        Column("invoicedetail", line.settlement_id, STRING, "Amazon settlement id", ID),
        Column("invoicedetail", line.order_id, STRING, "Amazon order id", ID),
        Column("invoicedetail", line.line_ref, STRING, "Amazon line reference", 200),
    )
