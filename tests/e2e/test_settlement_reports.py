"""The settlement_reports timer over sockets: Amazon's settlement reports become settlements, invoices of what
was settled and the reconciliation findings, which are the ledger's three deliberate mistakes and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.finance_ledger import Settlement
from sandbox.harness import Sandbox, SandboxOptions
from sandbox.settlement_report import settlement_lines
from shared.flows.settlements import DONE_KIND
from shared.state.store import StateUnavailable
from tests.finance_support import (
    FINDINGS,
    SETTLEMENTS,
    Settled,
    closed_settlements,
    expected_invoices,
    findings,
    invoices_by_key,
    ledger_of,
    publish_settlement,
    put_orders,
    rows_by,
    shipped_orders,
    the_three_mistakes,
    versions,
    write_requests,
)
from tests.sandbox_support import FAST_RETRY
from tests.sweep_support import expire_first_document_url

pytestmark = [pytest.mark.sockets, pytest.mark.slow]


@pytest.fixture
def settled(azurite) -> Iterator[Settled]:
    """24 orders in the CRM, their ledger (two refunds, the three mistakes), transactions synced, and the
    closed settlements' reports published (every other one gzip)."""
    with Sandbox(SandboxOptions(retry=FAST_RETRY), azurite=azurite) as sandbox:
        orders = shipped_orders(seed=31, count=24)
        put_orders(sandbox, orders)
        ledger = ledger_of(sandbox, refunds=2)
        sandbox.run_timer("finance_sync")
        settlements = closed_settlements(ledger)
        for index, settlement in enumerate(settlements):
            publish_settlement(sandbox, settlement, gzip=index % 2 == 0)
        yield Settled(sandbox, ledger, settlements, {order.order_id for order in orders})


def test_each_settlement_becomes_a_settlement_row_and_paid_invoices_of_what_was_settled(
    settled: Settled,
) -> None:
    """One settlement row per report (total, currency, period); one Paid invoice per settled CRM order, linked to
    its order and settlement, whose total is what the buyer paid; refunds appear as credit lines."""
    sandbox = settled.sandbox

    sandbox.run_timer("settlement_reports")

    rows = rows_by(sandbox, SETTLEMENTS, "new_amazonsettlementid")
    assert {sid: (row["new_totalamount"], row["new_currencycode"]) for sid, row in rows.items()} == {
        s.settlement_id: (s.total, s.currency) for s in settled.settlements
    }
    invoices = invoices_by_key(sandbox)
    expected = expected_invoices(settled)
    assert set(invoices) == set(expected)
    orders = rows_by(sandbox, "salesorders", "new_amazonorderid")
    for key, invoice in invoices.items():
        assert invoice["totalamount"] == expected[key], key
        assert (invoice["statecode"], invoice["statuscode"]) == (2, 100001)
        assert invoice["salesorderid"] == orders[key[1]]["salesorderid"]
        assert invoice["new_settlementid"] == rows[key[0]]["new_settlementid"]
    credit_lines = [line for line in sandbox.dataverse.records("invoicedetails") if line["quantity"] < 0]
    assert credit_lines
    assert all(line["new_amazonlineref"].startswith("refund") for line in credit_lines)
    assert len({line["new_amazonorderid"] for line in credit_lines}) == 2


def test_reconciliation_finds_the_three_deliberate_mistakes_and_nothing_else(
    settled: Settled, caplog
) -> None:
    """A fee the report pays differently than the transaction (the difference of its fees), an order settled
    twice, an order the CRM never had: three findings, counted in the log by reason."""
    caplog.set_level("INFO", logger="shared.flows.settlements")

    settled.sandbox.run_timer("settlement_reports")

    assert findings(settled.sandbox) == the_three_mistakes(settled.ledger)
    fee_row = next(
        row
        for row in settled.sandbox.dataverse.records(FINDINGS)
        if row["new_reason"] == "transactions_differ"
    )
    [difference] = settled.ledger.discrepancies.fee_differs.values()
    assert (fee_row["new_category"], fee_row["new_differenceamount"]) == (
        "fees",
        difference.settlement_amount - difference.transaction_amount,
    )
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "'missing_in_crm': 1" in logged
    assert "'settled_twice': 1" in logged


