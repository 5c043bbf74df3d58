"""Helpers for the finance and settlement tests: shipped orders in the CRM, their ledger at Amazon, settlement
reports published, and what the CRM holds afterwards (rows, versions, write requests)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.amazon_samples import OrderFactory, SampleOrder, order_change_notification
from sandbox.finance_ledger import FinanceLedger, Settlement
from sandbox.harness import Sandbox
from sandbox.settlement_report import settlement_lines
from sandbox.spapi_emulator.reports import SETTLEMENT_V2

US, UK, DE = "ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9"
TRANSACTIONS, SETTLEMENTS, FINDINGS = "new_financetransactions", "new_settlements", "new_reconciliations"
WRITE_PREFIXES = ("batch", "update:", "create:", "delete:", "action:")
CRM_TABLES = (TRANSACTIONS, SETTLEMENTS, FINDINGS, "invoices", "invoicedetails", "transactioncurrencies")
SALES_TYPES = ("ItemPrice", "Promotion")  # what the buyer paid: the invoice's part of a settlement


@dataclass
class Settled:
    """A sandbox whose orders are in the CRM, with their ledger and the published closed settlements."""

    sandbox: Sandbox
    ledger: FinanceLedger
    settlements: list[Settlement]
    in_crm: set[str]


def shipped_orders(seed: int, count: int, *, days_ago: float = 40) -> list[SampleOrder]:
    """Orders shipped weeks ago in the US, the UK and Germany (the marketplaces the sandbox's CRM has currencies of)."""
    factory = OrderFactory(seed=seed, start=datetime.now(UTC) - timedelta(days=days_ago))
    marketplaces = (US, UK, DE)
    return [factory.order(status="SHIPPED", marketplace_id=marketplaces[n % 3]) for n in range(count)]


def put_orders(sandbox: Sandbox, orders: Iterable[SampleOrder], *, into_crm: bool = True) -> None:
    """Amazon has the orders; with `into_crm` their ORDER_CHANGE notifications are delivered too."""
    for order in orders:
        sandbox.spapi.put_order(order.to_api())
        if into_crm:
            sandbox.publish(order_change_notification(order))
    if into_crm:
        sandbox.deliver()


def ledger_of(sandbox: Sandbox, *, seed: int = 3, **options: Any) -> FinanceLedger:
    """Amazon's money side of the emulator's orders, with the three deliberate mistakes."""
    options.setdefault("discrepancies", True)
    return sandbox.spapi.finances.ledger_from_orders(seed=seed, **options)


def closed_settlements(ledger: FinanceLedger) -> list[Settlement]:
    now = datetime.now(UTC)
    return [settlement for settlement in ledger.settlements() if settlement.end <= now]


def publish_settlement(
    sandbox: Sandbox, settlement: Settlement, *, gzip: bool = False, lines: list[str] | None = None
) -> str:
    """A settlement report as Amazon publishes it after the period (gzip-compressed or plain)."""
    return sandbox.spapi.reports.add_report_lines(
        SETTLEMENT_V2,
        lines if lines is not None else settlement_lines(settlement),
        marketplace_ids=[settlement.marketplace_id],
        data_start=settlement.start,
        data_end=settlement.end,
        created=datetime.now(UTC) - timedelta(minutes=5),
        compress=gzip,
    )


def write_requests(sandbox: Sandbox) -> int:
    """Dataverse requests that can change something ($batch, PATCH, POST, DELETE, actions)."""
    counts = sandbox.dataverse.requests.snapshot()
    return sum(count for name, count in counts.items() if name.startswith(WRITE_PREFIXES))


def versions(sandbox: Sandbox) -> dict[tuple[str, str], int]:
    """The version of every row the finance timers write: unchanged versions mean nothing was written."""
    found = {}
    for entity_set in CRM_TABLES:
        key = sandbox.dataverse.tables[entity_set].primary_id
        for row in sandbox.dataverse.records(entity_set):
            found[(entity_set, row[key])] = row["versionnumber"]
    return found


def rows_by(sandbox: Sandbox, entity_set: str, column: str) -> dict[str, dict[str, Any]]:
    """Rows of `entity_set` by `column`; a value seen twice fails the test (written twice)."""
    found: dict[str, dict[str, Any]] = {}
    for row in sandbox.dataverse.records(entity_set):
        assert row[column] not in found, f"{entity_set} has {row[column]} twice"
        found[row[column]] = row
    return found


def visible_transactions(ledger: FinanceLedger) -> dict[str, Any]:
    cutoff = datetime.now(UTC) - timedelta(minutes=3)
    return {t.transaction_id: t for t in ledger.transactions if t.visible_from <= cutoff}


def expected_invoices(settled: Settled) -> dict[tuple[str, str], Decimal]:
    """(settlement id, order id) -> what the buyer paid (or got back) for the order in that settlement."""
    totals: dict[tuple[str, str], Decimal] = {}
    for settlement in settled.settlements:
        for transaction in settlement.transactions:
            if transaction.order_id not in settled.in_crm:
                continue
            key = (settlement.settlement_id, transaction.order_id)
            paid = sum((c.amount for c in transaction.charges if c.amount_type in SALES_TYPES), Decimal("0"))
            totals[key] = totals.get(key, Decimal("0")) + paid
    return totals


def invoices_by_key(sandbox: Sandbox) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in sandbox.dataverse.records("invoices"):
        key = (row["new_amazonsettlementid"], row["new_amazonorderid"])
        assert key not in found, f"invoice {key} written twice"
        found[key] = row
    return found


def findings(sandbox: Sandbox) -> set[tuple[str | None, str]]:
    return {(row["new_amazonorderid"], row["new_reason"]) for row in sandbox.dataverse.records(FINDINGS)}


def the_three_mistakes(ledger: FinanceLedger) -> set[tuple[str | None, str]]:
    mistakes = ledger.discrepancies
    return {
        *((order_id, "transactions_differ") for order_id in mistakes.fee_differs),
        *((order_id, "settled_twice") for order_id in mistakes.settled_twice),
        *((order_id, "missing_in_crm") for order_id in mistakes.unknown_orders),
    }
