"""Sweep and backfill benchmark: what catching up costs in SP-API calls, and how fast the report path goes.

- sweep, backlog of N orders changed while notifications were lost: the orders_sweep flow reads them with
  searchOrders (100 per page) run after run until its watermark is current. Calls per order do not depend on
  time; the *time* does: under Amazon's default plan (0.0056/s, burst 20) the sweep takes 10 pages at once and
  then ~3 per 10-minute run. The emulator here grants a raised plan (time-scaled) so the run finishes in seconds.
- backfill through the all-orders report, M orders (final in Amazon, unknown to the CRM): createReport ->
  getReport -> getReportDocument -> document -> order sync in chunks of 500. Report processing time at Amazon
  (minutes) is skipped (`finish_now`): the orders-per-second figure is ours, not Amazon's.
"""

from __future__ import annotations

import gc
import resource
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sandbox.amazon_samples import OrderFactory
from sandbox.azurite import Azurite
from sandbox.harness import Sandbox, SandboxOptions
from shared.flows.backfill_job import BackfillOptions, BackfillRange, JobStatus
from shared.flows.order_search import Deadline, Stop
from shared.flows.orders_sweep import SWEEP_KIND, SWEEP_NAME
from shared.state.watermarks import Watermark

US = "ATVPDKIKX0DER"
RAISED_SEARCH = {"searchOrders": (20.0, 20)}  # time-scaled: a token every 50 ms instead of every 3 minutes


@dataclass
class Figures:
    title: str
    orders: int
    seconds: float
    spapi: dict[str, int]
    downloads: int
    runs: int

    def lines(self) -> list[str]:
        calls = sum(self.spapi.values())
        return [
            f"{self.title}: {self.orders} orders in {self.seconds:.1f}s = {self.orders / self.seconds:.0f} orders/s "
            f"({self.runs} runs)",
            f"  SP-API calls per order: {calls / self.orders:.4f}  {self.spapi}"
            + (f" + {self.downloads} document downloads (S3, not SP-API)" if self.downloads else ""),
        ]


def _orders(count: int, start: datetime, spacing: timedelta, status: str) -> list[dict[str, object]]:
    factory = OrderFactory(seed=11)
    return [
        factory.order(
            status=status,  # type: ignore[arg-type]
            marketplace_id=US,
            created_time=start + spacing * index,
            last_updated_time=start + spacing * index + timedelta(minutes=1),
        ).to_api()
        for index in range(count)
    ]


def _spapi_calls(sandbox: Sandbox) -> dict[str, int]:
    return {
        name: n
        for name, n in sandbox.spapi.requests.snapshot().items()
        if not name.startswith(("lwa", "documents"))
    }


def sweep_backlog(count: int, azurite: Azurite) -> Figures:
    now = datetime.now(UTC)
    with Sandbox(SandboxOptions(max_batch=100, spapi_rate_limits=RAISED_SEARCH), azurite=azurite) as sandbox:
        sandbox.spapi.put_orders(_orders(count, now - timedelta(hours=5), timedelta(seconds=2), "SHIPPED"))
        runtime = sandbox.runtime()
        runtime.spapi.buckets["searchOrders"].set_rate(RAISED_SEARCH["searchOrders"][0])
        runtime.progress.save(Watermark.new(SWEEP_KIND, SWEEP_NAME, now - timedelta(hours=6)).to_row())
        sandbox.spapi.requests.reset()
        started = time.perf_counter()
        runs = 0
        while True:
            runs += 1
            report = runtime.orders_sweep.run()
            if report.stop is Stop.FINISHED:
                break
            if report.stop is Stop.QUOTA:
                time.sleep(0.6)  # the raised plan refills the share in a fraction of a second
        seconds = time.perf_counter() - started
        written = len(sandbox.dataverse.records("salesorders"))
        if written != count:
            raise RuntimeError(f"expected {count} orders in Dataverse, found {written}")
        return Figures(
            "sweep, backlog (searchOrders; raised plan 20/s, time-scaled)",
            count,
            seconds,
            _spapi_calls(sandbox),
            0,
            runs,
        )


def report_backfill(count: int, azurite: Azurite) -> Figures:
    now = datetime.now(UTC)
    with Sandbox(SandboxOptions(max_batch=100), azurite=azurite) as sandbox:
        # The first 100 orders within an hour, the rest over 25 days: the first page covers a sliver of the
        # range, so the backfill takes the report (as it would for any large range).
        start = now - timedelta(days=26)
        orders = _orders(100, start, timedelta(seconds=30), "SHIPPED")
        orders += _orders(count - 100, start + timedelta(hours=2), timedelta(days=25) / count, "SHIPPED")
        for index, order in enumerate(orders):
            order["orderId"] = f"114-{index:07d}-{index * 7 % 10**7:07d}"
        sandbox.spapi.put_orders(orders)
        runtime = sandbox.runtime()
        backfill = runtime.orders_backfill.with_options(
            BackfillOptions(marketplaces=(US,), step_seconds=3600)
        )
        sandbox.spapi.requests.reset()
        started = time.perf_counter()
        job = backfill.backfill(BackfillRange(start - timedelta(minutes=1), now))
        runs = 1
        while job.status is JobStatus.RUNNING:
            if job.report_id:
                sandbox.spapi.reports.finish_now(job.report_id)
            [job] = backfill.resume(Deadline(3600))
            runs += 1
        seconds = time.perf_counter() - started
        written = len(sandbox.dataverse.records("salesorders"))
        if written != count:
            raise RuntimeError(f"expected {count} orders in Dataverse, found {written} ({job.note})")
        return Figures(
            "backfill, all-orders report (default plan; Amazon's report processing time skipped)",
            count,
            seconds,
            _spapi_calls(sandbox),
            runtime.reports.downloads["get"],
            runs,
        )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(sweep_orders: int = 5000, report_orders: int = 5000) -> None:
    with Azurite() as azurite:
        gc.collect()
        print("\n".join(sweep_backlog(sweep_orders, azurite).lines()))
        print("  goal: <= 0.02 SP-API calls per order")
        print()
        gc.collect()
        print("\n".join(report_backfill(report_orders, azurite).lines()))
    print(
        f"peak RSS of the benchmark process: {peak_rss_mib():.0f} MiB (the emulators run in this process too)"
    )


if __name__ == "__main__":
    import sys

    main(*(int(argument) for argument in sys.argv[1:3]))
