"""`python -m tests.bench.telemetry [orders]`: what the dashboard and telemetry change cost.

- cold start: `import function_app` plus indexing every function (what the worker does before the first
  invocation), in a fresh interpreter, median of 7, for this tree and for `main` (a `git archive` snapshot,
  run with the same interpreter); and what the first invocation with telemetry on adds (importing
  azure-monitor-opentelemetry and the SDK; configuring it would reach Azure, so it is not run here);
- CPU per order with telemetry off and on (spans and metrics through the scrubbing processors into the SDK's
  in-memory exporter and metric reader; Azure Monitor's exporter sends batches on a thread of its own, which
  is not counted): order sync over in-memory fakes (the flow alone), and the sandbox (HTTP to the emulators,
  which run in the same process, with and without the HTTP client instrumentations Azure Monitor enables).
"""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

from sandbox.azurite import Azurite
from sandbox.harness import Sandbox
from shared import telemetry
from tests.bench.order_sync import REPO, sync_orders

COLD_START_PROBE = """
import time
started = time.perf_counter()
import function_app
names = [function.get_function_name() for function in function_app.app.get_functions()]
print(time.perf_counter() - started, len(names))
"""
TELEMETRY_IMPORT_PROBE = """
import time
import function_app
started = time.perf_counter()
import azure.monitor.opentelemetry, opentelemetry.sdk.trace, opentelemetry.sdk.metrics
from shared.telemetry import scrubbing
print(time.perf_counter() - started)
"""


def median_seconds(probe: str, cwd: Path, runs: int = 7) -> tuple[float, str]:
    """Median of the first number the probe prints, over `runs` fresh interpreters; the rest of its line."""
    values, rest = [], ""
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, check=True
        )
        first, _, rest = output.stdout.strip().partition(" ")
        values.append(float(first))
    return statistics.median(values), rest


@contextmanager
def snapshot_of(ref: str) -> Iterator[Path | None]:
    """The tree of `ref` in a temporary folder (None when this is not a git checkout or ref is unknown)."""
    archive = subprocess.run(["git", "archive", ref], cwd=REPO, capture_output=True, check=False)
    if archive.returncode != 0:
        yield None
        return
    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder)


def cold_start(base: str = "main") -> list[str]:
    after, functions = median_seconds(COLD_START_PROBE, REPO)
    lines = [
        f"cold start: import function_app + index its functions, fresh interpreter, median of 7 ({sys.version.split()[0]})"
    ]
    with snapshot_of(base) as tree:
        if tree is not None:
            before, base_functions = median_seconds(COLD_START_PROBE, tree)
            lines.append(f"  {base:<10} {before * 1000:6.0f} ms  ({base_functions} functions)")
    lines.append(f"  {'this tree':<10} {after * 1000:6.0f} ms  ({functions} functions)")
    first, _ = median_seconds(TELEMETRY_IMPORT_PROBE, REPO)
    lines.append(
        f"  + first invocation with APPLICATIONINSIGHTS_CONNECTION_STRING set: {first * 1000:.0f} ms to import "
        "azure-monitor-opentelemetry and the SDK (0 ms when it is unset)"
    )
    return lines


@contextmanager
def telemetry_in_memory(http_instrumentation: bool = False) -> Iterator[None]:
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from shared.telemetry.setup import local_pipeline

    pipeline = local_pipeline(InMemorySpanExporter(), InMemoryMetricReader())
    telemetry.install(pipeline.backend())
    instrumentors: list[Any] = []
    if http_instrumentation:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.requests import RequestsInstrumentor

        instrumentors = [RequestsInstrumentor(), HTTPXClientInstrumentor()]
        for instrumentor in instrumentors:
            instrumentor.instrument(tracer_provider=pipeline.tracer_provider)
    try:
        yield
    finally:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()
        telemetry.uninstall()
        pipeline.shutdown()


def flow_cpu_ms_per_order(orders: int, *, telemetry_on: bool, rounds: int = 3) -> float:
    """Order sync over the unit tests' in-memory fakes, notifications in batches of 50: best of `rounds`."""
    from tests.bench.telemetry_flow import run_flow

    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        if telemetry_on:
            with telemetry_in_memory():
                best = min(best, run_flow(orders))
        else:
            best = min(best, run_flow(orders))
    return best / orders * 1000


Switch = Callable[[], AbstractContextManager[None]]


def sandbox_cpu_ms_per_order(orders: int, azurite: Azurite, switch: Switch | None, rounds: int = 2) -> float:
    """The sandbox's backlog delivery with telemetry as `switch` sets it (once all is queued): best of
    `rounds`."""
    best = float("inf")
    for _ in range(rounds):
        with ExitStack() as stack:

            def before(sandbox: Sandbox) -> None:
                if switch is not None:
                    stack.enter_context(switch())

            gc.collect()
            figures = sync_orders(orders, pattern="backlog", azurite=azurite, before_delivery=before)
        best = min(best, figures.cpu_seconds)
    return best / orders * 1000


def main(orders: int = 1000) -> None:
    print("\n".join(cold_start()))
    print()
    print(f"telemetry CPU per order ({orders} ORDER_CHANGE notifications, 2-core machine):")
    off = flow_cpu_ms_per_order(orders, telemetry_on=False)
    on = flow_cpu_ms_per_order(orders, telemetry_on=True)
    print(
        f"  order sync over in-memory fakes (the flow alone, best of 3): off {off:.3f} ms, on {on:.3f} ms (+{on - off:.3f} ms)"
    )
    with Azurite() as azurite:
        sandbox_cpu_ms_per_order(orders, azurite, None, rounds=1)  # warm-up: imports, first connections
        figures = {
            "off": sandbox_cpu_ms_per_order(orders, azurite, None),
            "on": sandbox_cpu_ms_per_order(orders, azurite, telemetry_in_memory),
            "on + HTTP spans": sandbox_cpu_ms_per_order(
                orders, azurite, lambda: telemetry_in_memory(http_instrumentation=True)
            ),
        }
    print(
        "  sandbox backlog (searchOrders, one $batch per 50; emulators in-process): "
        + ", ".join(f"{name} {value:.2f} ms" for name, value in figures.items())
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
