"""FinanceSync's own decisions over in-memory fakes: windows and the watermark, the time budget, rows Dataverse
refuses, transactions Amazon sends unreadable."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest

from shared.amazon.finances import FinancesApi
from shared.amazon.transaction_translation import AmazonTransactionInvalid
from shared.dataverse.errors import DataverseError
from shared.dataverse.finance import CrmFinance, UnlinkedTransaction
from shared.dataverse.record_batches import RecordBatches, WriteUnit
from shared.errors import SyncError
from shared.flows.exchange_rates import RateKeeper
from shared.flows.finance_sync import WATERMARK_KIND, WATERMARK_NAME, FinanceSync
from shared.mapping.salesorder import UnknownCurrency
from shared.model.finance import FinanceTransaction, TransactionStatus
from shared.model.finance_tables import FinanceTables
from shared.model.money import AmountCategory, CategoryAmounts
from shared.model.settlement import CrmOrderRef
from shared.state.watermarks import ProgressRow, ProgressStore

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def transaction(n: int, posted: datetime) -> FinanceTransaction:
    return FinanceTransaction(
        transaction_id=f"tx-{n}",
        transaction_type="Shipment",
        status=TransactionStatus.RELEASED,
        description="Order Payment",
        posted=posted,
        marketplace_id="ATVPDKIKX0DER",
        currency="USD",
        total=Decimal("10.00"),
        amounts=CategoryAmounts.of([(AmountCategory.PRINCIPAL, Decimal("10.00"))]),
        order_id=f"111-{n}",
    )


class FakeFinances:
    def __init__(self, items: list[FinanceTransaction | AmazonTransactionInvalid]) -> None:
        self.items = items
        self.ranges: list[tuple[datetime, datetime]] = []

    def list_transactions(
        self, *, posted_after: datetime, posted_before: datetime, status: Any = None
    ) -> Iterator[Any]:
        self.ranges.append((posted_after, posted_before))
        for item in self.items:
            if isinstance(item, AmazonTransactionInvalid) or posted_after <= item.posted < posted_before:
                yield item


class FakeCrm:
    def __init__(self) -> None:
        self.hashes: dict[str, str] = {}

    def transaction_hashes(self, ids: Iterable[str]) -> dict[str, str]:
        return {i: self.hashes[i] for i in ids if i in self.hashes}

    def orders(self, ids: Iterable[str]) -> dict[str, CrmOrderRef]:
        return {}

    def unlinked_transactions(self) -> list[UnlinkedTransaction]:
        return []

    def oldest_due_deferral(self, due_by: datetime) -> None:
        return None


class FakeWriter:
    def __init__(self, crm: FakeCrm, refuse: set[str] | None = None) -> None:
        self.crm = crm
        self.refuse = refuse or set()
        self.units: list[WriteUnit] = []

    def write(self, units: list[WriteUnit]) -> list[SyncError | None]:
        results: list[SyncError | None] = []
        for unit in units:
            self.units.append(unit)
            record = unit.records[0]
            key = next(iter(record.key.values()))
            if key in self.refuse:
                results.append(DataverseError("refused", status=400))
                continue
            if "new_contenthash" in record.fields:
                self.crm.hashes[key] = record.fields["new_contenthash"]
            results.append(None)
        return results


class FakeRates:
    def prepare(self, *, update_dataverse: bool = True) -> int:
        return 0

    def currency_id(self, code: str) -> str | None:
        return "usd-id"

    def rate(self, currency: str, posted: datetime) -> None:
        return None


class FakeProgress:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], ProgressRow] = {}

    def read(self, kind: str, name: str) -> ProgressRow | None:
        return self.rows.get((kind, name))

    def save(self, row: ProgressRow) -> ProgressRow:
        saved = replace(row, etag=str(len(self.rows) + 1))
        self.rows[(row.kind, row.name)] = saved
        return saved


class Clock:
    """A monotonic clock moving one second per reading: a run's time passes as it works."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def sync(
    finances: FakeFinances, crm: FakeCrm, writer: FakeWriter, progress: FakeProgress, **options: Any
) -> FinanceSync:
    return FinanceSync(
        finances=cast(FinancesApi, finances),
        crm=cast(CrmFinance, crm),
        writer=cast(RecordBatches, writer),
        rates=cast(RateKeeper, FakeRates()),
        progress=cast(ProgressStore, progress),
        tables=FinanceTables("new_"),
        first_lookback=options.pop("first_lookback", timedelta(days=10)),
        clock=lambda: NOW,
        **options,
    )