def test_processing_the_reports_again_changes_nothing(settled: Settled) -> None:
    """The second run lists the same reports, knows them done, and writes nothing."""
    sandbox = settled.sandbox
    sandbox.run_timer("settlement_reports")
    before, writes = versions(sandbox), write_requests(sandbox)

    sandbox.run_timer("settlement_reports")

    assert write_requests(sandbox) == writes
    assert versions(sandbox) == before
    assert sandbox.runtime().settlement_sync.totals["already_done"] == len(settled.settlements)


def test_a_crash_before_a_report_is_marked_done_is_repaired_without_doubles(
    settled: Settled, monkeypatch
) -> None:
    """The run dies as it records its first report done: the next run processes it again, skips its Paid
    invoices and its findings, and every invoice and finding exists once."""
    sandbox = settled.sandbox
    progress = sandbox.runtime().progress
    real_save = progress.save

    def crash_on_first_done(row):
        if row.kind == DONE_KIND:
            monkeypatch.setattr(progress, "save", real_save)
            raise StateUnavailable("Table Storage went away")
        return real_save(row)

    monkeypatch.setattr(progress, "save", crash_on_first_done)
    with pytest.raises(StateUnavailable):
        sandbox.run_timer("settlement_reports")
    first_invoices = {key: row["versionnumber"] for key, row in invoices_by_key(sandbox).items()}
    first_findings = {
        row["new_resultkey"]: row["versionnumber"] for row in sandbox.dataverse.records(FINDINGS)
    }
    assert first_invoices

    sandbox.run_timer("settlement_reports")

    assert set(invoices_by_key(sandbox)) == set(expected_invoices(settled))
    again = {key: row["versionnumber"] for key, row in invoices_by_key(sandbox).items()}
    assert {key: again[key] for key in first_invoices} == first_invoices
    findings_now = {row["new_resultkey"]: row["versionnumber"] for row in sandbox.dataverse.records(FINDINGS)}
    assert {key: findings_now[key] for key in first_findings} == first_findings
    assert findings(sandbox) == the_three_mistakes(settled.ledger)
    for settlement in settled.settlements:
        assert (
            len(
                [
                    row
                    for row in sandbox.dataverse.records(SETTLEMENTS)
                    if row["new_amazonsettlementid"] == settlement.settlement_id
                ]
            )
            == 1
        )


def test_an_expired_document_url_is_asked_for_again(settled: Settled) -> None:
    """The first document URL Amazon hands out has expired by the time it is used: a fresh one is fetched."""
    expire_first_document_url(settled.sandbox.spapi)

    settled.sandbox.run_timer("settlement_reports")

    assert set(rows_by(settled.sandbox, SETTLEMENTS, "new_amazonsettlementid")) == {
        s.settlement_id for s in settled.settlements
    }
    assert settled.sandbox.runtime().reports.downloads["url_refreshed"] == 1


def done_row(sandbox: Sandbox, report_id: str) -> dict[str, Any]:
    row = sandbox.runtime().progress.read(DONE_KIND, report_id)
    assert row is not None
    return dict(row.fields)


@pytest.fixture
def one_settlement(azurite) -> Iterator[tuple[Sandbox, Settlement]]:
    """A sandbox with 12 orders and their transactions synced, and its largest closed settlement (unpublished)."""
    with Sandbox(SandboxOptions(retry=FAST_RETRY), azurite=azurite) as sandbox:
        put_orders(sandbox, shipped_orders(seed=32, count=12))
        ledger = ledger_of(sandbox, discrepancies=False, refunds=0)
        sandbox.run_timer("finance_sync")
        yield sandbox, max(closed_settlements(ledger), key=lambda s: len(s.transactions))


