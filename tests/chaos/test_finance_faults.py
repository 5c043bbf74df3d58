"""The finance timers on a hostile network: 20% of SP-API and Dataverse calls fail (429, 503, dropped
connections, lost $batch answers) while they run; run after run they reach the same end state as without
faults: every transaction once, every invoice once and Paid, the three deliberate mistakes found."""

from __future__ import annotations

import pytest

from sandbox.harness import Sandbox, SandboxOptions
from sandbox.http_emulator import Fault, FaultPlan
from tests.finance_support import (
    TRANSACTIONS,
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
    visible_transactions,
)
from tests.sandbox_support import FAST_RETRY

pytestmark = [pytest.mark.sockets, pytest.mark.slow]

# Plans Amazon grants on request (time-scaled): getReports' published 0.0222/s would make a run that met a
# 429 wait 45 s for its next token.
RAISED_PLANS = {
    "listTransactions": (20.0, 20),
    "getReports": (20.0, 20),
    "getReportDocument": (20.0, 20),
}


def run_until_it_succeeds(sandbox: Sandbox, timer: str, attempts: int = 25) -> int:
    """Fire the timer again after every failed run, as its schedule would; returns the runs it took."""
    failures: list[str] = []
    for attempt in range(1, attempts + 1):
        try:
            sandbox.run_timer(timer)
        except Exception as exc:  # noqa: BLE001 - a failed run is logged by the host; the next one goes on
            failures.append(type(exc).__name__)
        else:
            return attempt
    raise AssertionError(f"{timer} did not succeed in {attempts} runs: {failures}")


def test_twenty_percent_of_calls_failing_reach_the_same_end_state(azurite) -> None:
    """Transactions, settlements, invoices and findings as without faults, each once; faults really happened."""
    options = SandboxOptions(retry=FAST_RETRY, spapi_rate_limits=RAISED_PLANS)
    with Sandbox(options, azurite=azurite) as sandbox:
        orders = shipped_orders(seed=41, count=18)
        put_orders(sandbox, orders)
        ledger = ledger_of(sandbox, refunds=2)
        settlements = closed_settlements(ledger)
        for index, settlement in enumerate(settlements):
            publish_settlement(sandbox, settlement, gzip=index % 2 == 1)
        runtime = sandbox.runtime()
        for operation, (rate, burst) in RAISED_PLANS.items():
            runtime.spapi.use_plan(operation, rate, burst)
        kinds = (Fault.THROTTLE, Fault.UNAVAILABLE, Fault.DROP, Fault.LOST_RESPONSE)
        sandbox.spapi.faults = FaultPlan(rate=0.2, kinds=kinds, seed=41)
        sandbox.dataverse.faults = FaultPlan(rate=0.2, kinds=kinds, seed=42, retry_after_seconds=0)

        run_until_it_succeeds(sandbox, "finance_sync")
        run_until_it_succeeds(sandbox, "settlement_reports")

        faults = {**sandbox.spapi.requests.faults(), **sandbox.dataverse.requests.faults()}
        sandbox.spapi.faults = FaultPlan()
        sandbox.dataverse.faults = FaultPlan()
        assert sum(faults.values()) > 0
        rows = rows_by(sandbox, TRANSACTIONS, "new_amazontransactionid")
        expected = visible_transactions(ledger)
        assert set(rows) == set(expected)
        assert all(rows[key]["new_totalamount"] == transaction.total for key, transaction in expected.items())
        settled = Settled(sandbox, ledger, settlements, {order.order_id for order in orders})
        invoices = invoices_by_key(sandbox)
        totals = expected_invoices(settled)
        assert {key: row["totalamount"] for key, row in invoices.items()} == totals
        assert all((row["statecode"], row["statuscode"]) == (2, 100001) for row in invoices.values())
        assert findings(sandbox) == the_three_mistakes(ledger)
