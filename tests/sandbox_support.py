"""Sandbox fixtures and helpers shared by the end-to-end, chaos and bench tests (registered in tests/conftest.py)."""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from sandbox.amazon_samples import OrderFactory, SampleOrder, order_change_notification
from sandbox.harness import Sandbox, SandboxOptions
from shared.resilience import RetryPolicy

FAST_RETRY = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.05, max_total_delay=5.0)


@pytest.fixture
def sandbox_options() -> SandboxOptions:
    return SandboxOptions(retry=FAST_RETRY)


@pytest.fixture
def sandbox(azurite, sandbox_options: SandboxOptions) -> Iterator[Sandbox]:
    with Sandbox(sandbox_options, azurite=azurite) as running:
        yield running


SEED_VARIABLE = "ORDER_FACTORY_SEED"
SEED_PROPERTY = "order_factory_seed"
SEED_SECTION = "order factory seed"


@pytest.fixture
def factory(request: pytest.FixtureRequest) -> OrderFactory:
    """An order factory on a random seed, so every run tries other orders.

    The seed is recorded with the test (user property `order_factory_seed`, also in JUnit XML) and a failing
    test's report shows it in an "order factory seed" section. Set ORDER_FACTORY_SEED to an integer to run
    with that seed instead, e.g. `ORDER_FACTORY_SEED=123 ./dev test tests/e2e/test_order_sync.py -k lines`.
    """
    seed = factory_seed()
    request.node.user_properties.append((SEED_PROPERTY, seed))
    return OrderFactory(seed=seed)


def factory_seed() -> int:
    """ORDER_FACTORY_SEED when set, otherwise a fresh random seed."""
    forced = os.environ.get(SEED_VARIABLE, "").strip()
    if not forced:
        return random.randint(0, 10**6)
    try:
        return int(forced)
    except ValueError:
        pytest.fail(f"{SEED_VARIABLE} must be an integer, not {forced!r}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test that used `factory` says which seed to set to reproduce it."""
    report = yield
    seeds = [value for name, value in item.user_properties if name == SEED_PROPERTY]
    if report.failed and seeds:
        rerun = f"{SEED_VARIABLE}={seeds[0]} ./dev test {item.nodeid}"
        report.sections.append(
            (SEED_SECTION, f"seed {seeds[0]}; to run it again with the same orders: {rerun}")
        )
    return report


def lifecycle(order: SampleOrder, *steps: str) -> list[SampleOrder]:
    """The order's versions as it walks through `steps` (e.g. "UNSHIPPED", "SHIPPED")."""
    versions = [order]
    for step in steps:
        versions.append(versions[-1].advance(step))  # type: ignore[arg-type]
    return versions


def send(sandbox: Sandbox, envelope: dict[str, Any], *, fresh_message_id: bool = True) -> None:
    """Queue a notification; a fresh message id defeats Service Bus duplicate detection (as a replay does)."""
    message_id = str(uuid.uuid4()) if fresh_message_id else envelope["NotificationMetadata"]["NotificationId"]
    sandbox.queue.send(json.dumps(envelope).encode(), message_id=message_id)


def deliver_with_one_unknown_order(
    sandbox: Sandbox, *, known: int, seed: int
) -> tuple[list[SampleOrder], SampleOrder]:
    """Publish notifications of `known` orders Amazon holds and of one it does not (yet), and deliver them:
    the known land, the unknown one is dead-lettered as AmazonOrderNotFound. Returns (known, unknown)."""
    factory = OrderFactory(seed=seed)
    landed = factory.orders(known, status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
    unknown = factory.order(status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
    for order in landed:
        sandbox.spapi.put_order(order.to_api())
    for order in (*landed, unknown):
        sandbox.publish(order_change_notification(order))
    sandbox.deliver()
    return landed, unknown


def crm_orders(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    rows = sandbox.dataverse.records("salesorders")
    by_id: dict[str, dict[str, Any]] = {}
    for row in rows:
        assert row["new_amazonorderid"] not in by_id, f"order {row['new_amazonorderid']} written twice"
        by_id[row["new_amazonorderid"]] = row
    return by_id


def crm_lines(sandbox: Sandbox, order_id: str) -> list[dict[str, Any]]:
    return [
        row for row in sandbox.dataverse.records("salesorderdetails") if row["new_amazonorderid"] == order_id
    ]


__all__ = [
    "crm_lines",
    "crm_orders",
    "deliver_with_one_unknown_order",
    "lifecycle",
    "order_change_notification",
    "send",
]
