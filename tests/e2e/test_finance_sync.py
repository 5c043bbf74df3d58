"""The finance_sync timer over sockets (Azurite, the SP-API and Dataverse emulators, the ECB stand-in):
Amazon's transactions become rows in Dynamics, exactly once, linked to their orders and settlements."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from sandbox.ecb_rates import rate_on
from sandbox.harness import Sandbox, SandboxOptions
from shared.flows.finance_sync import WATERMARK_KIND, WATERMARK_NAME
from shared.state.store import StateUnavailable
from tests.finance_support import (
    TRANSACTIONS,
    ledger_of,
    put_orders,
    rows_by,
    shipped_orders,
    versions,
    visible_transactions,
    write_requests,
)
from tests.sandbox_support import FAST_RETRY

pytestmark = [pytest.mark.sockets, pytest.mark.slow]


def sandbox_with(azurite, **settings: str) -> Sandbox:
    return Sandbox(SandboxOptions(retry=FAST_RETRY, settings=settings), azurite=azurite)


@pytest.fixture
def sandbox(azurite) -> Iterator[Sandbox]:
    with sandbox_with(azurite) as running:
        yield running


def test_transactions_become_rows_linked_to_their_orders_and_settlements(sandbox: Sandbox) -> None:
    """Every transaction is one row; those of orders in the CRM point at them, released ones at their settlement."""
    orders = shipped_orders(seed=21, count=12)
    put_orders(sandbox, orders)
    ledger = ledger_of(sandbox)

    sandbox.run_timer("finance_sync")

    rows = rows_by(sandbox, TRANSACTIONS, "new_amazontransactionid")
    expected = visible_transactions(ledger)
    assert set(rows) == set(expected)
    in_crm = {order.order_id for order in orders}
    for transaction_id, transaction in expected.items():
        row = rows[transaction_id]
        assert (row["new_transactiontype"], row["new_transactionstatus"]) == (
            transaction.transaction_type,
            transaction.status,
        )
        assert row["new_totalamount"] == transaction.total
        assert (row["new_salesorderid"] is not None) == (transaction.order_id in in_crm)
        assert (row["new_settlementid"] is not None) == (transaction.settlement_id is not None)
        categories = ("principal", "tax", "shipping", "promotion", "fee", "withheldtax", "other")
        assert sum(row[f"new_{name}amount"] for name in categories) == row["new_totalamount"]


def test_rows_carry_the_rate_of_their_posting_day_and_dataverse_gets_todays(sandbox: Sandbox) -> None:
    """A EUR row's base value uses its posting day's ECB cross rate; Dataverse's EUR rate becomes the latest day's."""
    put_orders(sandbox, shipped_orders(seed=22, count=6))
    ledger = ledger_of(sandbox, discrepancies=False)

    sandbox.run_timer("finance_sync")

    euro_rows = [row for row in sandbox.dataverse.records(TRANSACTIONS) if row["new_currencycode"] == "EUR"]
    assert euro_rows
    for row in euro_rows:
        posted = datetime.fromisoformat(row["new_posteddate"].replace("Z", "+00:00")).date()
        day = date.fromisoformat(row["new_ratedate"][:10])
        assert day <= posted
        assert day.weekday() < 5
        expected = (Decimal(1) / rate_on("USD", day)).quantize(Decimal("1e-10"))
        assert (row["new_exchangerate"], row["new_ratesource"], row["new_basecurrencycode"]) == (
            expected,
            "ecb",
            "USD",
        )
        assert row["new_basetotalamount"] == (row["new_totalamount"] / expected).quantize(Decimal("0.01"))
    euro = next(
        c for c in sandbox.dataverse.records("transactioncurrencies") if c["isocurrencycode"] == "EUR"
    )
    latest = max(
        d for d in (datetime.now(UTC).date() - timedelta(days=n) for n in range(7)) if d.weekday() < 5
    )
    assert euro["exchangerate"] == (Decimal(1) / rate_on("USD", latest)).quantize(Decimal("1e-10"))
    assert ledger.transactions


def test_a_second_run_over_the_same_window_writes_nothing(azurite) -> None:
    """Re-reading every transaction (a 30-day re-read) finds them unchanged: no write request, no row touched."""
    with sandbox_with(azurite, FINANCE_REREAD_HOURS="720") as sandbox:
        put_orders(sandbox, shipped_orders(seed=23, count=9, days_ago=20))
        ledger_of(sandbox)
        sandbox.run_timer("finance_sync")
        before, writes = versions(sandbox), write_requests(sandbox)

        sandbox.run_timer("finance_sync")

        assert sandbox.runtime().finance_sync.totals["unchanged"] >= 9
        assert write_requests(sandbox) == writes
        assert versions(sandbox) == before


def test_a_crash_between_writing_and_moving_the_watermark_is_repaired_without_doubles(
    azurite, monkeypatch
) -> None:
    """The run dies as it saves its watermark: the next run reads the window again, writes nothing twice, moves on."""
    with sandbox_with(azurite, FINANCE_FIRST_LOOKBACK_DAYS="45") as sandbox:
        put_orders(sandbox, shipped_orders(seed=24, count=9))
        ledger = ledger_of(sandbox)
        progress = sandbox.runtime().progress
        real_save = progress.save

        def crash_once(row):
            monkeypatch.setattr(progress, "save", real_save)
            raise StateUnavailable("Table Storage went away")

        monkeypatch.setattr(progress, "save", crash_once)
        with pytest.raises(StateUnavailable):
            sandbox.run_timer("finance_sync")
        assert set(rows_by(sandbox, TRANSACTIONS, "new_amazontransactionid")) == set(
            visible_transactions(ledger)
        )
        assert progress.read(WATERMARK_KIND, WATERMARK_NAME) is None
        written = versions(sandbox)

        sandbox.run_timer("finance_sync")

        assert set(rows_by(sandbox, TRANSACTIONS, "new_amazontransactionid")) == set(
            visible_transactions(ledger)
        )
        assert versions(sandbox) == written
        assert progress.read(WATERMARK_KIND, WATERMARK_NAME) is not None


def test_a_late_transaction_is_picked_up_by_the_48_hour_re_read(sandbox: Sandbox) -> None:
    """Posted 40 hours ago but listed by Amazon only now: the next run, whose watermark is past it, still finds it."""
    orders = shipped_orders(seed=25, count=6)
    put_orders(sandbox, orders)
    ledger_of(sandbox, discrepancies=False)
    sandbox.run_timer("finance_sync")
    late = sandbox.spapi.finances.add_late_transaction(orders[0].to_api(), posted_ago=timedelta(hours=40))
    real_clock = sandbox.spapi.ctx.clock
    sandbox.spapi.ctx.clock = lambda: real_clock() + timedelta(minutes=3)  # Amazon lists it two minutes on

    sandbox.run_timer("finance_sync")

    row = rows_by(sandbox, TRANSACTIONS, "new_amazontransactionid")[late.transaction_id]
    assert row["new_amazonorderid"] == orders[0].order_id
    assert row["new_salesorderid"] is not None


def test_a_transaction_before_its_order_is_linked_when_the_order_arrives(sandbox: Sandbox) -> None:
    """The CRM lacks the order: the row keeps Amazon's order id, no link; once order sync writes it, the next
    run links the row (one $filter query finds the unlinked rows)."""
    orders = shipped_orders(seed=26, count=6)
    late_order = orders[-1]
    put_orders(sandbox, orders[:-1])
    put_orders(sandbox, [late_order], into_crm=False)
    ledger = ledger_of(sandbox, discrepancies=False)
    sandbox.run_timer("finance_sync")
    [shipment] = [
        t
        for t in ledger.transactions
        if t.order_id == late_order.order_id and t.transaction_type == "Shipment"
    ]
    row = rows_by(sandbox, TRANSACTIONS, "new_amazontransactionid")[shipment.transaction_id]
    assert (row["new_amazonorderid"], row["new_salesorderid"]) == (late_order.order_id, None)

    put_orders(sandbox, [late_order])
    sandbox.run_timer("finance_sync")

    order = sandbox.dataverse.get_by_key("salesorders", new_amazonorderid=late_order.order_id)
    assert order is not None
    row = rows_by(sandbox, TRANSACTIONS, "new_amazontransactionid")[shipment.transaction_id]
    assert row["new_salesorderid"] == order["salesorderid"]
    assert sandbox.runtime().finance_sync.totals["linked"] >= 1


def test_a_deferred_transaction_released_weeks_later_updates_its_row(sandbox: Sandbox) -> None:
    """DEFERRED, posted weeks before the re-read window; Amazon releases it: the row becomes DEFERRED_RELEASED
    with its settlement."""
    put_orders(sandbox, shipped_orders(seed=27, count=12))
    ledger = ledger_of(sandbox, discrepancies=False, deferred_share=0.5)
    deferred = next(t for t in ledger.transactions if t.status == "DEFERRED")
    sandbox.run_timer("finance_sync")
    assert (
        rows_by(sandbox, TRANSACTIONS, "new_amazontransactionid")[deferred.transaction_id][
            "new_transactionstatus"
        ]
        == "DEFERRED"
    )

    released = sandbox.spapi.finances.release(deferred.transaction_id)
    sandbox.run_timer("finance_sync")

    row = rows_by(sandbox, TRANSACTIONS, "new_amazontransactionid")[deferred.transaction_id]
    assert row["new_transactionstatus"] == "DEFERRED_RELEASED"
    assert row["new_amazonsettlementid"] == released.settlement_id
    assert row["new_settlementid"] is not None
