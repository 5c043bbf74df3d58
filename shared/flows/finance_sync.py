"""Finance sync (the `finance_sync` timer): Amazon's financial transactions become rows in Dynamics.

    rates -> read the watermark -> list transactions window by window -> write what changed -> move the watermark
          -> deferred transactions that came due -> link rows whose order has arrived since

- Windows run from the watermark minus FINANCE_REREAD_HOURS (48: Amazon says transactions may appear that
  late) to two minutes ago, each at most 180 days (a longer range reads as empty). The watermark moves only
  after a window is read and written whole; a run that dies (or runs out of time) before that reads the window
  again next time. Nothing is written twice: every row carries the hash of what was written, and a transaction
  whose row has the same hash is skipped, so a re-read costs Amazon pages and one Dataverse query per 50 rows.
- A window that does not fit in one run's time budget is halved for the next run (and grows back afterwards),
  so a long catch-up makes progress even when Amazon's page tokens expire between runs.
- A DEFERRED transaction is released (DEFERRED_RELEASED) days or weeks after it was posted, beyond the
  re-read. Rows still DEFERRED whose maturity date has come are looked for with a status filter, from the
  oldest of them on; the status change updates the row.
- A transaction in a currency Dataverse does not have is not written (its amounts would read as the base
  currency): the run fails with UnknownCurrency after writing the window's others, the watermark stays, and the
  transaction lands once the currency is set up.
- A transaction whose order the CRM does not have yet keeps the Amazon order id and an empty lookup. Every run
  looks for such rows with one $filter query and links those whose order has arrived since (order sync stays
  unaware of finance).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.amazon.finances import MAX_RANGE, FinancesApi, latest_postable, windows
from shared.amazon.transaction_translation import AmazonTransactionInvalid
from shared.dataverse.finance import CrmFinance
from shared.dataverse.record_batches import RecordBatches, WriteUnit
from shared.flows.exchange_rates import RateKeeper
from shared.flows.record_writes import write_units
from shared.mapping.finance_records import TransactionRow, relink_record, transaction_row
from shared.mapping.salesorder import UnknownCurrency
from shared.model.finance import FinanceTransaction, TransactionStatus
from shared.model.finance_tables import FinanceTables
from shared.state.watermarks import ProgressRow, ProgressStore
from shared.timeutil import utc_now

log = logging.getLogger(__name__)

WATERMARK_KIND, WATERMARK_NAME = "finance", "transactions"
BATCH_SIZE = 100  # transactions planned and written together: one page of listTransactions
SHORTEST_WINDOW = timedelta(hours=1)


class _OutOfTime(Exception):
    """The run's time budget ended inside a window."""


@dataclass
class FinanceRunReport:
    counts: Counter[str] = field(default_factory=Counter)
    position: datetime | None = None  # the watermark after the run
    complete: bool = True  # False when the time budget ended the run early
    missing_currencies: set[str] = field(
        default_factory=set
    )  # of transactions not written: Dataverse lacks them


@dataclass
class _Watermark:
    row: ProgressRow
    position: datetime
    window: timedelta

    def moved(self, position: datetime, window: timedelta) -> ProgressRow:
        return self.row.with_fields(Position=position, WindowHours=window.total_seconds() / 3600)


