"""The page's Analytics view in headless Chromium against a real gateway whose prediction log
holds known rows (inserted into the stack's SQLite file, relative to now): the model picker,
the four uPlot charts, and the summary's figures against the rows and the API's PSI.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import insert

from spectrum.api.analytics.figures import psi
from spectrum.shared.predlog.db import engine_for
from spectrum.shared.predlog.schema import metadata, prediction_log
from spectrum_dev.private_redis import PrivateRedis
from tests.integration.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

NOW = datetime.now(UTC)
MAIN, OTHER = "sentiment-minilm", "sentiment-vader"
# The last 24 hours: 70 % POSITIVE, then 10 % in the last twelve; the week before: 70 %.
RECENT = {"POSITIVE": 0, "NEGATIVE": 0}
REFERENCE = {"POSITIVE": 0, "NEGATIVE": 0}
LAST_HOUR = [0]


def rows() -> list[dict[str, Any]]:
    out = []

    def add(model: str, version: str, at: datetime, label: str, latency: float) -> None:
        score = 0.9 if label == "POSITIVE" else 0.8
        other = "NEGATIVE" if label == "POSITIVE" else "POSITIVE"
        out.append(
            {
                "at": at,
                "model": model,
                "version": version,
                "label": label,
                "score": score,
                "probabilities": {label: score, other: round(1 - score, 2)},
                "latency_ms": latency,
                "cached": len(out) % 4 == 0,
                "truncated": False,
                "source": "predict",
                "alias": None,
                "request_id": None,
                "job_id": None,
                "key_id": None,
                "text_hash": uuid.uuid4().hex,
                "text": None,
            }
        )

    for i in range(23 * 30):  # every 2 minutes from 23 h ago to 1 min ago
        at = NOW - timedelta(hours=23) + timedelta(minutes=2 * i)
        shifted = at > NOW - timedelta(hours=12)
        label = "POSITIVE" if (i % 10) < (1 if shifted else 7) else "NEGATIVE"
        add(MAIN, "2" if i % 5 else "3", at, label, 12.0 + (i * 7) % 30 + (10 if shifted else 0))
        RECENT[label] += 1
        LAST_HOUR[0] += at > NOW - timedelta(minutes=59)
        if i % 3 == 0:
            add(OTHER, "3.3.2", at, label, 3.0)
    for i in range(7 * 24 * 4):  # the week before the window, every 15 minutes
        at = NOW - timedelta(hours=24, minutes=5) - timedelta(minutes=15 * i)
        if at <= NOW - timedelta(days=8) + timedelta(minutes=5):
            break
        label = "POSITIVE" if i % 10 < 7 else "NEGATIVE"
        add(MAIN, "2", at, label, 15.0)
        REFERENCE[label] += 1
    return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis = PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    stack = Stack(tmp_path_factory.mktemp("analytics"), redis.url)
    engine = engine_for(stack.settings["database_url"])
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(prediction_log), rows())
    engine.dispose()
    try:
        stack.start_api()
        yield stack
    finally:
        stack.stop()
        redis.stop()


def shown(driver: Chrome, wait: WebDriverWait[Chrome]) -> Any:
    section = driver.find_element(By.ID, "analytics-section")
    wait.until(lambda d: section.get_attribute("data-ready") == "true")
    return section


def test_the_analytics_view_charts_the_log(driver: Chrome, stack: Stack, artifacts: Path) -> None:
    driver.get(f"{stack.base_url}/")
    wait = WebDriverWait(driver, 60, ignored_exceptions=[StaleElementReferenceException])
    section = shown(driver, wait)
    error = driver.find_element(By.ID, "analytics-error")
    assert not error.is_displayed(), error.text

    picker = Select(driver.find_element(By.ID, "analytics-model"))
    assert [o.text for o in picker.options] == [MAIN, OTHER]
    assert picker.first_selected_option.text == MAIN
    total = sum(RECENT.values())
    assert section.get_attribute("data-total") == str(total)
    expected = psi(REFERENCE, RECENT)
    assert expected is not None
    assert expected > 0.2
    assert float(section.get_attribute("data-psi") or "nan") == pytest.approx(expected)
    summary = driver.find_element(By.ID, "analytics-summary").text
    assert f"{MAIN}: {total} texts" in summary
    assert f"{expected:.2f}" in summary

    for chart, series in [("volume", 2), ("shares", 2), ("latency", 3), ("drift", 2)]:
        box = driver.find_element(By.ID, f"chart-{chart}")
        assert box.find_elements(By.TAG_NAME, "canvas"), chart
        assert box.get_attribute("data-series") == str(series), chart
    legend = driver.find_element(By.ID, "chart-shares").text
    assert "NEGATIVE" in legend
    assert "POSITIVE" in legend
    assert "p99" in driver.find_element(By.ID, "chart-latency").text
    assert "version 2" in driver.find_element(By.ID, "latency-note").text

    driver.execute_script("arguments[0].scrollIntoView()", section)
    section.screenshot(str(artifacts / "analytics.png"))

    Select(driver.find_element(By.ID, "analytics-window")).select_by_value("1")
    wait.until(lambda d: section.get_attribute("data-total") == str(LAST_HOUR[0]))
    section = shown(driver, wait)

    Select(driver.find_element(By.ID, "analytics-window")).select_by_value("24")
    wait.until(lambda d: section.get_attribute("data-total") == str(total))
    Select(driver.find_element(By.ID, "analytics-model")).select_by_visible_text(OTHER)
    wait.until(lambda d: f"{OTHER}: " in d.find_element(By.ID, "analytics-summary").text)
    section = shown(driver, wait)
    assert "reference 0 texts" in driver.find_element(By.ID, "analytics-summary").text


def test_the_view_is_hidden_when_the_log_is_off(
    driver: Chrome, tmp_path_factory: pytest.TempPathFactory
) -> None:
    redis = PrivateRedis(tmp_path_factory.mktemp("redis-off")).start()
    stack = Stack(tmp_path_factory.mktemp("log-off"), redis.url, prediction_log="false")
    try:
        stack.start_api()
        driver.get(f"{stack.base_url}/")
        wait = WebDriverWait(driver, 60, ignored_exceptions=[StaleElementReferenceException])
        section = shown(driver, wait)
        assert not section.is_displayed()
        assert driver.find_element(By.ID, "single-form").is_displayed()
    finally:
        stack.stop()
        redis.stop()
