"""Settlement benchmark: one settlement report of N rows (100,000 by default) through the settlement_reports flow.

`python -m tests.bench.settlements [rows]`. The benchmark process runs Azurite, the SP-API emulator (serving the
report as a gzip document) and the Dataverse emulator (the CRM holds every settled order). The flow runs in a
child process, as a function host would run it, so its peak RSS is the product's alone, not the emulators':
first the document alone (download, streamed read, fold per order), then the whole timer run (the CRM read in
steps of 50 orders, invoices written in $batch requests of 100 change sets).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.azurite import Azurite
from sandbox.dataverse_seed import CURRENCY_IDS, PRICE_LIST_ID
from sandbox.harness import Sandbox, SandboxOptions
from sandbox.settlement_report import synthetic_settlement_lines
from sandbox.spapi_emulator.reports import SETTLEMENT_V2

US = "ATVPDKIKX0DER"
START = datetime(2025, 3, 3, tzinfo=UTC)
ACCOUNT_ID = "7d0c7c3a-3f1e-4f5a-9a77-5b0e7f1d2c10"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--worker"]:
        _worker()
        return
    rows = int(args[0]) if args else 100_000
    with Azurite() as azurite, Sandbox(SandboxOptions(), azurite=azurite) as sandbox:
        orders = _seed_crm(sandbox, rows)
        sandbox.spapi.reports.add_report_lines(
            SETTLEMENT_V2,
            synthetic_settlement_lines(rows, start=START),
            marketplace_ids=[US],
            data_start=START,
            data_end=START + timedelta(days=14),
            created=datetime.now(UTC) - timedelta(minutes=5),
            compress=True,
        )
        before = sandbox.dataverse.requests.snapshot()
        environment = {**os.environ, "FINANCE_SYNC_MAX_SECONDS": "540"}
        child = subprocess.run(
            [sys.executable, "-m", "tests.bench.settlements", "--worker"],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            raise SystemExit(f"the worker failed:\n{child.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
        after = sandbox.dataverse.requests.snapshot()
    requests = {
        name: after.get(name, 0) - before.get(name, 0)
        for name in after
        if after.get(name, 0) != before.get(name, 0)
    }
    _print(rows, orders, figures, requests)


def _seed_crm(sandbox: Sandbox, rows: int) -> int:
    """Every order the report settles, as a sales order in the CRM (imported directly, not through order sync)."""
    sandbox.dataverse.seed("accounts", {"accountid": ACCOUNT_ID, "name": "Amazon customers (Amazon.com)"})
    order_ids: dict[str, None] = {}
    for line in synthetic_settlement_lines(rows, start=START):
        cells = line.split("\t")
        if len(cells) > 7 and cells[6] == "Order":
            order_ids[cells[7]] = None
    sandbox.dataverse.seed(
        "salesorders",
        *(
            {
                "name": f"Amazon {order_id}",
                "new_amazonorderid": order_id,
                "customerid_account@odata.bind": f"/accounts({ACCOUNT_ID})",
                "transactioncurrencyid@odata.bind": f"/transactioncurrencies({CURRENCY_IDS['USD']})",
                "pricelevelid@odata.bind": f"/pricelevels({PRICE_LIST_ID})",
            }
            for order_id in order_ids
        ),
    )
    return len(order_ids)


def _worker() -> None:
    """In the child: the document alone, then the timer's run; prints one JSON line of figures."""
    from shared.amazon.settlement_report import SETTLEMENT_REPORT_TYPE, read_settlement
    from shared.mapping.settlement_fold import SettlementFold
    from shared.runtime import get_runtime

    runtime = get_runtime()
    start_rss = _peak_rss_mb()
    [report] = list(
        runtime.reports.get_reports(
            [SETTLEMENT_REPORT_TYPE], marketplace_ids=[US], processing_statuses=("DONE",)
        )
    )
    assert report.document_id is not None
    started = time.perf_counter()
    fold = SettlementFold()
    with runtime.reports.open_document(report.document_id) as lines:
        document = read_settlement(lines)
        for row in document.rows():
            fold.add(row)
    read_seconds = time.perf_counter() - started
    read_rss = _peak_rss_mb()
    rows_read, problems, total, summary_total = (
        fold.rows,
        len(document.problems),
        fold.total,
        document.summary.total,
    )
    del fold, document  # the run reads the document again on its own
    started = time.perf_counter()
    outcome = runtime.settlement_sync.run()
    run_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows_read": rows_read,
                "problems": problems,
                "read_seconds": read_seconds,
                "run_seconds": run_seconds,
                "start_rss_mb": start_rss,
                "read_rss_mb": read_rss,
                "run_rss_mb": _peak_rss_mb(),
                "invoices": outcome.counts["invoices_written"],
                "complete": outcome.complete,
                "total": str(total),
                "summary_total": str(summary_total),
            }
        )
    )


def _peak_rss_mb() -> float:
    """This process's own peak RSS. Linux's VmHWM starts afresh at exec; getrusage's ru_maxrss would carry the
    parent's peak (the emulators') over into the child."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _print(rows: int, orders: int, figures: dict[str, Any], requests: dict[str, int]) -> None:
    total = sum(requests.values())
    batches = requests.get("batch", 0)
    assert Decimal(figures["total"]) == Decimal(figures["summary_total"]), (
        "the rows do not add up to the summary"
    )
    print(
        f"Settlement report, {rows:,} rows ({orders:,} orders, US number format, gzip document from the SP-API "
        "emulator over 127.0.0.1; the flow in a child process):"
    )
    print(
        f"  read (download, gunzip, streamed TSV, fold per order): {figures['rows_read']:,} rows in "
        f"{figures['read_seconds']:.1f}s = {figures['rows_read'] / figures['read_seconds']:,.0f} rows/s, "
        f"{figures['problems']} unreadable"
    )
    print(
        f"  settlement_reports run (read again, CRM read 50 orders a step, invoices of each step in one $batch, "
        f"Dataverse emulator): {figures['run_seconds']:.1f}s = {rows / figures['run_seconds']:,.0f} rows/s, "
        f"{figures['invoices']:,} invoices, complete: {figures['complete']}"
    )
    print(
        f"  Dataverse requests per settled order: {total / orders:.3f} ({total:,} requests, {batches:,} $batch; "
        f"{dict(sorted(requests.items()))})"
    )
    print(
        f"  peak RSS of the flow's process: {figures['start_rss_mb']:.0f} MB after start-up, "
        f"{figures['read_rss_mb']:.0f} MB after reading the report, {figures['run_rss_mb']:.0f} MB after the run "
        "(goal: under 300 MB)"
    )


if __name__ == "__main__":
    main()
