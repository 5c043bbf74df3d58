"""Order sync benchmark: sync N orders through the sandbox and print what it cost.

Figures: SP-API calls per order, Dataverse HTTP requests per order, Table Storage requests per order,
orders per second, peak RSS, and the time of `import function_app` in a fresh interpreter.

Two arrival patterns, because Amazon's quotas make them different problems:
- backlog: N notifications queued at once for orders updated more than two minutes ago (after an outage,
  or a seller's busy hour): searchOrders returns 100 orders per call;
- live: each order changed just now, so search cannot see it yet (Amazon's ~2 minute lag): one getOrder
  per order. Amazon's default plan allows 0.5 getOrder/s after a burst of 30, so the emulator grants a
  higher plan (x-amzn-RateLimit-Limit) and the printed rate shows what the app does, not Amazon's quota.
"""

from __future__ import annotations

import gc
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox.amazon_samples import OrderFactory, order_change_notification
from sandbox.azurite import Azurite
from sandbox.harness import Sandbox, SandboxOptions
from sandbox.http_emulator import Fault, FaultPlan

REPO = Path(__file__).resolve().parents[2]
LIVE_PLAN = {"getOrder": (200.0, 200)}  # requests/s, burst: a seller on a raised usage plan


@dataclass
class SyncFigures:
    pattern: str
    orders: int
    seconds: float
    spapi_calls: int
    spapi_by_operation: dict[str, int]
    dataverse_requests: int
    dataverse_by_kind: dict[str, int]
    table_requests: int
    invocations: int
    cpu_seconds: float = 0.0  # CPU time of this process during the delivery (the emulators run in it too)

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        return [
            f"{self.pattern}: {self.orders} orders in {self.seconds:.1f}s = {self.orders_per_second:.0f} orders/s "
            f"({self.invocations} function invocations)",
            f"  SP-API calls per order:          {self.spapi_calls / self.orders:.3f}  {self.spapi_by_operation}",
            f"  Dataverse requests per order:    {self.dataverse_requests / self.orders:.3f}  {self.dataverse_by_kind}",
            f"  Table Storage requests per order: {self.table_requests / self.orders:.2f}",
        ]


def sync_orders(
    count: int,
    *,
    pattern: str,
    azurite: Azurite,
    max_batch: int = 100,
    amazon_latency: float = 0.0,
    before_delivery: Callable[[Sandbox], None] | None = None,
) -> SyncFigures:
    """Queue `count` ORDER_CHANGE notifications and time their delivery to Dataverse. `amazon_latency`
    makes every SP-API answer take that long (on loopback they take a millisecond, at Amazon hundreds);
    `before_delivery` runs once everything is queued (the telemetry benchmark switches telemetry on there)."""
    now = datetime.now(UTC)
    factory = OrderFactory(seed=7)
    options = SandboxOptions(max_batch=max_batch, spapi_rate_limits=LIVE_PLAN if pattern == "live" else None)
    with Sandbox(options, azurite=azurite) as sandbox:
        for index in range(count):
            created = now - timedelta(hours=2) + timedelta(seconds=index)
            # live: changed 30 s ago (not searchable yet); backlog: changed an hour after creation, > 2 min ago
            updated = now - timedelta(seconds=30) if pattern == "live" else created + timedelta(hours=1)
            order = factory.order(status="UNSHIPPED", created_time=created, last_updated_time=updated)
            sandbox.spapi.put_order(order.to_api())
            sandbox.publish(order_change_notification(order))
        if amazon_latency:
            sandbox.spapi.faults = FaultPlan(
                rate=1.0,
                kinds=(Fault.SLOW,),
                slow_seconds=amazon_latency,
                operations=frozenset({"getOrder", "searchOrders"}),
            )
        sandbox.runtime()  # settings and mapping load before the clock starts, as on a warm instance
        if pattern == "live":
            sandbox.runtime().spapi.buckets["getOrder"].set_rate(LIVE_PLAN["getOrder"][0])
        if before_delivery is not None:
            before_delivery(sandbox)
        started, cpu_started = time.perf_counter(), time.process_time()
        stats = sandbox.deliver(timeout=3600)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        written = len(sandbox.dataverse.records("salesorders"))
        if written != count:
            raise RuntimeError(f"expected {count} orders in Dataverse, found {written}")
        spapi = {name: n for name, n in sandbox.spapi.requests.snapshot().items() if name != "lwa.token"}
        dataverse = sandbox.dataverse.requests.snapshot()
        return SyncFigures(
            pattern=pattern
            + (f", Amazon answering in {amazon_latency * 1000:.0f} ms" if amazon_latency else ""),
            orders=count,
            seconds=seconds,
            spapi_calls=sum(spapi.values()),
            spapi_by_operation=spapi,
            dataverse_requests=sum(dataverse.values()),
            dataverse_by_kind=dataverse,
            table_requests=sandbox.runtime().state.requests,
            invocations=stats.invocations,
            cpu_seconds=cpu_seconds,
        )


IMPORT_PROBE = """
import time
started = time.perf_counter()
import function_app
total = time.perf_counter() - started
import sys
print(total, ",".join(sorted(name for name in sys.modules if name.split(".")[0] in ("shared",))))
"""

HOST_PROBE = """
import time
import azure.functions, azurefunctions.extensions.bindings.servicebus
started = time.perf_counter()
import function_app
print(time.perf_counter() - started)
"""


def import_times(runs: int = 7) -> tuple[float, float, list[str]]:
    """Median seconds of `import function_app` in a fresh interpreter, and with the two host packages
    (azure.functions and the Service Bus binding extension) already loaded, as in a warm worker process."""
    cold, warm = [], []
    modules: list[str] = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE], cwd=REPO, capture_output=True, text=True, check=True
        )
        seconds, _, loaded = output.stdout.strip().partition(" ")
        cold.append(float(seconds))
        modules = [name for name in loaded.split(",") if name]
        output = subprocess.run(
            [sys.executable, "-c", HOST_PROBE], cwd=REPO, capture_output=True, text=True, check=True
        )
        warm.append(float(output.stdout.strip()))
    return statistics.median(cold), statistics.median(warm), modules


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 1000
    cold, warm, modules = import_times()
    print("import function_app (fresh interpreter, median of 7):")
    print(f"  total:                                  {cold * 1000:.0f} ms")
    print(f"  with azure.functions + the Service Bus binding extension already loaded: {warm * 1000:.0f} ms")
    print(f"  app modules imported at that point: {modules or 'none'}")
    print()
    with Azurite() as azurite:
        for pattern, latency in (("backlog", 0.0), ("live", 0.0), ("live", 0.15)):
            gc.collect()
            figures = sync_orders(count, pattern=pattern, azurite=azurite, amazon_latency=latency)
            print("\n".join(figures.lines()))
            print()
    print(
        f"peak RSS of the benchmark process: {peak_rss_mib():.0f} MiB (the emulators run in this process too)"
    )
    return 0
