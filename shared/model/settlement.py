"""A settlement (one payout of Amazon to the seller) as the product means it, and what reconciling it finds.

The Amazon connector parses the V2 settlement flat file into a summary and rows (amazon/settlement_report.py);
the mapping folds the rows into one `SettledOrder` per order (mapping/settlement_fold.py), turns those into
invoices (mapping/invoices.py) and compares them with the CRM (mapping/reconciliation.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from shared.model.crm import Reference
from shared.model.money import AmountCategory, CategoryAmounts


@dataclass(frozen=True)
class SettlementSummary:
    """The report's first data row: the payout itself."""

    settlement_id: str
    start: datetime
    end: datetime
    deposit_date: datetime | None
    total: Decimal
    currency: str


class SettledKind(StrEnum):
    """What a group of settlement rows is, from the report's transaction-type."""

    SALE = "sale"  # "Order": the buyer paid for a shipment
    REFUND = "refund"  # "Refund": money given back
    OTHER = "other"  # adjustments, chargebacks, fees, reserves, ...


@dataclass(frozen=True, slots=True)
class SettlementRow:
    """One amount of the report. Only ids and amounts: the V2 flat file carries no buyer data."""

    line: int  # line number in the document, for error reports
    kind: SettledKind
    transaction_type: str  # the report's own word
    order_id: str | None
    group_id: str | None  # shipment-id of a sale, adjustment-id of a refund: one Amazon transaction
    posted: datetime | None
    amount_type: str
    amount_description: str
    amount: Decimal
    category: AmountCategory
    order_item_code: str | None
    sku: str | None
    quantity: int | None


@dataclass(frozen=True)
class RowProblem:
    """A row that could not be read: where it is and why, never its content."""

    line: int
    reason: str


@dataclass(frozen=True)
class SettledLine:
    """The amounts of one item in one Amazon transaction (a shipment or a refund): one invoice line."""

    kind: SettledKind
    group_id: str
    item_code: str
    sku: str | None
    quantity: int | None
    amounts: CategoryAmounts

    @property
    def ref(self) -> str:
        """The line's part of the invoice line key ("sale-<shipment>-<item>")."""
        return f"{self.kind.value}-{self.group_id}-{self.item_code}"


@dataclass(frozen=True)
class SettledOrder:
    """Everything one settlement says about one order."""

    order_id: str
    first_line: int
    lines: tuple[SettledLine, ...]
    amounts: CategoryAmounts  # every row of the order, all kinds
    sale_amounts: CategoryAmounts  # rows of its sales only: what the buyer paid, to compare with the order
    sale_groups: frozenset[str]  # shipment ids of its sales
    repeated_groups: frozenset[str] = (
        frozenset()
    )  # sale groups that appear as two transactions in this report


@dataclass(frozen=True)
class CrmOrderRef:
    """What a settlement needs of a CRM sales order."""

    order_id: str
    salesorder_id: str
    statecode: int
    total: Decimal | None
    currency_id: str | None
    customer: Reference | None
    price_list_id: str | None


@dataclass(frozen=True)
class EarlierSettlement:
    """What other settlements already paid for an order, read from their invoice lines."""

    settlement_id: str
    sale_groups: frozenset[str]
    sales_by_group: Mapping[str, Decimal] = field(default_factory=dict)


class ReconciliationReason(StrEnum):
    ORDER_TOTAL = "order_total_differs"  # the CRM order total is not what Amazon settled for it
    TRANSACTIONS = "transactions_differ"  # the report pays a different amount than the transactions say
    MISSING_IN_CRM = "missing_in_crm"  # settled, but the CRM has no such order
    SETTLED_TWICE = "settled_twice"  # the same shipment paid in two settlements (or twice in one)
    SETTLEMENT_TOTAL = "settlement_total_differs"  # the report's total is not the sum of its rows


@dataclass(frozen=True)
class ReconciliationResult:
    settlement_id: str
    order_id: str | None
    reason: ReconciliationReason
    currency: str
    expected: Decimal | None  # what the CRM (or the transactions, or the summary) says
    settled: Decimal | None  # what the settlement report says
    category: str | None = None  # the amount category that differs
    detail: str = ""  # ids and amounts only
    salesorder_id: str | None = None

    @property
    def key(self) -> str:
        parts = [self.settlement_id, self.order_id or "settlement", self.reason.value]
        if self.category:
            parts.append(self.category)
        return "-".join(parts)

    @property
    def difference(self) -> Decimal | None:
        if self.expected is None or self.settled is None:
            return None
        return self.settled - self.expected
