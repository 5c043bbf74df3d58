"""A financial transaction as the product means it: one movement of money Amazon posted for the seller.

The Amazon connector translates Finances API 2024-06-19 transactions into this (amazon/transaction_
translation.py); the mapping turns it into a Dataverse row (mapping/finance_records.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from shared.model.money import CategoryAmounts


class TransactionStatus(StrEnum):
    DEFERRED = "DEFERRED"  # held back (invoiced business orders, delivery-date policy): in no payout yet
    RELEASED = "RELEASED"
    DEFERRED_RELEASED = "DEFERRED_RELEASED"  # was deferred, now released into a settlement


@dataclass(frozen=True)
class BreakdownLeaf:
    """One leaf of Amazon's breakdown tree, kept whole for the audit trail ("Expenses/AmazonFees/Commission")."""

    path: str
    amount: Decimal


@dataclass(frozen=True)
class FinanceTransaction:
    transaction_id: str
    transaction_type: str  # Amazon's word: Shipment, Refund, ServiceFee, ...
    status: TransactionStatus
    description: str | None  # "Order Payment", "Refund Order", ...
    posted: datetime
    marketplace_id: str | None
    currency: str
    total: Decimal
    amounts: CategoryAmounts  # the breakdowns by category; they add up to `total`
    leaves: tuple[BreakdownLeaf, ...] = ()
    order_id: str | None = None
    settlement_id: str | None = None
    event_group_id: str | None = None
    shipment_id: str | None = None
    refund_id: str | None = None
    deferral_reason: str | None = None
    maturity: datetime | None = None  # when a deferred transaction is due to be released
