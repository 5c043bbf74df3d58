"""The sweep on a hostile network: 20% of SP-API and Dataverse calls fail (429, 503, dropped connections)
while it runs; run after run it reaches the same end state as without faults, every order once."""

from __future__ import annotations

import random

import pytest

from sandbox.amazon_samples import OrderFactory, order_change_notification
from sandbox.harness import Sandbox, SandboxOptions
from sandbox.http_emulator import Fault, FaultPlan
from shared.flows.order_search import Stop
from tests.sandbox_support import FAST_RETRY
from tests.sweep_support import (
    assert_landed_once,
    flatten,
    hours_ago,
    put_final_versions,
    recent_lifecycles,
    set_watermark,
    sweep_of,
    watermark,
)

pytestmark = [pytest.mark.sockets, pytest.mark.slow]

# A plan Amazon grants on request (time-scaled): searchOrders' published 0.0056/s would make a page that met
# a 429 wait three minutes for its next token.
RAISED_SEARCH_PLAN = {"searchOrders": (20.0, 20)}


def test_twenty_percent_of_calls_failing_during_the_sweep_still_lands_every_order_once(
    azurite, factory: OrderFactory
) -> None:
    """Faults on both APIs during the sweep (some notifications lost too): the runs stop on passing trouble
    without moving the watermark past it, and the next runs finish; every order once, in its final state."""
    options = SandboxOptions(retry=FAST_RETRY, spapi_rate_limits=RAISED_SEARCH_PLAN)
    with Sandbox(options, azurite=azurite) as sandbox:
        lifecycles = recent_lifecycles(factory, 120, start=hours_ago(3))
        finals = put_final_versions(sandbox, lifecycles)
        rng = random.Random(20)
        for version in flatten(lifecycles):
            if rng.random() >= 0.5:
                sandbox.publish(order_change_notification(version))
        sandbox.deliver()
        runtime = sandbox.runtime()
        runtime.spapi.buckets["searchOrders"].set_rate(RAISED_SEARCH_PLAN["searchOrders"][0])
        set_watermark(runtime, hours_ago(4))
        kinds = (Fault.THROTTLE, Fault.UNAVAILABLE, Fault.DROP)
        sandbox.spapi.faults = FaultPlan(rate=0.2, kinds=kinds, seed=21)
        sandbox.dataverse.faults = FaultPlan(rate=0.2, kinds=kinds, seed=22, retry_after_seconds=0)

        stops = []
        for _ in range(30):
            report = sweep_of(runtime).run()
            stops.append(report.stop)
            if report.stop is Stop.FINISHED:
                break

        assert stops[-1] is Stop.FINISHED
        assert_landed_once(sandbox, finals)
        assert watermark(runtime).window is None
        assert sum({**sandbox.spapi.requests.faults(), **sandbox.dataverse.requests.faults()}.values()) > 0
        assert sandbox.queue.dead_letters == []
