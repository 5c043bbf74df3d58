"""The dashboard end to end: headless chromium -> the local HTTP host -> the registered HTTP functions ->
the sandbox (Azurite, the AMQP stand-in for Service Bus, the SP-API and Dataverse emulators). The page shows
the sandbox's own figures, and a dead letter replayed by a click is gone and then lands."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from sandbox.harness import Sandbox, SandboxOptions
from sandbox.http_host import LocalHttpHost
from tests.browser import browser, loaded, screenshot, text_of, wait_for  # noqa: F401 - browser is a fixture
from tests.sandbox_support import FAST_RETRY, crm_orders, deliver_with_one_unknown_order

pytest.importorskip(
    "shared.http.serve", reason="the operations API (shared/http, branch ops-http) is not here yet"
)
pytestmark = [pytest.mark.sockets, pytest.mark.slow]

RAISED_PLAN = {"getOrder": (200.0, 200)}


@pytest.fixture
def sandbox_options() -> SandboxOptions:
    """The deployed path: dead letters live in the Service Bus stand-in, where the failures API reads them."""
    return SandboxOptions(
        retry=FAST_RETRY, pipeline="amazon", bridge_seconds=2, spapi_rate_limits=RAISED_PLAN
    )


@pytest.fixture
def host(sandbox: Sandbox) -> Iterator[LocalHttpHost]:
    import function_app

    with LocalHttpHost(function_app.app) as running:
        yield running


def api(host: LocalHttpHost, route: str) -> Any:
    request = urllib.request.Request(host.url(route), headers={"x-functions-key": host.function_key})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local host
            return json.load(response)
    except urllib.error.HTTPError as error:  # health answers 503 with its checks when one fails
        return json.load(error)


def message_rows(driver: Any) -> list[Any]:
    return list(driver.find_elements(By.CSS_SELECTOR, "tr[data-sequence-number]"))


def test_the_dashboard_shows_the_sandboxs_figures_and_a_replayed_dead_letter_is_gone_and_lands(
    sandbox: Sandbox,
    host: LocalHttpHost,
    browser: Any,  # noqa: F811 - the fixture
) -> None:
    """Three orders land and one Amazon does not know yet is dead-lettered; the page shows the orders synced,
    the breakers and health checks the API reports, and the dead letter with its order id. Once Amazon has
    the order, clicking Replay removes the dead letter, and the next delivery writes the order."""
    _, unknown = deliver_with_one_unknown_order(sandbox, known=3, seed=2211)
    assert [reason for reason, _ in sandbox.dead_letters()] == ["AmazonOrderNotFound"]
    written = sandbox.runtime().order_sync.totals["written"]

    browser.get(host.url("dashboard", with_key=True))
    wait_for(browser, loaded, what="the first refresh")
    status, health = api(host, "status"), api(host, "health")
    assert text_of(browser, "synced-last-hour") == str(written) == str(status["orders"]["syncedLastHour"])
    assert text_of(browser, "health-summary") == f"Health: {health['status']}"
    for breaker in status["breakers"]:
        assert breaker["name"] in text_of(browser, "breakers-table")
    [row] = wait_for(browser, message_rows, what="the dead letter listed")
    assert "AmazonOrderNotFound" in row.text
    assert unknown.order_id in row.text
    screenshot(browser, "sandbox")

    sandbox.spapi.put_order(unknown.to_api())  # the cause is fixed: Amazon has the order now
    row.find_element(By.CSS_SELECTOR, "button").click()
    wait_for(browser, lambda driver: not message_rows(driver), timeout=60, what="the dead letter gone")
    assert "replayed: 1" in text_of(browser, "replay-status")
    assert sandbox.dead_letters() == []
    screenshot(browser, "sandbox-after-replay")

    sandbox.deliver()
    assert unknown.order_id in crm_orders(sandbox)
    assert sandbox.dead_letters() == []
