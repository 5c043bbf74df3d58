"""Dynamics -> Amazon benchmark on the sandbox: Dataverse's events travel the Service Bus stand-in to the
registered `dataverse_events` function, which patches listings on the SP-API emulator with Amazon's default
usage plans enforced (patchListingsItem 5/s burst 5, getListingsItem 5/s burst 10). One marketplace.

Figures, each printed with its conditions:
- SKU updates per second sustained within the Listings usage plan: one stock change for each of N SKUs, queued
  at once, cold (productType read once per SKU) and warm (cached);
- SP-API calls per CRM change under a burst: 10 SKUs edited 100 times each, interleaved, while the app runs;
- latency from a CRM change to Amazon's patch, p50/p95: single changes to distinct SKUs, 4 per second.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from sandbox.azurite import Azurite
from sandbox.crm_catalog import product_id, seed_bulk_skus
from sandbox.harness import Sandbox, SandboxOptions

US = "ATVPDKIKX0DER"


def _sandbox(azurite: Azurite, *, coalesce: float) -> Sandbox:
    options = SandboxOptions(
        crm_events=True,
        enforce_rate_limits=True,
        coalesce_seconds=coalesce,
        settings={"SPAPI_MARKETPLACE_IDS": US},
    )
    return Sandbox(options, azurite=azurite)


def _set_stock(sandbox: Sandbox, sku: str, quantity: int) -> None:
    response = sandbox.crm().patch(f"products({product_id(sku)})", {"quantityonhand": quantity})
    assert response.status_code == 204, response.text


def _calls(sandbox: Sandbox) -> dict[str, int]:
    return {name: count for name, count in sandbox.spapi.requests.snapshot().items() if name != "lwa.token"}


class _Running:
    """The function app delivering events in the background while the benchmark writes to the CRM."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Running:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sandbox.deliver_crm_events(timeout=600)


def sustained_rate(azurite: Azurite, skus: int) -> list[str]:
    lines = []
    with _sandbox(azurite, coalesce=3.0) as sandbox:
        names = seed_bulk_skus(sandbox.dataverse, sandbox.spapi.listings, skus, US)
        for label, quantity in (("cold (productType read per SKU)", 7), ("warm (productType cached)", 8)):
            for sku in names:
                _set_stock(sandbox, sku, quantity)
            before = _calls(sandbox)
            started = time.monotonic()
            sandbox.deliver_crm_events(timeout=600)
            seconds = time.monotonic() - started
            landed = sum(sandbox.spapi.listings.quantity(sku) == quantity for sku in names)
            after = _calls(sandbox)
            used = {name: after.get(name, 0) - before.get(name, 0) for name in after}
            lines.append(
                f"  {label}: {landed} SKU updates landed in {seconds:.1f}s = {landed / seconds:.2f} SKU updates/s; "
                f"calls {dict(sorted((k, v) for k, v in used.items() if v))}"
            )
    return lines


def burst_calls(azurite: Azurite, skus: int = 10, edits: int = 100) -> list[str]:
    with _sandbox(azurite, coalesce=3.0) as sandbox:
        names = seed_bulk_skus(sandbox.dataverse, sandbox.spapi.listings, skus, US)
        started = time.monotonic()
        with _Running(sandbox):
            for edit in range(1, edits + 1):
                for sku in names:
                    _set_stock(sandbox, sku, edit)
            writes = time.monotonic() - started
            while not sandbox.crm_pipeline.drained() or any(  # type: ignore[union-attr]
                sandbox.spapi.listings.quantity(sku) != edits for sku in names
            ):
                time.sleep(0.2)
        seconds = time.monotonic() - started
        calls = _calls(sandbox)
        changes = skus * edits
        total = sum(calls.values())
        return [
            f"  {changes} CRM changes ({skus} SKUs x {edits} edits, written over {writes:.1f}s while the app runs): "
            f"{total} SP-API calls = {total / changes:.3f} per change {calls}; last values on Amazon after "
            f"{seconds:.1f}s; Table Storage requests per change "
            f"{sandbox.runtime().listing_sender.store.rows.requests / changes:.2f}"
        ]


def latency(azurite: Azurite, changes: int = 50, per_second: float = 4.0) -> list[str]:
    with _sandbox(azurite, coalesce=3.0) as sandbox:
        names = seed_bulk_skus(sandbox.dataverse, sandbox.spapi.listings, changes, US)
        for sku in names:  # read every productType once, so latency is the change's own path
            _set_stock(sandbox, sku, 1)
        sandbox.deliver_crm_events(timeout=600)
        arrived: dict[str, float] = {}
        _record_arrivals(sandbox, arrived)
        written: dict[str, float] = {}
        with _Running(sandbox):
            for sku in names:
                written[sku] = time.monotonic()
                _set_stock(sandbox, sku, 2)
                time.sleep(1 / per_second)
            deadline = time.monotonic() + 120
            while len(arrived) < changes and time.monotonic() < deadline:
                time.sleep(0.1)
        delays = sorted(arrived[sku] - written[sku] for sku in names if sku in arrived)
        p50 = statistics.median(delays)
        p95 = delays[min(len(delays) - 1, int(0.95 * len(delays)))]
        return [
            f"  {len(delays)} single changes, {per_second:g}/s, productType cached: CRM write -> Amazon's patch "
            f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms"
        ]


def _record_arrivals(sandbox: Sandbox, arrived: dict[str, float]) -> None:
    """When each SKU's patch reached the emulator (its ListingStore is the last stop of a patch)."""
    store = sandbox.spapi.listings
    original: Callable[..., Any] = store.patch

    def patch(sku: str, *args: Any, **kwargs: Any) -> Any:
        result = original(sku, *args, **kwargs)
        arrived.setdefault(sku, time.monotonic())
        return result

    store.patch = patch  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    skus = int(argv[0]) if argv else 100
    print("Dynamics -> Amazon (sandbox, one marketplace, Amazon's default Listings usage plans enforced):")
    with Azurite() as azurite:
        print(
            f"SKU updates per second within the Listings usage plan (5 patches/s, burst 5), {skus} SKUs at once:"
        )
        for line in sustained_rate(azurite, skus):
            print(line)
        print("SP-API calls per CRM change under a burst (LISTINGS_COALESCE_SECONDS=3):")
        for line in burst_calls(azurite):
            print(line)
        print(
            "Latency, CRM change -> Amazon (Dataverse event -> Service Bus stand-in -> dataverse_events -> patch):"
        )
        for line in latency(azurite):
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