class FinanceSync:
    def __init__(
        self,
        *,
        finances: FinancesApi,
        crm: CrmFinance,
        writer: RecordBatches,
        rates: RateKeeper,
        progress: ProgressStore,
        tables: FinanceTables,
        first_lookback: timedelta,
        reread: timedelta = timedelta(hours=48),
        max_seconds: float = 240.0,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._finances = finances
        self._crm = crm
        self._writer = writer
        self._rates = rates
        self._progress = progress
        self._tables = tables
        self._first_lookback = first_lookback
        self._reread = reread
        self._max_seconds = max_seconds
        self._clock = clock
        self._monotonic = monotonic
        self.totals: Counter[str] = Counter()  # since the process started: for the sandbox and benchmark

    def run(self) -> FinanceRunReport:
        report = FinanceRunReport()
        deadline = self._monotonic() + self._max_seconds
        now = self._clock()
        report.counts["rates_updated"] = self._rates.prepare()
        mark = self._watermark(now)
        latest = latest_postable(now)
        start = min(mark.position - self._reread, latest)
        window = mark.window
        try:
            for after, before in windows(start, latest, longest=window):
                self._sync_range(after, before, None, report, deadline)
                report.counts["windows"] += 1
                self._require_currencies(report)
                if before > mark.position:
                    window = min(window * 2, MAX_RANGE)
                    mark = _Watermark(self._progress.save(mark.moved(before, window)), before, window)
            self._recheck_deferred(now, start, report, deadline)
        except _OutOfTime:
            report.complete = False
            shorter = max(window / 2, SHORTEST_WINDOW)
            mark = _Watermark(self._progress.save(mark.moved(mark.position, shorter)), mark.position, shorter)
            log.warning(
                "finance_sync: time budget spent inside a window; the next run reads %s at a time", shorter
            )
        report.counts["linked"] += self._relink()
        report.position = mark.position
        self.totals.update(report.counts)
        counts = report.counts
        log.info(
            "finance_sync: %d transactions listed, %d written, %d unchanged, %d unreadable, %d failed, %d linked "
            "to their order; %d currency rates updated; watermark %s",
            counts["listed"],
            counts["written"],
            counts["unchanged"],
            counts["unreadable"],
            counts["failed"],
            counts["linked"],
            counts["rates_updated"],
            mark.position.isoformat(),
        )
        return report

    # --- windows -------------------------------------------------------------------------------------------
    def _watermark(self, now: datetime) -> _Watermark:
        row = self._progress.read(WATERMARK_KIND, WATERMARK_NAME)
        if row is None or not isinstance(row.fields.get("Position"), datetime):
            return _Watermark(
                row or ProgressRow(WATERMARK_KIND, WATERMARK_NAME), now - self._first_lookback, MAX_RANGE
            )
        position = row.fields["Position"]
        assert isinstance(position, datetime)
        hours = row.fields.get("WindowHours")
        window = timedelta(hours=float(hours)) if isinstance(hours, int | float) and hours > 0 else MAX_RANGE
        return _Watermark(row, position, window)

    def _recheck_deferred(
        self, now: datetime, reread_start: datetime, report: FinanceRunReport, deadline: float
    ) -> None:
        """Deferred rows older than the re-read whose maturity came: read their range for releases."""
        oldest = self._crm.oldest_due_deferral(now)
        if oldest is None or oldest >= reread_start:
            return
        for after, before in windows(oldest, reread_start):
            self._sync_range(after, before, TransactionStatus.DEFERRED_RELEASED, report, deadline)
            report.counts["deferred_windows"] += 1

    def _sync_range(
        self,
        after: datetime,
        before: datetime,
        status: TransactionStatus | None,
        report: FinanceRunReport,
        deadline: float,
    ) -> None:
        batch: dict[str, FinanceTransaction] = {}
        for item in self._finances.list_transactions(posted_after=after, posted_before=before, status=status):
            if isinstance(item, AmazonTransactionInvalid):
                report.counts["unreadable"] += 1
                log.warning("finance_sync: transaction %s unreadable: %s", item.transaction_id or "?", item)
                continue
            report.counts["listed"] += 1
            batch[item.transaction_id] = item
            if len(batch) >= BATCH_SIZE:
                self._write(list(batch.values()), report)
                batch.clear()
                if self._monotonic() > deadline:
                    raise _OutOfTime()
        if batch:
            self._write(list(batch.values()), report)

    # --- writing -------------------------------------------------------------------------------------------
    def _write(self, transactions: Sequence[FinanceTransaction], report: FinanceRunReport) -> None:
        existing = self._crm.transaction_hashes(t.transaction_id for t in transactions)
        orders = self._crm.orders(t.order_id for t in transactions if t.order_id)
        rows: list[TransactionRow] = []
        for transaction in transactions:
            currency_id = self._rates.currency_id(transaction.currency)
            if currency_id is None:
                # Money columns without their currency would read as the base currency: wait for it instead.
                report.missing_currencies.add(transaction.currency)
                continue
            order = orders.get(transaction.order_id or "")
            row = transaction_row(
                transaction,
                self._tables,
                currency_id=currency_id,
                salesorder_id=order.salesorder_id if order else None,
                rate=self._rates.rate(transaction.currency, transaction.posted),
            )
            if existing.get(transaction.transaction_id) == row.content_hash:
                report.counts["unchanged"] += 1
            else:
                rows.append(row)
        if not rows:
            return
        # The settlements they point at first: a lookup bound by key needs its row to exist.
        settlements = {row.settlement.identity: row.settlement for row in rows if row.settlement is not None}
        units = [
            WriteUnit((record,), f"settlement row {dict(record.key)}") for record in settlements.values()
        ]
        units += [WriteUnit((row.record,), f"transaction {dict(row.record.key)}") for row in rows]
        landed = write_units(self._writer, units, report.counts, flow="finance_sync")
        report.counts["written"] += sum(landed[len(settlements) :])

    def _require_currencies(self, report: FinanceRunReport) -> None:
        """A window with transactions in a currency Dataverse lacks is not done: the watermark stays, so they
        are written once the currency is set up (the others of the window are skipped as unchanged then)."""
        if report.missing_currencies:
            codes = ", ".join(sorted(report.missing_currencies))
            raise UnknownCurrency(
                f"transactions in {codes} wait: set up a transactioncurrency with that isocurrencycode in Dataverse"
            )

    def _relink(self) -> int:
        unlinked = self._crm.unlinked_transactions()
        if not unlinked:
            return 0
        orders = self._crm.orders(row.order_id for row in unlinked)
        units = [
            WriteUnit(
                (relink_record(self._tables, row.transaction_id, orders[row.order_id].salesorder_id),),
                f"link of transaction {row.transaction_id}",
            )
            for row in unlinked
            if row.order_id in orders
        ]
        return sum(write_units(self._writer, units, Counter(), flow="finance_sync"))
