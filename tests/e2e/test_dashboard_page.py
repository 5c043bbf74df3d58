"""The dashboard page in a real headless browser, against a fake of the operations API served through the
local HTTP host in front of function_app's own `dashboard` function: what it shows, that replays and resyncs
work by click, and that nothing the API returns can run as code or send the key elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By

import function_app
from sandbox.http_host import LocalHttpHost
from tests.browser import browser, loaded, screenshot, text_of, wait_for  # noqa: F401 - browser is a fixture
from tests.e2e.fake_ops_api import FakeOps, dead_letter

HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture
def ops() -> FakeOps:
    return FakeOps(
        dead_letters=[
            dead_letter(7, "UnknownSku", "order 113-0000000-0000001 held: unknown SKUs SKU-9"),
            dead_letter(8, "UnknownSku", "order 113-0000000-0000002 held: unknown SKUs SKU-9"),
            dead_letter(9, "MalformedNotification", HOSTILE, order_id=""),
        ],
        flagged_listings=[
            {"sku": "MUG-GONE", "marketplaceId": "ATVPDKIKX0DER", "problem": "DELETED"},
            {"sku": HOSTILE, "marketplaceId": "A1F83G8C2ARO7P", "problem": "ERROR"},
        ],
    )


@pytest.fixture
def host(ops: FakeOps) -> Iterator[LocalHttpHost]:
    with LocalHttpHost(ops.app(), function_app.app) as running:
        yield running


@pytest.fixture
def page(browser: Any, host: LocalHttpHost) -> Any:  # noqa: F811 - the browser fixture
    browser.get(host.url("dashboard", with_key=True))
    wait_for(browser, loaded, what="the first refresh")
    return browser


def rows(driver: Any, css: str) -> list[Any]:
    return list(driver.find_elements(By.CSS_SELECTOR, css))


def test_the_page_shows_the_apis_figures_and_passes_the_key_it_was_opened_with(
    page: Any, ops: FakeOps, host: LocalHttpHost
) -> None:
    """Orders in the last hour, a bar per hour, lag percentiles, timers, breakers, health (a 503 with its
    failing check) and dead letters by reason, every API call carrying the key the page was opened with."""
    assert text_of(page, "synced-last-hour") == "42"
    assert len(rows(page, "#per-hour-chart rect.bar")) == 12
    assert "most at 11:00 UTC (42)" in page.find_element(By.ID, "per-hour-chart").get_attribute("aria-label")
    assert (text_of(page, "lag-p50"), text_of(page, "lag-p95"), text_of(page, "lag-max")) == (
        "4.2 s",
        "61 s",
        "2 h 1 min",
    )
    assert "orders_sweep" in text_of(page, "timers-table")
    assert "failed" in text_of(page, "timers-table")
    assert "Dataverse open 5 in " in text_of(page, "breakers-table")
    assert text_of(page, "health-summary") == "Health: failing"
    assert "Dataverse failing circuit open 30001 ms" in " ".join(text_of(page, "health-table").split())
    assert "UnknownSku 2 Replay all 2" in text_of(page, "failures").replace("\n", " ")
    assert ops.keys_seen == {host.function_key}
    screenshot(page, "fake-api")


def test_text_from_the_api_is_shown_as_text_and_never_runs(page: Any) -> None:
    """A dead letter's description written by a stranger appears literally; no element is made of it."""
    assert HOSTILE in text_of(page, "failures")
    assert page.title.startswith("Amazon")
    assert rows(page, "#failures img") == []


def test_the_listings_amazon_flags_are_a_table_with_hostile_skus_shown_as_text(page: Any) -> None:
    """The status' listings part: the counts, and a row per flagged listing with its SKU, marketplace and
    problem; a SKU that looks like markup is shown literally and makes no element."""
    assert text_of(page, "listings-counts") == "1 with ERROR issues, 1 deleted"
    shown = [row.text.split("\n") for row in rows(page, "#listings-table tbody tr")]
    assert [" ".join(" ".join(cells).split()) for cells in shown] == [
        "MUG-GONE ATVPDKIKX0DER DELETED",
        f"{HOSTILE} A1F83G8C2ARO7P ERROR",
    ]
    assert rows(page, "#listings-table img") == []
    assert page.title.startswith("Amazon")
    screenshot(page, "listings-flagged")


def test_replaying_one_dead_letter_by_click_removes_it_from_the_list(page: Any, ops: FakeOps) -> None:
    """The message's Replay button posts its sequence number; the list reloads without it and the outcome
    is announced."""
    page.find_element(By.CSS_SELECTOR, 'tr[data-sequence-number="7"] button').click()

    wait_for(page, lambda d: not rows(d, 'tr[data-sequence-number="7"]'), what="message 7 gone")
    assert ops.replays == [{"queue": "amazon-notifications", "sequenceNumbers": [7]}]
    assert text_of(page, "replay-status") == "Replay done. replayed: 1."
    assert len(rows(page, "tr[data-sequence-number]")) == 2


