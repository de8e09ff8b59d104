"""The page's model picker, its bars for any number of labels and its compare view, in
headless Chromium against fake API routes (tests/browser/fake_gateway.py): one gateway of
many models, and one that answers as a gateway of a single model did."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.fake_gateway import LABELS, FakeGateway, predict, running

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def many() -> Iterator[tuple[FakeGateway, str]]:
    gateway = FakeGateway(many=True)
    with running(gateway) as url:
        yield gateway, url


@pytest.fixture(scope="module")
def one() -> Iterator[tuple[FakeGateway, str]]:
    gateway = FakeGateway(many=False)
    with running(gateway) as url:
        yield gateway, url


def open_page(driver: Chrome, base_url: str) -> WebDriverWait[Chrome]:
    driver.get(f"{base_url}/")
    # Each answer redraws the result: an element found just before a redraw goes stale.
    wait = WebDriverWait(driver, 30, ignored_exceptions=[StaleElementReferenceException])
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    return wait


def bars(driver: Chrome, list_id: str) -> dict[str, float]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{list_id} li[data-probability]")
    return {
        row.get_attribute("data-label") or "": float(row.get_attribute("data-probability") or "")
        for row in rows
    }


def winner(driver: Chrome, list_id: str) -> str:
    return (
        driver.find_element(By.CSS_SELECTOR, f"#{list_id} li.winner").get_attribute("data-label")
        or ""
    )


def classify(driver: Chrome, wait: WebDriverWait[Chrome], text: str) -> None:
    box = driver.find_element(By.ID, "single-text")
    box.clear()
    box.send_keys(text, Keys.ENTER)
    wait.until(
        lambda d: text in (d.find_element(By.ID, "single-text").get_attribute("value") or "")
    )
    wait.until(lambda d: d.find_element(By.ID, "single-result").get_attribute("aria-busy") is None)


def test_the_picker_lists_every_model_then_the_aliases_with_the_default_chosen(
    driver: Chrome, many: tuple[FakeGateway, str]
) -> None:
    open_page(driver, many[1])

    picker = Select(driver.find_element(By.ID, "model-picker"))
    assert [o.get_attribute("value") for o in picker.options] == [*LABELS, "sentiment"]
    assert picker.first_selected_option.get_attribute("value") == "sentiment-minilm"
    texts = [o.text for o in picker.options]
    assert texts[0] == "sentiment-minilm (default, 2 labels)"
    assert texts[1] == "sentiment-minilm-v2 (2 labels, no live worker)"
    assert texts[3] == "sentiment → sentiment-minilm 90%, sentiment-minilm-v2 10%"
    about = driver.find_element(By.ID, "model-about")
    assert about.text == "labels: NEGATIVE, POSITIVE · runtime torch-bf16 · 1 live worker"
    picker.select_by_value("sentiment")
    assert about.text.startswith("alias, sticky per text: sentiment-minilm 90%")
    served = driver.find_element(By.ID, "served").text
    assert served == "Serving 3 models and 1 alias · 2 live workers"


def test_the_chosen_model_answers_with_a_bar_for_each_of_its_labels(
    driver: Chrome, many: tuple[FakeGateway, str]
) -> None:
    gateway, url = many
    wait = open_page(driver, url)
    Select(driver.find_element(By.ID, "model-picker")).select_by_value("emotion")
    text = f"What a day, I could cry {uuid.uuid4().hex[:6]}"
    classify(driver, wait, text)

    expected = predict("emotion", text)
    assert gateway.posts[-1] == ("/v1/predict", {"texts": [text], "model": "emotion"})
    shown = bars(driver, "bars")
    assert list(shown) == LABELS["emotion"]  # all nine, in the model's order
    assert shown == pytest.approx(expected["probabilities"])
    assert winner(driver, "bars") == expected["label"]
    assert driver.find_element(By.ID, "single-model").text == "emotion emot7"

    # An alias: the answer says which model it chose, and through which alias.
    Select(driver.find_element(By.ID, "model-picker")).select_by_value("sentiment")
    classify(driver, wait, f"{text}!")
    assert gateway.posts[-1] == ("/v1/predict", {"texts": [f"{text}!"], "model": "sentiment"})
    assert list(bars(driver, "bars")) == ["NEGATIVE", "POSITIVE"]
    assert driver.find_element(By.ID, "single-model").text == (
        "sentiment-minilm sent16 (alias sentiment)"
    )


def test_compare_shows_both_models_side_by_side_and_whether_they_agree(
    driver: Chrome, many: tuple[FakeGateway, str], artifacts: Path
) -> None:
    gateway, url = many
    wait = open_page(driver, url)
    section = driver.find_element(By.ID, "compare-section")
    assert section.is_displayed()
    first = Select(driver.find_element(By.ID, "compare-model-0"))
    second = Select(driver.find_element(By.ID, "compare-model-1"))
    # The default beside another version of it (a model with the same labels).
    assert first.first_selected_option.get_attribute("value") == "sentiment-minilm"
    assert second.first_selected_option.get_attribute("value") == "sentiment-minilm-v2"

    def compare(text: str) -> str:
        before = len(gateway.posts)
        box = driver.find_element(By.ID, "compare-text")
        box.clear()
        box.send_keys(text, Keys.ENTER)
        wait.until(lambda _: len(gateway.posts) > before)
        wait.until(lambda d: d.find_element(By.ID, "compare-sides").is_displayed())
        wait.until(
            lambda d: d.find_element(By.ID, "compare-result").get_attribute("aria-busy") is None
        )
        return driver.find_element(By.ID, "compare-agreement").text

    # Texts until the two sentiment versions once agree and once do not.
    seen: dict[bool, str] = {}
    for i in range(40):
        text = f"Not bad at all {i}"
        a, b = predict("sentiment-minilm", text), predict("sentiment-minilm-v2", text)
        if (a["label"] == b["label"]) in seen:
            continue
        line = compare(text)
        assert gateway.posts[-1] == (
            "/v1/compare",
            {"text": text, "models": ["sentiment-minilm", "sentiment-minilm-v2"]},
        )
        assert bars(driver, "compare-bars-0") == pytest.approx(a["probabilities"])
        assert bars(driver, "compare-bars-1") == pytest.approx(b["probabilities"])
        assert winner(driver, "compare-bars-0") == a["label"]
        assert winner(driver, "compare-bars-1") == b["label"]
        agree = driver.find_element(By.ID, "compare-agreement").get_attribute("data-agree")
        if a["label"] == b["label"]:
            assert (line, agree) == (f"Agree: both say {a['label']}.", "true")
        else:
            assert agree == "false"
            assert line == (
                f"Disagree: sentiment-minilm says {a['label']}, "
                f"sentiment-minilm-v2 says {b['label']}."
            )
        seen[a["label"] == b["label"]] = text
        if len(seen) == 2:
            break
    assert len(seen) == 2

    # Models whose labels differ are shown side by side, without a verdict.
    second.select_by_value("emotion")
    line = compare("I am so happy for you")
    assert line == "Not comparable: the two models have different labels."
    assert list(bars(driver, "compare-bars-1")) == LABELS["emotion"]
    assert driver.find_element(By.ID, "compare-name-1").text == "emotion emot7"
    driver.save_screenshot(str(artifacts / "page-compare.png"))


def test_a_batch_goes_to_the_chosen_model_as_one_job(
    driver: Chrome, many: tuple[FakeGateway, str]
) -> None:
    gateway, url = many
    wait = open_page(driver, url)
    Select(driver.find_element(By.ID, "model-picker")).select_by_value("emotion")
    texts = ["A fine day.", "I fear the worst."]
    driver.find_element(By.ID, "batch-text").send_keys("\n".join(texts))
    driver.find_element(By.ID, "batch-submit").click()

    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#batch-table tbody tr")) == 2)
    jobs = [body for path, body in gateway.posts if path == "/v1/jobs"]
    assert jobs[-1] == {"texts": texts, "model": "emotion"}
    header = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#batch-table thead th")]
    assert header[5:14] == [f"p({label})" for label in LABELS["emotion"]]
    cells = driver.find_elements(By.CSS_SELECTOR, "#batch-table tbody td[data-label]")
    assert [c.text for c in cells] == [predict("emotion", t)["label"] for t in texts]


def test_a_gateway_of_one_model_gets_the_page_it_always_had(
    driver: Chrome, one: tuple[FakeGateway, str]
) -> None:
    gateway, url = one
    wait = open_page(driver, url)
    assert not driver.find_element(By.ID, "model-bar").is_displayed()
    assert not driver.find_element(By.ID, "compare-section").is_displayed()
    served = driver.find_element(By.ID, "served").text
    assert served == "Serving sentiment-minilm sent16 (NEGATIVE, POSITIVE) · 1 live worker"

    text = f"Quite good {uuid.uuid4().hex[:6]}"
    classify(driver, wait, text)
    assert gateway.posts[-1] == ("/v1/predict", {"texts": [text]})  # no "model" it would refuse
    assert bars(driver, "bars") == pytest.approx(predict("sentiment-minilm", text)["probabilities"])
    assert not driver.find_element(By.ID, "single-error").is_displayed()

    driver.find_element(By.ID, "batch-text").send_keys("one\ntwo")
    driver.find_element(By.ID, "batch-submit").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#batch-table tbody tr")) == 2)
    assert [body for path, body in gateway.posts if path == "/v1/jobs"] == [
        {"texts": ["one", "two"]}
    ]
