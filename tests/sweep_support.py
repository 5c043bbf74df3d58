"""Helpers for the sweep and backfill tests: recent order lifecycles Amazon can search, the sweep's watermark
put where a test wants it, flows built on the sandbox runtime with test options, and the landed-once check."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.amazon_samples import OrderFactory, SampleOrder
from sandbox.harness import Sandbox
from sandbox.spapi_emulator import SpApiEmulator
from shared.amazon.order_report import LINE_ID_PREFIX
from shared.flows.order_search import SearchWalk
from shared.flows.orders_sweep import SWEEP_KIND, SWEEP_NAME, OrdersSweep, SweepOptions
from shared.runtime import Runtime
from shared.state.watermarks import Watermark
from tests.sandbox_support import crm_orders

US = "ATVPDKIKX0DER"
STATE = {"SHIPPED": (3, 100001), "CANCELLED": (2, 4), "UNSHIPPED": (1, 3), "PENDING": (0, 2)}


def recent_lifecycles(
    factory: OrderFactory, count: int, *, start: datetime, spacing: timedelta = timedelta(seconds=20)
) -> list[list[SampleOrder]]:
    """`count` orders created from `start` on, each Unshipped and then Shipped (every third Cancelled), all
    changes at least minutes in the past so searchOrders sees them."""
    lifecycles = []
    for index in range(count):
        created = (start + spacing * index).replace(microsecond=0)
        order = factory.order(
            status="UNSHIPPED",
            marketplace_id=US,
            fulfilled_by="MERCHANT",
            created_time=created,
            last_updated_time=created + timedelta(minutes=1),
        )
        final = order.advance("CANCELLED" if index % 3 == 0 else "SHIPPED", at=created + timedelta(minutes=2))
        lifecycles.append([order, final])
    return lifecycles


def put_final_versions(sandbox: Sandbox, lifecycles: list[list[SampleOrder]]) -> dict[str, SampleOrder]:
    finals = {versions[-1].order_id: versions[-1] for versions in lifecycles}
    sandbox.spapi.put_orders(final.to_api() for final in finals.values())
    return finals


def set_watermark(runtime: Runtime, position: datetime) -> None:
    """Put the sweep's watermark at `position` (as a previous run would have left it)."""
    runtime.progress.save(Watermark.new(SWEEP_KIND, SWEEP_NAME, position).to_row())


def watermark(runtime: Runtime) -> Watermark:
    row = runtime.progress.read(SWEEP_KIND, SWEEP_NAME)
    assert row is not None
    return Watermark.of(row)


class SteppedClock:
    """A monotonic clock that moves only when told (a page "takes" as long as the test says)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sweep_of(
    runtime: Runtime,
    *,
    max_seconds: float = 240.0,
    monotonic: Callable[[], float] | None = None,
    with_backfill: bool = False,
) -> OrdersSweep:
    """The runtime's sweep with test options (and, when given, a clock the test moves)."""
    clock = monotonic or SteppedClock()
    walk = SearchWalk(runtime.orders, runtime.order_pages, monotonic=clock)
    return OrdersSweep(
        walk=walk,
        progress=runtime.progress,
        options=SweepOptions(max_seconds=max_seconds, first_lookback=timedelta(hours=6)),
        backfill=runtime.orders_backfill if with_backfill else None,
        monotonic=clock,
    )


@dataclass
class Landed:
    orders: int
    lines: int


def assert_landed_once(sandbox: Sandbox, finals: dict[str, SampleOrder]) -> Landed:
    """Every order once (crm_orders raises on a second salesorder), in its final state, with all its lines."""
    orders = crm_orders(sandbox)
    assert set(orders) == set(finals)
    by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)  # one pass: 1,000 orders stay fast
    for line in sandbox.dataverse.records("salesorderdetails"):
        by_order[line["new_amazonorderid"]].append(line)
    lines = 0
    for order_id, final in finals.items():
        assert (orders[order_id]["statecode"], orders[order_id]["statuscode"]) == STATE[final.status], (
            order_id
        )
        found = by_order[order_id]
        assert sorted(line["new_amazonsellersku"] for line in found) == sorted(
            item.product.seller_sku for item in final.items
        )
        ids = {line["new_amazonorderitemid"] for line in found}
        # Amazon's item ids (from the Orders API), or the report's own line ids: never both in one order.
        from_report = {f"{LINE_ID_PREFIX}{n}" for n in range(1, len(final.items) + 1)}
        assert ids in ({item.order_item_id for item in final.items}, from_report), order_id
        lines += len(found)
    return Landed(len(orders), lines)


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


def flatten(lifecycles: list[list[SampleOrder]]) -> list[SampleOrder]:
    return list(itertools.chain.from_iterable(lifecycles))


def expire_first_document_url(emulator: SpApiEmulator) -> None:
    """The first document URL the emulator hands out was issued six minutes ago (S3 refuses it: expired)."""
    documents = emulator.documents
    issue = documents.url
    issued: list[str] = []

    def expired_first(document_id: str, **options: bool) -> str:
        if issued:
            return issue(document_id, **options)
        real_clock = documents.ctx.clock
        documents.ctx.clock = lambda: real_clock() - timedelta(minutes=6)
        try:
            issued.append(issue(document_id, **options))
        finally:
            documents.ctx.clock = real_clock
        return issued[-1]

    documents.url = expired_first  # type: ignore[method-assign]
