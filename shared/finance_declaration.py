"""What Dataverse needs for Amazon's money side: custom tables, columns, lookups and alternate keys.

INTERIM HOME: this module moves, as it is, into the provisioning declarations (shared/provision/, one module
per feature) once that package lands; until then the sandbox provisions from it (sandbox/finance_tables.py).
Names come from shared/model/finance_tables.py, so what is created is what the mapping writes.

Tables (all user-owned; money columns bring Dataverse's `transactioncurrencyid`, `exchangerate` and `_base`
columns with them):
- `{prefix}financetransaction`: one row per Amazon transaction (key: Amazon's transaction id), lookups to its
  salesorder and settlement;
- `{prefix}settlement`: one row per settlement (key: Amazon's settlement id);
- `{prefix}reconciliation`: one row per reconciliation finding (key: settlement, order, reason, category);
and on the standard tables: the invoice's settlement and order id (its key) with a lookup to the settlement,
and the invoice line's settlement, order id and line reference (its key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.model.finance_tables import FinanceTables, RateColumns

ColumnKind = Literal["String", "Memo", "Money", "Decimal", "DateTime", "DateOnly", "Integer"]


@dataclass(frozen=True)
class ColumnSpec:
    name: str  # logical name (prefix included)
    label: str  # display name; the schema name is the prefix plus the label without spaces
    kind: ColumnKind
    max_length: int | None = None  # String, Memo
    precision: int | None = None  # Decimal


@dataclass(frozen=True)
class LookupSpec:
    name: str  # the lookup column's logical name (also its navigation property)
    label: str
    target: str  # logical name of the table it points at
    relationship: str  # the one-to-many relationship's schema name


@dataclass(frozen=True)
class KeySpec:
    name: str  # schema name
    columns: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    logical_name: str
    entity_set: str
    label: str
    plural_label: str
    primary_name: ColumnSpec | None  # set: a new custom table; None: columns added to an existing table
    columns: tuple[ColumnSpec, ...]
    lookups: tuple[LookupSpec, ...] = ()
    keys: tuple[KeySpec, ...] = ()

    @property
    def is_new(self) -> bool:
        return self.primary_name is not None


def schema_name(prefix: str, label: str) -> str:
    """`new_` + "Amazon Transaction Id" -> `new_AmazonTransactionId` (its lower case is the logical name)."""
    return prefix + "".join(word[:1].upper() + word[1:] for word in label.split())


def finance_declaration(prefix: str) -> tuple[TableSpec, ...]:
    tables = FinanceTables(prefix)
    return (
        _settlement(tables),
        _transaction(tables),
        _reconciliation(tables),
        _invoice(tables),
        _invoice_line(tables),
    )


def _text(name: str, label: str, length: int) -> ColumnSpec:
    return ColumnSpec(name, label, "String", max_length=length)


def _money(name: str, label: str) -> ColumnSpec:
    return ColumnSpec(name, label, "Money")


def _rate_columns(columns: RateColumns) -> tuple[ColumnSpec, ...]:
    return (
        ColumnSpec(columns.exchange_rate, "Exchange Rate", "Decimal", precision=10),
        ColumnSpec(columns.rate_date, "Rate Date", "DateOnly"),
        _text(columns.rate_source, "Rate Source", 40),
        _text(columns.base_currency_code, "Base Currency Code", 3),
        ColumnSpec(columns.base_total, "Base Total Amount", "Decimal", precision=2),
    )


def _settlement(tables: FinanceTables) -> TableSpec:
    c, p = tables.settlement, tables.prefix
    return TableSpec(
        tables.settlement_table,
        tables.settlements,
        "Amazon Settlement",
        "Amazon Settlements",
        _text(c.name, "Name", 200),
        (
            _text(c.settlement_id, "Amazon Settlement Id", 50),
            ColumnSpec(c.start, "Start Date", "DateTime"),
            ColumnSpec(c.end, "End Date", "DateTime"),
            ColumnSpec(c.deposit, "Deposit Date", "DateTime"),
            _money(c.total, "Total Amount"),
            _text(c.currency_code, "Currency Code", 3),
            _text(c.report_id, "Report Id", 100),
            ColumnSpec(c.order_count, "Order Count", "Integer"),
            ColumnSpec(c.row_count, "Row Count", "Integer"),
            ColumnSpec(c.mismatch_count, "Mismatch Count", "Integer"),
            *_rate_columns(c),
        ),
        keys=(KeySpec(f"{p}AmazonSettlementKey", (c.settlement_id,)),),
    )


def _transaction(tables: FinanceTables) -> TableSpec:
    c, p = tables.transaction, tables.prefix
    return TableSpec(
        tables.transaction_table,
        tables.transactions,
        "Amazon Transaction",
        "Amazon Transactions",
        _text(c.name, "Name", 200),
        (
            _text(c.transaction_id, "Amazon Transaction Id", 200),
            _text(c.transaction_type, "Transaction Type", 100),
            _text(c.status, "Transaction Status", 30),
            _text(c.description, "Description", 500),
            ColumnSpec(c.posted, "Posted Date", "DateTime"),
            _text(c.marketplace_id, "Amazon Marketplace Id", 20),
            _text(c.currency_code, "Currency Code", 3),
            _money(c.total, "Total Amount"),
            _money(c.principal, "Principal Amount"),
            _money(c.tax, "Tax Amount"),
            _money(c.shipping, "Shipping Amount"),
            _money(c.promotions, "Promotion Amount"),
            _money(c.fees, "Fee Amount"),
            _money(c.withheld_tax, "Withheld Tax Amount"),
            _money(c.other, "Other Amount"),
            _text(c.order_id, "Amazon Order Id", 100),
            _text(c.settlement_id, "Amazon Settlement Id", 50),
            _text(c.event_group_id, "Event Group Id", 200),
            _text(c.shipment_id, "Shipment Id", 100),
            _text(c.refund_id, "Refund Id", 100),
            _text(c.deferral_reason, "Deferral Reason", 100),
            ColumnSpec(c.maturity, "Maturity Date", "DateTime"),
            *_rate_columns(c),
            ColumnSpec(c.breakdowns, "Breakdowns", "Memo", max_length=100_000),
            _text(c.content_hash, "Content Hash", 64),
        ),
        lookups=(
            LookupSpec(c.salesorder, "Sales Order Id", "salesorder", f"{p}salesorder_financetransaction"),
            LookupSpec(
                c.settlement, "Settlement Id", tables.settlement_table, f"{p}settlement_financetransaction"
            ),
        ),
        keys=(KeySpec(f"{p}AmazonTransactionKey", (c.transaction_id,)),),
    )


def _reconciliation(tables: FinanceTables) -> TableSpec:
    c, p = tables.reconciliation, tables.prefix
    return TableSpec(
        tables.reconciliation_table,
        tables.reconciliations,
        "Amazon Reconciliation Result",
        "Amazon Reconciliation Results",
        _text(c.name, "Name", 200),
        (
            _text(c.result_key, "Result Key", 300),
            _text(c.settlement_id, "Amazon Settlement Id", 50),
            _text(c.order_id, "Amazon Order Id", 100),
            _text(c.reason, "Reason", 50),
            _text(c.category, "Category", 30),
            _money(c.expected, "Expected Amount"),
            _money(c.settled, "Settled Amount"),
            _money(c.difference, "Difference Amount"),
            _text(c.currency_code, "Currency Code", 3),
            _text(c.detail, "Detail", 500),
        ),
        lookups=(
            LookupSpec(c.salesorder, "Sales Order Id", "salesorder", f"{p}salesorder_reconciliation"),
            LookupSpec(
                c.settlement, "Settlement Id", tables.settlement_table, f"{p}settlement_reconciliation"
            ),
        ),
        keys=(KeySpec(f"{p}ReconciliationResultKey", (c.result_key,)),),
    )


def _invoice(tables: FinanceTables) -> TableSpec:
    c, p = tables.invoice, tables.prefix
    return TableSpec(
        "invoice",
        "invoices",
        "Invoice",
        "Invoices",
        None,
        (_text(c.settlement_id, "Amazon Settlement Id", 50), _text(c.order_id, "Amazon Order Id", 100)),
        lookups=(
            LookupSpec(c.settlement, "Settlement Id", tables.settlement_table, f"{p}settlement_invoice"),
        ),
        keys=(KeySpec(f"{p}AmazonSettlementInvoiceKey", (c.settlement_id, c.order_id)),),
    )


def _invoice_line(tables: FinanceTables) -> TableSpec:
    c, p = tables.invoice_line, tables.prefix
    return TableSpec(
        "invoicedetail",
        "invoicedetails",
        "Invoice Product",
        "Invoice Products",
        None,
        (
            _text(c.settlement_id, "Amazon Settlement Id", 50),
            _text(c.order_id, "Amazon Order Id", 100),
            _text(c.line_ref, "Amazon Line Ref", 200),
        ),
        keys=(KeySpec(f"{p}AmazonSettlementLineKey", (c.settlement_id, c.order_id, c.line_ref)),),
    )
