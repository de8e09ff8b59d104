"""The page against a real gateway of many models: workers of two versions of a sentiment
model and of the emotion lexicon (nine labels), and an alias over the two versions, on a
private Redis so that no other test's models join the list. The bars, the compare view
and a job are checked against the API's own answers.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from spectrum_dev.private_redis import PrivateRedis
from tests.integration.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# PAGE_TEST_MODEL_ID=models/sentiment-minilm puts the shipped model first (docs/page.png
# is taken so); by default two versions of the VADER lexicon keep it fast. The Redis is
# the test's own, so the models can have the names a deployment would give them.
FIRST = os.environ.get("PAGE_TEST_MODEL_ID", "vader")
SECOND = "vader"
NAMES = (
    ("sentiment-vader", "sentiment-vader-v2")
    if FIRST == "vader"
    else ("sentiment-minilm", "sentiment-vader")
)
EMOTION = "emotion"
ALIAS = {"sentiment": {"targets": {NAMES[0]: 50, NAMES[1]: 50}}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis = PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    stack = Stack(
        tmp_path_factory.mktemp("many"),  # on its own Redis: no other test's models listed
        redis.url,
        model_id=FIRST,
        model_name=NAMES[0],
        aliases=json.dumps(ALIAS),
    )
    try:
        stack.start_worker(timeout=180)
        for model_id, name in [(SECOND, NAMES[1]), (EMOTION, EMOTION)]:
            worker = stack.harness.start_worker(
                stack.env(model_id=model_id, model_name=name), name=f"worker-{name}"
            )
            stack.harness.wait_registered(worker, redis.url, f"{name}.interactive", 90)
        stack.start_api()
        yield stack
    finally:
        stack.stop()
        redis.stop()


def open_page(driver: Chrome, base_url: str) -> WebDriverWait[Chrome]:
    driver.get(f"{base_url}/")
    # Each answer redraws the result: an element found just before a redraw goes stale.
    wait = WebDriverWait(driver, 60, ignored_exceptions=[StaleElementReferenceException])
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    return wait


def api(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with stack.client() as client:
        answer = client.post(path, json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def bars(driver: Chrome, list_id: str) -> dict[str, float]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{list_id} li[data-probability]")
    return {
        row.get_attribute("data-label") or "": float(row.get_attribute("data-probability") or "")
        for row in rows
    }


def test_the_picker_lists_the_models_and_the_alias_from_the_gateway(
    driver: Chrome, stack: Stack
) -> None:
    open_page(driver, stack.base_url)
    picker = Select(driver.find_element(By.ID, "model-picker"))
    values = [o.get_attribute("value") for o in picker.options]
    assert sorted(values[:3]) == sorted([*NAMES, EMOTION])
    assert values[3:] == ["sentiment"]
    assert picker.first_selected_option.get_attribute("value") == NAMES[0]  # the default
    sentiment = [o.text for o in picker.options if o.get_attribute("value") == "sentiment"]
    assert sentiment == [f"sentiment → {NAMES[0]} 50%, {NAMES[1]} 50%"]


def test_the_chosen_model_answers_and_its_bars_are_the_apis(driver: Chrome, stack: Stack) -> None:
    wait = open_page(driver, stack.base_url)
    Select(driver.find_element(By.ID, "model-picker")).select_by_value(NAMES[1])
    text = f"What a wonderful, brilliant film! {uuid.uuid4().hex[:8]}"
    driver.find_element(By.ID, "single-text").send_keys(text, Keys.ENTER)

    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#bars li.winner"))
    (expected,) = api(stack, "/v1/predict", {"texts": [text], "model": NAMES[1]})["predictions"]
    assert bars(driver, "bars") == pytest.approx(expected["probabilities"])
    assert expected["model"]["name"] == NAMES[1]
    assert driver.find_element(By.ID, "single-model").text.startswith(f"{NAMES[1]} ")
    assert expected["cached"] is True  # the page's request computed it

    # Through the alias: the page says which model the alias chose.
    Select(driver.find_element(By.ID, "model-picker")).select_by_value("sentiment")
    other = f"{text} again"
    box = driver.find_element(By.ID, "single-text")
    box.clear()
    box.send_keys(other, Keys.ENTER)
    wait.until(lambda d: "(alias sentiment)" in d.find_element(By.ID, "single-model").text)
    routed = api(stack, "/v1/predict", {"texts": [other], "model": "sentiment"})
    chosen = routed["predictions"][0]["model"]["name"]
    assert driver.find_element(By.ID, "single-model").text.startswith(f"{chosen} ")

    # The emotion lexicon: a bar for each of its nine labels.
    Select(driver.find_element(By.ID, "model-picker")).select_by_value(EMOTION)
    feeling = f"I was so happy and surprised, then afraid {uuid.uuid4().hex[:6]}"
    box.clear()
    box.send_keys(feeling, Keys.ENTER)
    wait.until(lambda d: d.find_element(By.ID, "single-model").text.startswith(f"{EMOTION} "))
    (emotion,) = api(stack, "/v1/predict", {"texts": [feeling], "model": EMOTION})["predictions"]
    shown = bars(driver, "bars")
    assert len(shown) == 9
    assert list(shown) == list(emotion["probabilities"])
    assert shown == pytest.approx(emotion["probabilities"])


def test_compare_shows_the_apis_answers_side_by_side(
    driver: Chrome, stack: Stack, artifacts: Path
) -> None:
    wait = open_page(driver, stack.base_url)
    assert driver.find_element(By.ID, "compare-section").is_displayed()
    first = Select(driver.find_element(By.ID, "compare-model-0"))
    second = Select(driver.find_element(By.ID, "compare-model-1"))
    assert first.first_selected_option.get_attribute("value") == NAMES[0]
    assert second.first_selected_option.get_attribute("value") == NAMES[1]  # same labels
    text = f"What a wonderful surprise, I loved every minute! {uuid.uuid4().hex[:4]}"
    # For the picture: the emotion lexicon's nine bars on the same text.
    Select(driver.find_element(By.ID, "model-picker")).select_by_value(EMOTION)
    driver.find_element(By.ID, "single-text").send_keys(text, Keys.ENTER)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#bars li")) == 9)
    driver.find_element(By.ID, "compare-text").send_keys(text, Keys.ENTER)

    wait.until(lambda d: d.find_element(By.ID, "compare-sides").is_displayed())
    expected = api(stack, "/v1/compare", {"text": text, "models": list(NAMES)})
    (result,) = expected["results"]
    for side, answer in enumerate(result["answers"]):
        assert bars(driver, f"compare-bars-{side}") == pytest.approx(answer["probabilities"])
        shown = driver.find_element(By.ID, f"compare-name-{side}").text
        assert shown == f"{answer['model']['name']} {answer['model']['version']}"
    agreement = driver.find_element(By.ID, "compare-agreement")
    assert agreement.get_attribute("data-agree") == json.dumps(result["agree"])
    if result["agree"]:
        assert agreement.text == f"Agree: both say {result['answers'][0]['label']}."

    # The screenshot (docs/page.png when run with the shipped model).
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(int(height), 1600))
    driver.save_screenshot(str(artifacts / "page-models.png"))
    driver.set_window_size(1280, 1000)

    # Sentiment beside emotion: side by side, with no verdict (their labels differ).
    second.select_by_value(EMOTION)
    box = driver.find_element(By.ID, "compare-text")
    box.clear()
    box.send_keys(f"{text}!", Keys.ENTER)
    wait.until(lambda d: d.find_element(By.ID, "compare-name-1").text.startswith(EMOTION))
    assert agreement.text == "Not comparable: the two models have different labels."
    assert len(bars(driver, "compare-bars-1")) == 9


def test_a_batch_is_one_job_of_the_chosen_model(driver: Chrome, stack: Stack) -> None:
    wait = open_page(driver, stack.base_url)
    Select(driver.find_element(By.ID, "model-picker")).select_by_value(NAMES[1])
    texts = [f"A lovely evening {uuid.uuid4().hex[:6]}.", "Dull and slow."]
    driver.find_element(By.ID, "batch-text").send_keys("\n".join(texts))
    driver.find_element(By.ID, "batch-submit").click()

    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#batch-table tbody tr")) == 2)
    shown = driver.find_element(By.ID, "batch-job").text.removeprefix("job ")
    with stack.client() as client:
        job = client.get(f"/v1/jobs/{shown}").json()
    assert job["model"] == NAMES[1]
    cells = driver.find_elements(By.CSS_SELECTOR, "#batch-table tbody td[data-label]")
    predicted = api(stack, "/v1/predict", {"texts": texts, "model": NAMES[1]})["predictions"]
    assert [c.text for c in cells] == [p["label"] for p in predicted]