def test_replaying_a_reason_asks_first_then_replays_only_that_reason(page: Any, ops: FakeOps) -> None:
    """Replaying every dead letter of a reason needs a confirmation; the other reasons stay."""
    page.find_element(
        By.CSS_SELECTOR, 'button[aria-label^="Replay all 2 dead letters of reason UnknownSku"]'
    ).click()
    alert = wait_for(page, lambda d: d.switch_to.alert, what="the confirmation")
    assert "UnknownSku" in alert.text
    alert.accept()

    wait_for(page, lambda d: len(rows(d, "tr[data-sequence-number]")) == 1, what="two replayed")
    assert ops.replays == [{"queue": "amazon-notifications", "reason": "UnknownSku"}]
    assert rows(page, 'tr[data-sequence-number="9"]')


def test_a_resync_of_order_ids_shows_the_jobs_progress_until_it_is_done(page: Any, ops: FakeOps) -> None:
    """Ids typed one per line or with commas are sent once each; the job is polled until it finishes."""
    page.find_element(By.ID, "order-ids").send_keys(
        "113-1111111-1111111,\n113-2222222-2222222 113-1111111-1111111"
    )
    page.find_element(By.ID, "resync-submit").click()

    wait_for(page, lambda d: text_of(d, "resync-message").endswith(": done"), what="the job done")
    assert ops.resyncs == [{"amazonOrderIds": ["113-1111111-1111111", "113-2222222-2222222"]}]
    assert text_of(page, "resync-counts") == "2 applied, 0 failed of 2 queued"
    assert page.find_element(By.ID, "resync-progress").get_attribute("value") == "2"


def test_a_resync_of_skus_sends_the_trimmed_list_and_shows_progress_and_each_failed_skus_reason(
    page: Any, ops: FakeOps
) -> None:
    """SKUs typed one per line or with commas are sent trimmed (a space inside a SKU is kept, empty lines are
    not SKUs); the job's counts are shown while it runs, and once done each failed SKU with its reason, a
    reason quoting Amazon as text that never runs."""
    ops.polls_until_done = 3
    ops.job_failures = [{"sku": "SKU 3", "reason": f"UnknownSku: Amazon said {HOSTILE}"}]
    page.find_element(By.CSS_SELECTOR, 'input[name="mode"][value="skus"]').click()
    assert not page.find_element(By.ID, "order-ids").is_displayed()
    page.find_element(By.ID, "skus").send_keys("  SKU-1 \n\nSKU-2, SKU 3 ,\n  \n")
    page.find_element(By.ID, "resync-submit").click()

    wait_for(page, lambda d: text_of(d, "resync-message").endswith(": running"), what="the job running")
    assert ops.resyncs == [{"skus": ["SKU-1", "SKU-2", "SKU 3"]}]
    assert text_of(page, "resync-counts") == "1 applied, 0 failed of 3 queued"
    assert not page.find_element(By.ID, "resync-failures").is_displayed()
    wait_for(page, lambda d: text_of(d, "resync-message").endswith(": done"), what="the job done")
    assert text_of(page, "resync-counts") == "2 applied, 1 failed of 3 queued"
    assert page.find_element(By.ID, "resync-progress").get_attribute("value") == "3"
    [failure] = rows(page, "#resync-failures tbody tr")
    assert failure.find_element(By.CSS_SELECTOR, "th").text == "SKU 3"
    assert failure.find_element(By.CSS_SELECTOR, "td").text == f"UnknownSku: Amazon said {HOSTILE}"
    assert rows(page, "#resync img") == []
    assert page.title.startswith("Amazon")
    screenshot(page, "fake-api-sku-resync")


def test_a_resync_of_skus_needs_at_least_one_sku(page: Any, ops: FakeOps) -> None:
    """Commas and blank lines alone are no SKU: nothing is sent."""
    page.find_element(By.CSS_SELECTOR, 'input[name="mode"][value="skus"]').click()
    page.find_element(By.ID, "skus").send_keys(" ,\n \n")
    page.find_element(By.ID, "resync-submit").click()

    assert text_of(page, "resync-message") == "Give at least one SKU."
    assert ops.resyncs == []


def test_a_status_url_on_another_origin_is_not_followed(page: Any, ops: FakeOps, host: LocalHttpHost) -> None:
    """The key goes with every poll, so a status URL pointing elsewhere is replaced by this app's own."""
    ops.status_url = "http://192.0.2.1/api/resync/job-1"
    page.find_element(By.ID, "order-ids").send_keys("113-1111111-1111111")
    page.find_element(By.ID, "resync-submit").click()

    wait_for(page, lambda d: text_of(d, "resync-message").endswith(": done"), what="the job done")
    assert ("GET", "/api/resync/job-1", 200) in host.requests


def test_a_date_range_that_ends_before_it_starts_is_refused_in_the_page(page: Any, ops: FakeOps) -> None:
    """The range is checked before anything is sent."""
    page.find_element(By.CSS_SELECTOR, 'input[name="mode"][value="range"]').click()
    page.execute_script(
        "document.getElementById('resync-from').value = '2026-11-27T10:00';"
        "document.getElementById('resync-to').value = '2026-11-26T10:00';"
    )
    page.find_element(By.ID, "resync-submit").click()

    assert text_of(page, "resync-message") == "The range must end after it starts."
    assert ops.resyncs == []
