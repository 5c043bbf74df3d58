"""The dashboard end to end: headless chromium -> the local HTTP host -> the registered HTTP functions ->
the sandbox (Azurite, the AMQP stand-in for Service Bus, the SP-API and Dataverse emulators). The page shows
the sandbox's own figures, a dead letter replayed by a click is gone and then lands, and a resync by SKU
started from the page sends the CRM's stock to Amazon and the page shows its job finished."""

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
from tests.crm_support import SKU, set_stock
from tests.ops_support import RESYNC, Ops, seed_listings
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


def test_a_resync_of_skus_started_from_the_page_sends_the_crms_stock_and_shows_the_job_done(
    ops: Ops,
    browser: Any,  # noqa: F811 - the fixture
) -> None:
    """The CRM's stock changed without an event reaching the app; a SKU and an unknown one typed in the page
    make one job of two; once the resync queue has been run the listing shows the CRM's stock, and the page,
    still polling, shows the job done with one applied and the unknown SKU failed with its reason."""
    unknown_sku = "NO-SUCH-SKU-1"
    seed_listings(ops.sandbox)
    set_stock(ops.sandbox, SKU, 17)

    browser.get(ops.http.url("dashboard", with_key=True))
    wait_for(browser, loaded, what="the first refresh")
    browser.find_element(By.CSS_SELECTOR, 'input[name="mode"][value="skus"]').click()
    browser.find_element(By.ID, "skus").send_keys(f" {SKU}\n{unknown_sku}, \n")
    browser.find_element(By.ID, "resync-submit").click()
    wait_for(
        browser, lambda driver: text_of(driver, "resync-message").endswith(": queued"), what="the job queued"
    )
    assert text_of(browser, "resync-counts") == "0 applied, 0 failed of 2 queued"

    assert ops.sandbox.spapi.listings.quantity(SKU) != 17  # queued, not yet sent

    ops.run_queue(RESYNC, "resync")

    wait_for(
        browser, lambda driver: text_of(driver, "resync-message").endswith(": done"), what="the job done"
    )
    assert text_of(browser, "resync-counts") == "1 applied, 1 failed of 2 queued"
    [failure] = browser.find_elements(By.CSS_SELECTOR, "#resync-failures tbody tr")
    assert failure.find_element(By.CSS_SELECTOR, "th").text == unknown_sku
    assert failure.find_element(By.CSS_SELECTOR, "td").text.startswith("UnknownSku")
    assert ops.sandbox.spapi.listings.quantity(SKU) == 17
    screenshot(browser, "sandbox-sku-resync")
