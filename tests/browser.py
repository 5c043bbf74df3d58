"""A real headless browser for the dashboard tests: Debian's chromium driven through chromedriver by selenium
(both from apt; .ci/run installs them). Screenshots go to test-output/ (git-ignored)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

SCREENSHOTS = REPO_ROOT / "test-output" / "dashboard"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_NAMES = ("chromedriver", "chromium-driver")


def _which(names: tuple[str, ...], variable: str) -> str | None:
    forced = os.environ.get(variable)
    if forced:
        return forced
    return next((path for path in map(shutil.which, names) if path), None)


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless chromium (CHROMIUM / CHROMEDRIVER override the paths); skipped with the reason when the
    apt packages are not installed (`apt-get install chromium chromium-driver`, as .ci/run does)."""
    binary = _which(CHROMIUM_NAMES, "CHROMIUM")
    driver_path = _which(DRIVER_NAMES, "CHROMEDRIVER")
    if not binary or not driver_path:
        pytest.skip("chromium and chromedriver not found: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,2200"):
        options.add_argument(argument)
    # The page must need nothing beyond the app: no component updates, no sign-in, no other host.
    options.add_argument("--disable-background-networking")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, name: str) -> Path:
    """Save a full-window screenshot as test-output/dashboard/<name>.png; its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def wait_for(driver: Any, condition: Callable[[Any], Any], *, timeout: float = 15.0, what: str = "") -> Any:
    """Wait until `condition(driver)` is truthy; its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message=what)


def text_of(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, element_id).text)


def loaded(driver: Any, times: int = 1) -> bool:
    """True once the page finished `times` refreshes (it counts them on <body data-loaded>)."""
    value = driver.execute_script("return document.body.dataset.loaded || '0'")
    return int(value) >= times
