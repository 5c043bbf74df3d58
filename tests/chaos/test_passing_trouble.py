"""Passing trouble never dead-letters a valid order: long outages and an empty quota, time-scaled.

The queue's lock is one second here (five minutes deployed) and rescheduled copies wait 0.5 s doubling to
2 s (10 s to 15 minutes deployed), so a 12-second outage is longer than ten lock periods: under the old
abandon-and-redeliver rule every message in flight would have spent its ten deliveries and been
dead-lettered. Afterwards every order must be in the CRM exactly once and the dead-letter queue empty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from sandbox.amazon_samples import OrderFactory, SampleOrder, order_change_notification
from sandbox.harness import Sandbox, SandboxOptions
from sandbox.http_emulator import Fault, FaultPlan
from tests.sandbox_support import FAST_RETRY, crm_lines, crm_orders

pytestmark = [pytest.mark.sockets, pytest.mark.slow]

LOCK_SECONDS = 1.0
OUTAGE_SECONDS = 12.0  # longer than ten lock periods


def _options(*, table_proxy: bool = False) -> SandboxOptions:
    return SandboxOptions(
        retry=FAST_RETRY,
        lock_seconds=LOCK_SECONDS,
        retry_base_seconds=0.5,
        retry_max_delay_seconds=2.0,
        max_batch=10,
        table_proxy=table_proxy,
    )


def _publish(sandbox: Sandbox, orders: list[SampleOrder]) -> None:
    for order in orders:
        sandbox.spapi.put_order(order.to_api())
        sandbox.publish(order_change_notification(order))


def _after(seconds: float, action: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def _assert_every_order_landed_once_and_nothing_dead_lettered(
    sandbox: Sandbox, orders: list[SampleOrder]
) -> None:
    landed = crm_orders(sandbox)  # raises if an order was written twice
    assert set(landed) == {order.order_id for order in orders}
    for order in orders:
        assert len(crm_lines(sandbox, order.order_id)) == len(order.items)
    assert sandbox.queue.dead_letters == []
    totals = sandbox.runtime().order_sync.totals
    assert totals["written"] == len(orders)
    assert totals["rescheduled"] > 0  # the trouble was met, and waited out
    assert totals["abandoned"] == 0  # no delivery count was spent on it


def test_an_empty_amazon_quota_for_longer_than_ten_lock_periods_dead_letters_nothing(
    azurite, factory: OrderFactory
) -> None:
    """Amazon answers every getOrder with 429 QuotaExceeded for 12 lock periods (a sale day on the default
    plan): the messages are rescheduled, not redelivered, and all land once the quota refills."""
    with Sandbox(_options(), azurite=azurite) as sandbox:
        orders = factory.orders(20, status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
        _publish(sandbox, orders)
        sandbox.spapi.faults = FaultPlan(
            rate=1.0, kinds=(Fault.THROTTLE,), operations=frozenset({"getOrder"})
        )
        timer = _after(OUTAGE_SECONDS, lambda: setattr(sandbox.spapi, "faults", FaultPlan()))
        try:
            sandbox.deliver(timeout=120)
        finally:
            timer.cancel()
        _assert_every_order_landed_once_and_nothing_dead_lettered(sandbox, orders)
        assert sandbox.spapi.requests.faults().get("throttle", 0) > 0


def test_table_storage_down_for_two_minutes_dead_letters_nothing(azurite, factory: OrderFactory) -> None:
    """Table Storage unreachable (connections reset) for the time-scaled equivalent of two minutes and
    more: dedupe and checkpoints cannot be read, the messages wait, and all land once it is back."""
    with Sandbox(_options(table_proxy=True), azurite=azurite) as sandbox:
        orders = factory.orders(20, status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
        _publish(sandbox, orders)
        proxy = sandbox.table_proxy
        assert proxy is not None
        proxy.cut()
        timer = _after(OUTAGE_SECONDS, proxy.restore)
        try:
            sandbox.deliver(timeout=120)
        finally:
            timer.cancel()
            proxy.restore()
        _assert_every_order_landed_once_and_nothing_dead_lettered(sandbox, orders)
        assert proxy.refused > 0


def test_dataverse_down_for_five_minutes_dead_letters_nothing(azurite, factory: OrderFactory) -> None:
    """Dataverse answering 503 to everything for the time-scaled equivalent of five minutes: the messages
    wait, and all land once, with their lines, when it is back."""
    with Sandbox(_options(), azurite=azurite) as sandbox:
        orders = factory.orders(20, status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
        _publish(sandbox, orders)
        sandbox.dataverse.faults = FaultPlan(rate=1.0, kinds=(Fault.UNAVAILABLE,), retry_after_seconds=0)
        timer = _after(OUTAGE_SECONDS, lambda: setattr(sandbox.dataverse, "faults", FaultPlan()))
        try:
            sandbox.deliver(timeout=120)
        finally:
            timer.cancel()
        _assert_every_order_landed_once_and_nothing_dead_lettered(sandbox, orders)