def test_the_watermark_moves_to_the_end_of_each_window_read_whole() -> None:
    """The first run starts a lookback ago and ends two minutes (and a few seconds) before now."""
    crm, progress = FakeCrm(), FakeProgress()
    finances = FakeFinances([transaction(n, NOW - timedelta(days=n)) for n in range(1, 6)])

    report = sync(finances, crm, FakeWriter(crm), progress).run()

    assert report.counts["written"] == 5
    mark = progress.rows[(WATERMARK_KIND, WATERMARK_NAME)].fields["Position"]
    assert isinstance(mark, datetime)
    assert timedelta(minutes=2) < NOW - mark < timedelta(minutes=3)
    assert finances.ranges[0][0] == NOW - timedelta(days=10) - timedelta(hours=48)


def test_a_window_the_time_budget_cannot_finish_is_halved_and_the_watermark_stays() -> None:
    """300 transactions at one batch a second against a 2-second budget: the run stops inside its window,
    the watermark stays where it was and the next run reads half the window at a time."""
    crm, progress = FakeCrm(), FakeProgress()
    finances = FakeFinances([transaction(n, NOW - timedelta(hours=n % 200 + 1)) for n in range(300)])

    report = sync(finances, crm, FakeWriter(crm), progress, max_seconds=2.0, monotonic=Clock()).run()

    assert not report.complete
    row = progress.rows[(WATERMARK_KIND, WATERMARK_NAME)]
    assert row.fields["Position"] == NOW - timedelta(days=10)
    assert row.fields["WindowHours"] == 90 * 24


def test_a_row_dataverse_refuses_is_counted_and_the_rest_lands() -> None:
    """One transaction refused for good (400): counted as failed, logged by id; the others are written."""
    crm, progress = FakeCrm(), FakeProgress()
    finances = FakeFinances([transaction(n, NOW - timedelta(days=1)) for n in range(3)])

    report = sync(finances, crm, FakeWriter(crm, refuse={"tx-1"}), progress).run()

    assert (report.counts["written"], report.counts["failed"]) == (2, 1)


def test_an_unreadable_transaction_is_counted_and_skipped() -> None:
    """Amazon sends one transaction we cannot read: it is counted, the page's others are written."""
    crm, progress = FakeCrm(), FakeProgress()
    broken = AmazonTransactionInvalid("no totalAmount", transaction_id="tx-bad")
    finances = FakeFinances([transaction(1, NOW - timedelta(days=1)), broken])

    report = sync(finances, crm, FakeWriter(crm), progress).run()

    assert (report.counts["written"], report.counts["unreadable"]) == (1, 1)


def test_unchanged_transactions_cost_no_write() -> None:
    """A second run over the same transactions finds every hash unchanged and sends nothing."""
    crm, progress = FakeCrm(), FakeProgress()
    finances = FakeFinances([transaction(n, NOW - timedelta(hours=n)) for n in range(1, 4)])
    writer = FakeWriter(crm)
    sync(finances, crm, writer, progress).run()
    sent = len(writer.units)

    report = sync(finances, crm, writer, progress).run()

    assert report.counts["unchanged"] == 3
    assert len(writer.units) == sent


class RatesWithoutYen(FakeRates):
    def currency_id(self, code: str) -> str | None:
        return None if code == "JPY" else "usd-id"


def test_a_transaction_in_a_currency_dataverse_lacks_waits_with_the_watermark() -> None:
    """Yen are not set up in Dataverse: the dollar transaction is written, the yen one is not, the run fails
    with UnknownCurrency and the watermark stays, so the yen land once the currency exists."""
    crm, progress = FakeCrm(), FakeProgress()
    yen = replace(transaction(2, NOW - timedelta(days=1)), currency="JPY")
    finances = FakeFinances([transaction(1, NOW - timedelta(days=1)), yen])
    flow = sync(finances, crm, FakeWriter(crm), progress)
    flow._rates = cast(RateKeeper, RatesWithoutYen())

    with pytest.raises(UnknownCurrency, match="JPY"):
        flow.run()

    assert set(crm.hashes) == {"tx-1"}
    assert (WATERMARK_KIND, WATERMARK_NAME) not in progress.rows
