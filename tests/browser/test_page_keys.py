"""The page at / with API keys on, in a real browser against a real API, worker and Redis.

The key is typed into the page once: kept for the tab (sessionStorage), never put in a
URL, and sent as a header with each call.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.integration.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

KEY = "page-test-key-" + "p" * 26


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("page-keys"), redis_url, model_id="vader", api_keys=KEY)
    try:
        stack.start_worker(timeout=180)
        stack.start_api()
        yield stack
    finally:
        stack.stop()


def classify(driver: Chrome, wait: WebDriverWait[Chrome], text: str) -> None:
    box = driver.find_element(By.ID, "single-text")
    box.clear()
    box.send_keys(text)
    driver.find_element(By.ID, "single-submit").click()


def test_a_key_entered_once_is_kept_for_the_tab_and_sent_with_each_call(
    driver: Chrome, stack: Stack
) -> None:
    driver.get(f"{stack.base_url}/")
    wait = WebDriverWait(driver, 60)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    driver.execute_script("sessionStorage.clear()")

    classify(driver, wait, "What a wonderful film.")
    refused = wait.until(
        lambda d: (box := d.find_element(By.ID, "single-error")).is_displayed() and box.text
    )
    assert "401" in refused

    driver.find_element(By.ID, "api-key").send_keys(KEY)
    driver.find_element(By.ID, "key-use").click()
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    assert KEY not in driver.current_url
    assert driver.execute_script("return sessionStorage.getItem('spectrum.apiKey')") == KEY
    assert driver.find_element(By.ID, "api-key").get_attribute("value") == ""
    assert "a key is set" in driver.find_element(By.ID, "key-state").text

    classify(driver, wait, "What a wonderful film.")
    summary = wait.until(lambda d: d.find_element(By.ID, "single-summary").text)
    assert "POSITIVE" in summary.upper()
    assert not driver.find_element(By.ID, "single-error").is_displayed()
    # No request the page made carried the key in its URL.
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls
    assert not [url for url in urls if KEY in url]

    driver.find_element(By.ID, "key-forget").click()
    assert driver.execute_script("return sessionStorage.getItem('spectrum.apiKey')") is None
