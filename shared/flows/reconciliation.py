"""Reconciliation of a step of settled orders: read what the CRM knows of them, then compare (mapping).

Four queries per step of up to 50 orders, whatever the findings: the sales orders, this settlement's invoices
(their states, so Paid ones are not written again), other settlements' invoice lines (what they paid before)
and the finance rows of this settlement (what Amazon's transactions say). The rules themselves are pure and
live in mapping/reconciliation.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.dataverse.finance import CrmFinance
from shared.mapping.reconciliation import reconcile_order
from shared.model.settlement import CrmOrderRef, ReconciliationResult, SettledOrder, SettlementSummary


@dataclass(frozen=True)
class CheckedStep:
    crm_orders: dict[str, CrmOrderRef]  # the settled orders the CRM has, by Amazon order id
    invoice_states: dict[str, int]  # statecode of this settlement's invoices, by order
    findings: list[ReconciliationResult]


class Reconciler:
    def __init__(self, crm: CrmFinance) -> None:
        self._crm = crm

    def check(self, summary: SettlementSummary, orders: Sequence[SettledOrder]) -> CheckedStep:
        settlement_id = summary.settlement_id
        ids = [order.order_id for order in orders]
        crm_orders = self._crm.orders(ids)
        states = self._crm.invoice_states(settlement_id, ids)
        earlier = self._crm.earlier_settlements(settlement_id, ids)
        transactions = self._crm.transaction_amounts(settlement_id, ids)
        findings = [
            finding
            for order in orders
            for finding in reconcile_order(
                summary,
                order,
                crm_orders.get(order.order_id),
                earlier=earlier.get(order.order_id, []),
                transactions=transactions.get(order.order_id),
            )
        ]
        return CheckedStep(crm_orders, states, findings)
