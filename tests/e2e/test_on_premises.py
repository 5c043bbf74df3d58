"""Dynamics 365 on-premises end to end: the sandbox provisions a v9.1 org through AD FS, then order sync writes
sales orders into it with the same function app, over real sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.amazon_samples import OrderFactory, order_change_notification
from sandbox.harness import ONPREM_CLIENT_ID, Sandbox, SandboxOptions
from tests.sandbox_support import FAST_RETRY, crm_lines, crm_orders, lifecycle

pytestmark = pytest.mark.sockets


@pytest.fixture
def onprem(azurite) -> Iterator[Sandbox]:
    with Sandbox(SandboxOptions(retry=FAST_RETRY, on_premises=True), azurite=azurite) as running:
        yield running


def test_orders_sync_into_an_on_premises_org_over_v9_1_with_adfs_tokens(
    onprem: Sandbox, factory: OrderFactory
) -> None:
    """Provisioning and order sync both run against /api/data/v9.1 with AD FS tokens: the orders land with their
    lines and final states, written as the application user, and one token serves every request."""
    assert onprem.adfs is not None
    assert "done: 41 created" in onprem.provision_log
    assert "/api/data/v9.1/" in onprem.provision_log
    finals = {}
    for steps in (("UNSHIPPED", "SHIPPED"), ("CANCELLED",), ("UNSHIPPED",)):
        versions = lifecycle(factory.order(status="PENDING", marketplace_id="ATVPDKIKX0DER"), *steps)
        onprem.spapi.put_order(versions[-1].to_api())
        for version in versions:
            onprem.publish(order_change_notification(version))
        finals[versions[-1].order_id] = versions[-1]
    tokens_before = onprem.adfs.issued

    onprem.deliver()

    orders = crm_orders(onprem)
    assert set(orders) == set(finals)
    expected = {"SHIPPED": (3, 100001), "CANCELLED": (2, 4), "UNSHIPPED": (1, 3)}
    for order_id, final in finals.items():
        crm = orders[order_id]
        assert (crm["statecode"], crm["statuscode"]) == expected[final.status]
        assert len(crm_lines(onprem, order_id)) == len(final.items)
        assert crm["createdby"] == onprem.dataverse.application_user(ONPREM_CLIENT_ID)
    assert onprem.adfs.issued - tokens_before == 1  # the app's own token, cached for the whole run
    assert onprem.dataverse.requests.total() > 0
    assert onprem.queue.dead_letters == []


def test_provisioning_an_on_premises_org_again_changes_nothing(onprem: Sandbox) -> None:
    """A second provisioning run over v9.1 and AD FS finds every column and key in place."""
    again = onprem.provision()

    assert "no changes: 122 declared items already in place" in again
    assert "Dataverse requests: 23 (23 reads, 0 writes)" in again