def test_a_row_with_a_bad_amount_is_reported_by_line_and_the_rest_lands(
    one_settlement: tuple[Sandbox, Settlement],
) -> None:
    """Line 5 says "12.34.56": the report's other rows land (settlement, invoices), the problem names line 5."""
    sandbox, settlement = one_settlement
    lines = list(settlement_lines(settlement))
    cells = lines[4].split("\t")
    cells[14] = "12.34.56"
    lines[4] = "\t".join(cells)
    report_id = publish_settlement(sandbox, settlement, lines=lines)

    sandbox.run_timer("settlement_reports")

    record = done_row(sandbox, report_id)
    assert record["UnreadableRows"] == 1
    assert str(record["Problems"]).startswith("line 5: amount:")
    assert record["Rows"] == len(lines) - 3
    assert rows_by(sandbox, SETTLEMENTS, "new_amazonsettlementid")[settlement.settlement_id]
    settled_orders = {t.order_id for t in settlement.transactions if t.order_id}
    assert {row["new_amazonorderid"] for row in sandbox.dataverse.records("invoices")} == settled_orders


def test_a_truncated_document_lands_what_it_holds_and_says_where_it_ends(
    one_settlement: tuple[Sandbox, Settlement],
) -> None:
    """A document cut in the middle of its last row: every whole row lands; the cut row is reported by line,
    and the rows no longer add up to the summary's total (a settlement finding)."""
    sandbox, settlement = one_settlement
    lines = list(settlement_lines(settlement))
    lines[-1] = lines[-1][: len(lines[-1]) // 3]
    report_id = publish_settlement(sandbox, settlement, lines=lines, gzip=True)

    sandbox.run_timer("settlement_reports")

    record = done_row(sandbox, report_id)
    assert str(record["Problems"]).startswith(f"line {len(lines)}: row has")
    assert record["Rows"] == len(lines) - 3
    assert "settlement_total_differs" in {row["new_reason"] for row in sandbox.dataverse.records(FINDINGS)}


def set_currency_state(sandbox: Sandbox, code: str, statecode: int) -> None:
    """An administrator (de)activates a currency in Dataverse."""
    currency = next(
        c for c in sandbox.dataverse.records("transactioncurrencies") if c["isocurrencycode"] == code
    )
    url = f"{sandbox.dataverse.service_root}/transactioncurrencies({currency['transactioncurrencyid']})"
    response = requests.patch(url, json={"statecode": statecode, "statuscode": statecode + 1}, timeout=10)
    assert response.status_code == 204, response.text


def test_a_settlement_in_a_currency_dataverse_lacks_waits_until_it_is_set_up(settled: Settled) -> None:
    """Euro inactive in Dataverse: the German settlement waits (its row stays the stub the transactions made,
    no invoices) while the others land; once the euro is active again the next run fills it in."""
    sandbox = settled.sandbox
    euro = {s.settlement_id for s in settled.settlements if s.currency == "EUR"}
    assert euro
    set_currency_state(sandbox, "EUR", 1)

    sandbox.run_timer("settlement_reports")

    rows = rows_by(sandbox, SETTLEMENTS, "new_amazonsettlementid")
    landed = {sid for sid, row in rows.items() if row["new_totalamount"] is not None}
    assert landed == {s.settlement_id for s in settled.settlements} - euro
    assert not {key[0] for key in invoices_by_key(sandbox)} & euro
    assert sandbox.runtime().settlement_sync.totals["waiting"] == len(euro)
    set_currency_state(sandbox, "EUR", 0)

    sandbox.run_timer("settlement_reports")

    assert set(rows_by(sandbox, SETTLEMENTS, "new_amazonsettlementid")) == {
        s.settlement_id for s in settled.settlements
    }
    assert findings(sandbox) == the_three_mistakes(settled.ledger)


def test_a_document_that_is_no_settlement_report_is_recorded_as_failed_and_the_others_land(
    settled: Settled,
) -> None:
    """A report whose document has no settlement columns: done with its failure (never read again), the real
    settlements all land."""
    sandbox = settled.sandbox
    bogus = publish_settlement(sandbox, settled.settlements[0], lines=["order-id\tsku\n", "1\t2\n"])

    sandbox.run_timer("settlement_reports")

    record = done_row(sandbox, bogus)
    assert record["Failed"] == "SettlementReportInvalid"
    assert set(rows_by(sandbox, SETTLEMENTS, "new_amazonsettlementid")) == {
        s.settlement_id for s in settled.settlements
    }
