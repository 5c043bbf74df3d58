"""Settlement reports (the `settlement_reports` timer): each new V2 settlement report becomes, in Dynamics, a
settlement row, an invoice per settled order (marked Paid) and the reconciliation findings.

    list new reports -> per report, oldest first: download, read and fold the rows -> settlement row
      -> 50 orders at a time: read the CRM (orders, invoices, transactions) -> reconcile -> invoices + findings
      -> the settlement row's mismatch count -> mark the report done -> move the watermark

- Settlement reports cannot be requested: Amazon writes one per payout, and getReports lists them; the
  watermark is the newest creation time processed (listed again with an hour's overlap, since a report shows
  up in the list only once it is done). A report processed before is skipped by its done row: the same report
  twice changes nothing.
- A run that stops inside a report (time budget, an outage) leaves it undone; the next run reads it again and
  repairs: invoices already Paid and findings already written are skipped, everything else is an upsert.
- A report whose currency Dataverse does not have waits (logged as an error every run; the watermark stays
  before it) until the currency is set up; a document that is no settlement report at all is recorded as done
  with its failure (`Failed` in its done row) for an operator, since no later run would read it better.
- An order missing from the CRM gets no invoice (it would have no customer and no order to point at); it is a
  finding instead. Mismatches are logged as counts by reason, never with buyer data (the report has none, and
  order ids are Amazon's).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.amazon.reports import Report, ReportsApi
from shared.amazon.settlement_report import (
    SETTLEMENT_REPORT_TYPE,
    SettlementDocument,
    SettlementReportInvalid,
    read_settlement,
)
from shared.dataverse.catalog import CrmCatalog
from shared.dataverse.errors import AmbiguousWrite
from shared.dataverse.finance import CrmFinance
from shared.dataverse.record_batches import RecordBatches, StateChange, WriteUnit
from shared.errors import SyncError
from shared.flows.exchange_rates import RateKeeper
from shared.flows.reconciliation import Reconciler
from shared.flows.record_writes import write_units
from shared.mapping.finance_records import settlement_record
from shared.mapping.invoices import INVOICE_PAID, plan_invoice
from shared.mapping.reconciliation import reconcile_totals, result_record
from shared.mapping.salesorder import UnknownCurrency
from shared.mapping.settlement_fold import SettlementFold
from shared.model.finance_tables import FinanceTables
from shared.model.settlement import ReconciliationResult, SettledOrder, SettlementSummary
from shared.state.watermarks import ProgressRow, ProgressStore, Scalar
from shared.timeutil import utc_now

log = logging.getLogger(__name__)

WATERMARK_KIND, WATERMARK_NAME = "settlements", "reports"
DONE_KIND = "settlement-report"  # one row per report processed
LISTING_OVERLAP = timedelta(hours=1)
ORDERS_PER_STEP = 50  # orders read from the CRM and written together
OPEN_INVOICE_STATES = frozenset({0})  # Active; Paid, Canceled (and the deprecated Closed) are read-only
MAX_PROBLEMS_KEPT = 20


class _OutOfTime(Exception):
    pass


@dataclass
class SettlementOutcome:
    settlement_id: str
    rows: int
    problems: list[str]  # "line 57: amount: not an amount in the 1.234,56 format"
    findings: list[ReconciliationResult]
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class SettlementRunReport:
    counts: Counter[str] = field(default_factory=Counter)
    settlements: list[SettlementOutcome] = field(default_factory=list)
    complete: bool = True


class SettlementSync:
    def __init__(
        self,
        *,
        reports: ReportsApi,
        crm: CrmFinance,
        catalog: CrmCatalog,
        writer: RecordBatches,
        rates: RateKeeper,
        progress: ProgressStore,
        tables: FinanceTables,
        marketplace_ids: Sequence[str],
        first_lookback: timedelta,
        max_seconds: float = 240.0,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reports = reports
        self._crm = crm
        self._catalog = catalog
        self._writer = writer
        self._rates = rates
        self._progress = progress
        self._tables = tables
        self._marketplace_ids = tuple(marketplace_ids)
        self._first_lookback = first_lookback
        self._max_seconds = max_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._reconciler = Reconciler(crm)
        self.totals: Counter[str] = Counter()

    def run(self) -> SettlementRunReport:
        report = SettlementRunReport()
        deadline = self._monotonic() + self._max_seconds
        self._rates.prepare(update_dataverse=False)
        mark = self._progress.read(WATERMARK_KIND, WATERMARK_NAME) or ProgressRow(
            WATERMARK_KIND, WATERMARK_NAME
        )
        position = mark.fields.get("CreatedSince")
        if not isinstance(position, datetime):
            position = self._clock() - self._first_lookback
        listed = self._reports.get_reports(
            [SETTLEMENT_REPORT_TYPE],
            marketplace_ids=self._marketplace_ids,
            processing_statuses=("DONE",),
            created_since=position - LISTING_OVERLAP,
        )
        blocked = False  # a report left for later: the watermark must not pass it
        for found in sorted(
            (item for item in listed if item.document_id),
            key=lambda item: (item.created or position, item.report_id),
        ):
            if self._progress.read(DONE_KIND, found.report_id) is not None:
                report.counts["already_done"] += 1
            else:
                try:
                    outcome = self._process(found, deadline)
                except _OutOfTime:
                    report.complete = False
                    log.warning(
                        "settlement_reports: time budget spent in report %s; the next run goes on",
                        found.report_id,
                    )
                    break
                except UnknownCurrency as exc:
                    # Fixed by setting the currency up in Dataverse; until then the report waits (and so does
                    # the watermark), the other reports go on.
                    log.error("settlement_reports: report %s waits: %s", found.report_id, exc)
                    report.counts["waiting"] += 1
                    blocked = True
                    continue
                except SettlementReportInvalid as exc:
                    # No run will read it better: record it as done with its failure, for an operator.
                    log.error("settlement_reports: report %s unusable: %s", found.report_id, exc)
                    report.counts["unusable"] += 1
                    self._mark_failed(found, exc)
                else:
                    report.settlements.append(outcome)
                    report.counts.update(outcome.counts)
                    report.counts["reports"] += 1
                    self._mark_done(found, outcome)
            if not blocked and found.created is not None and found.created > position:
                position = found.created
                mark = self._progress.save(mark.with_fields(CreatedSince=position))
        self.totals.update(report.counts)
        return report

    # --- one report --------------------------------------------------------------------------------------
    def _process(self, found: Report, deadline: float) -> SettlementOutcome:
        assert found.document_id is not None
        fold = SettlementFold()
        with self._reports.open_document(found.document_id) as lines:
            document = read_settlement(lines)
            for row in document.rows():
                fold.add(row)
        summary = document.summary
        outcome = SettlementOutcome(summary.settlement_id, document.rows_read, _problems(document), [])
        currency_id = self._rates.currency_id(summary.currency)
        if currency_id is None:
            raise UnknownCurrency(
                f"currency {summary.currency} of settlement {summary.settlement_id} is not set up in Dataverse "
                f"(no transactioncurrency with isocurrencycode {summary.currency})"
            )
        self._write_settlement(summary, found, fold, currency_id, None, outcome, fold.order_count)
        written_findings = self._crm.reconciliation_keys(summary.settlement_id)
        order_count = fold.order_count
        for step in _steps(fold.settled_orders(), ORDERS_PER_STEP):
            if self._monotonic() > deadline:
                raise _OutOfTime()
            self._settle(summary, step, currency_id, written_findings, outcome)
        totals = reconcile_totals(summary, fold.total)
        outcome.findings += totals
        units = [
            self._finding_unit(finding, currency_id)
            for finding in totals
            if finding.key not in written_findings
        ]
        write_units(self._writer, units, outcome.counts, flow="settlement_reports")
        self._write_settlement(summary, found, fold, currency_id, len(outcome.findings), outcome, order_count)
        reasons = Counter(finding.reason.value for finding in outcome.findings)
        outcome.counts["mismatches"] = len(outcome.findings)
        log.info(
            "settlement_reports: settlement %s: %d rows (%d unreadable), %d orders, %d invoices written, "
            "%d already paid, %d mismatches %s",
            summary.settlement_id,
            outcome.rows,
            len(outcome.problems),
            order_count,
            outcome.counts["invoices_written"],
            outcome.counts["invoices_already_paid"],
            len(outcome.findings),
            dict(sorted(reasons.items())),
        )
        if outcome.problems:
            log.warning(
                "settlement_reports: settlement %s has %d unreadable rows, first: %s",
                summary.settlement_id,
                len(outcome.problems),
                "; ".join(outcome.problems[:3]),
            )
        return outcome

    def _settle(
        self,
        summary: SettlementSummary,
        orders: Sequence[SettledOrder],
        currency_id: str | None,
        written_findings: set[str],
        outcome: SettlementOutcome,
    ) -> None:
        """Reconcile a step of orders and write their invoices and findings."""
        ids = [order.order_id for order in orders]
        checked = self._reconciler.check(summary, orders)
        outcome.findings += checked.findings
        outcome.counts["orders_missing_in_crm"] += sum(
            1 for order_id in ids if order_id not in checked.crm_orders
        )
        skus = {line.sku for order in orders for line in order.lines if line.sku}
        products = self._catalog.lookups(currencies=(), price_lists=(), skus=skus).products
        findings = [
            self._finding_unit(finding, currency_id)
            for finding in checked.findings
            if finding.key not in written_findings
        ]
        for attempt in range(2):
            states = (
                checked.invoice_states
                if attempt == 0
                else self._crm.invoice_states(summary.settlement_id, ids)
            )
            invoices = []
            for order in orders:
                crm = checked.crm_orders.get(order.order_id)
                if crm is None:
                    continue
                if order.order_id in states and states[order.order_id] not in OPEN_INVOICE_STATES:
                    outcome.counts["invoices_already_paid"] += 1 if attempt == 0 else 0
                    continue
                plan = plan_invoice(
                    order, crm, summary, self._tables, products=products, currency_id=currency_id
                )
                invoices.append(
                    WriteUnit(
                        plan.records, f"invoice of order {order.order_id}", close=StateChange(*INVOICE_PAID)
                    )
                )
            try:
                landed = write_units(
                    self._writer, [*invoices, *findings], outcome.counts, flow="settlement_reports"
                )
            except AmbiguousWrite:
                if attempt == 1:
                    raise
                # Some invoices may have been written and closed: read their states, then send the rest again.
                log.warning(
                    "settlement_reports: $batch answer lost; re-reading %d invoices before retrying",
                    len(invoices),
                )
                continue
            outcome.counts["invoices_written"] += sum(landed[: len(invoices)])
            return

    def _finding_unit(self, finding: ReconciliationResult, currency_id: str | None) -> WriteUnit:
        record = result_record(finding, self._tables, currency_id=currency_id)
        return WriteUnit((record,), f"finding {finding.key}")

    def _write_settlement(
        self,
        summary: SettlementSummary,
        found: Report,
        fold: SettlementFold,
        currency_id: str | None,
        mismatches: int | None,
        outcome: SettlementOutcome,
        orders: int,
    ) -> None:
        record = settlement_record(
            summary,
            self._tables,
            report_id=found.report_id,
            orders=orders,
            rows=fold.rows,
            mismatches=mismatches,
            currency_id=currency_id,
            rate=self._rates.rate(summary.currency, summary.deposit_date or summary.end),
        )
        write_units(
            self._writer,
            [WriteUnit((record,), f"settlement {summary.settlement_id}")],
            outcome.counts,
            flow="settlement_reports",
        )

    def _mark_failed(self, found: Report, error: SyncError) -> None:
        fields: dict[str, Scalar] = {
            "Failed": error.reason,
            "Problems": str(error)[:4000],
            "ProcessedAt": self._clock(),
        }
        self._progress.save(ProgressRow(DONE_KIND, found.report_id, fields))

    def _mark_done(self, found: Report, outcome: SettlementOutcome) -> None:
        fields: dict[str, Scalar] = {
            "SettlementId": outcome.settlement_id,
            "Rows": outcome.rows,
            "UnreadableRows": len(outcome.problems),
            "Mismatches": len(outcome.findings),
            "FailedWrites": outcome.counts["failed"],
            "ProcessedAt": self._clock(),
        }
        if outcome.problems:
            fields["Problems"] = "; ".join(outcome.problems[:MAX_PROBLEMS_KEPT])[:4000]
        self._progress.save(ProgressRow(DONE_KIND, found.report_id, fields))


def _steps(orders: Iterator[SettledOrder], size: int) -> Iterator[list[SettledOrder]]:
    step: list[SettledOrder] = []
    for order in orders:
        step.append(order)
        if len(step) == size:
            yield step
            step = []
    if step:
        yield step


def _problems(document: SettlementDocument) -> list[str]:
    return [f"line {problem.line}: {problem.reason}" for problem in document.problems]
