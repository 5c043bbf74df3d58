"""The order sweep over real sockets (Azurite, the SP-API and Dataverse emulators, the registered functions):
lost notifications, late ones, a crash before the watermark moves, the time budget and the quota share."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from sandbox.amazon_samples import OrderFactory, order_change_notification
from sandbox.harness import Sandbox
from shared.flows.order_search import SEARCH_RESERVE, Stop
from shared.resilience import TokenBucket
from shared.state.watermarks import ProgressStore
from tests.sweep_support import (
    SteppedClock,
    assert_landed_once,
    flatten,
    hours_ago,
    put_final_versions,
    recent_lifecycles,
    set_watermark,
    sweep_of,
    watermark,
)

pytestmark = pytest.mark.sockets


def test_the_sweep_lands_every_order_whose_notifications_were_lost_exactly_once(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """30% of the notifications never arrive: after the sweep every order is in the CRM once, with its lines
    and its final status, and the watermark has moved to the end of the window."""
    lifecycles = recent_lifecycles(factory, 40, start=hours_ago(3))
    finals = put_final_versions(sandbox, lifecycles)
    rng = random.Random(30)
    delivered = [version for version in flatten(lifecycles) if rng.random() >= 0.3]
    for version in delivered:
        sandbox.publish(order_change_notification(version))
    sandbox.deliver()
    runtime = sandbox.runtime()
    set_watermark(runtime, hours_ago(4))

    report = sweep_of(runtime).run()

    assert report.stop is Stop.FINISHED
    assert_landed_once(sandbox, finals)
    assert report.counts["written"] > 0  # the orders whose every notification was lost
    assert sandbox.queue.dead_letters == []
    assert watermark(runtime).window is None
    assert watermark(runtime).position > hours_ago(0.1)


def test_notifications_arriving_after_the_sweep_cost_no_get_order_and_no_write(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """The sweep applied the orders first; their notifications come late and are stale: no Amazon call, no
    Dataverse $batch."""
    lifecycles = recent_lifecycles(factory, 12, start=hours_ago(2))
    finals = put_final_versions(sandbox, lifecycles)
    runtime = sandbox.runtime()
    set_watermark(runtime, hours_ago(3))
    sweep_of(runtime).run()
    sandbox.spapi.requests.reset()
    sandbox.dataverse.requests.reset()

    for version in flatten(lifecycles):
        sandbox.publish(order_change_notification(version))
    sandbox.deliver()

    assert_landed_once(sandbox, finals)
    assert sandbox.spapi.requests.total() == 0
    assert sandbox.dataverse.requests.total(["batch"]) == 0
    assert runtime.order_sync.totals["stale"] == len(flatten(lifecycles))


def test_a_crash_between_applying_a_page_and_moving_the_watermark_is_repaired_without_writing_twice(
    sandbox: Sandbox, factory: OrderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies after a page landed and before the watermark was saved: the next run reads the same
    page again, its orders are stale or unchanged, nothing is written twice, and the watermark moves."""
    lifecycles = recent_lifecycles(factory, 15, start=hours_ago(2))
    finals = put_final_versions(sandbox, lifecycles)
    runtime = sandbox.runtime()
    set_watermark(runtime, hours_ago(3))
    before = watermark(runtime).position
    original_save = ProgressStore.save

    def crash(self: ProgressStore, row):
        raise RuntimeError("worker process killed")

    monkeypatch.setattr(ProgressStore, "save", crash)
    with pytest.raises(RuntimeError):
        sweep_of(runtime).run()
    assert_landed_once(sandbox, finals)
    assert watermark(runtime).position == before
    monkeypatch.setattr(ProgressStore, "save", original_save)
    sandbox.dataverse.requests.reset()

    report = sweep_of(runtime).run()

    assert report.stop is Stop.FINISHED
    assert report.counts["stale"] + report.counts["unchanged"] == len(finals)
    assert report.counts["written"] == 0
    assert sandbox.dataverse.requests.total(["batch"]) == 0
    assert_landed_once(sandbox, finals)
    assert watermark(runtime).position > before


def test_a_run_out_of_time_hands_its_page_token_to_the_next_run(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """250 orders are three pages; the first run's budget holds one page: it stops and saves the window and
    the page token; the next run sends that token, reads only the two remaining pages, and finishes."""
    lifecycles = recent_lifecycles(factory, 250, start=hours_ago(3), spacing=timedelta(seconds=5))
    finals = put_final_versions(sandbox, lifecycles)
    runtime = sandbox.runtime()
    set_watermark(runtime, hours_ago(4))
    clock = SteppedClock()
    search_page = runtime.orders.search_page

    def slow_page(**arguments):
        clock.now += 10.0  # each page "takes" 10 s
        return search_page(**arguments)

    runtime.orders.search_page = slow_page

    first = sweep_of(runtime, max_seconds=20.0, monotonic=clock).run()
    saved = watermark(runtime)
    second = sweep_of(runtime, monotonic=clock).run()

    assert (first.stop, first.pages) == (Stop.TIME, 1)
    assert saved.window is not None
    assert saved.window.cursor
    assert (second.stop, second.pages) == (Stop.FINISHED, 2)
    assert second.counts["orders_read"] == 150
    assert_landed_once(sandbox, finals)
    assert watermark(runtime).position == saved.window.end


def test_the_sweep_leaves_half_of_the_search_quota_to_order_sync(
    sandbox: Sandbox, factory: OrderFactory
) -> None:
    """With 11 searchOrders tokens left the sweep reads one page and stops: the reserve of 10 is order sync's;
    it never waits for a token."""
    lifecycles = recent_lifecycles(factory, 250, start=hours_ago(3), spacing=timedelta(seconds=5))
    put_final_versions(sandbox, lifecycles)
    runtime = sandbox.runtime()
    set_watermark(runtime, hours_ago(4))
    bucket = runtime.spapi.buckets["searchOrders"] = TokenBucket(0.0056, 20)
    for _ in range(20 - SEARCH_RESERVE - 1):
        bucket.reserve()

    report = sweep_of(runtime).run()

    assert (report.stop, report.pages) == (Stop.QUOTA, 1)
    assert bucket.available() == pytest.approx(SEARCH_RESERVE, abs=0.1)
    assert watermark(runtime).window is not None  # the next run goes on from the saved token
