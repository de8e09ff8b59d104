"""The page at / in a real browser, against a real API, worker and Redis.

PAGE_TEST_MODEL_ID=models/sentiment-minilm runs it with the shipped model (that is
how docs/page.png is taken); by default the VADER lexicon keeps it fast.
"""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from spectrum.api.jobs.input import file_format, read_file
from spectrum.shared.errors import InvalidInput
from tests.integration.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

MAX_TEXTS = 50  # not the default 64: the page must chunk by what the API says
MAX_CHARS = 200
FLOWER = "http://127.0.0.1:5555/"
MODEL_ID = os.environ.get("PAGE_TEST_MODEL_ID", "vader")


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    extra = (
        {} if MODEL_ID == "vader" else {"model_name": f"sentiment-minilm-{uuid.uuid4().hex[:4]}"}
    )
    stack = Stack(
        tmp_path_factory.mktemp("page"),
        redis_url,
        model_id=MODEL_ID,
        max_texts_per_request=MAX_TEXTS,
        max_text_chars=MAX_CHARS,
        flower_url=FLOWER,
        **extra,
    )
    try:
        stack.start_worker(timeout=180)
        stack.start_api()
        yield stack
    finally:
        stack.stop()


def open_page(driver: Chrome, base_url: str) -> WebDriverWait[Chrome]:
    driver.get(f"{base_url}/")
    wait = WebDriverWait(driver, 60)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    return wait


def api_predictions(stack: Stack, texts: list[str]) -> list[dict[str, Any]]:
    predictions: list[dict[str, Any]] = []
    with stack.client() as client:
        for start in range(0, len(texts), MAX_TEXTS):
            answer = client.post("/v1/predict", json={"texts": texts[start : start + MAX_TEXTS]})
            assert answer.status_code == 200, answer.text
            predictions += answer.json()["predictions"]
    return predictions


def shown_error(wait: WebDriverWait[Chrome], element_id: str) -> str:
    def visible(d: Chrome) -> str | bool:
        box = d.find_element(By.ID, element_id)
        return box.is_displayed() and box.text

    text: str = wait.until(visible)
    return text


def test_a_typed_sentence_draws_every_label(driver: Chrome, stack: Stack) -> None:
    wait = open_page(driver, stack.base_url)
    text = f"What a wonderful, brilliant film! {uuid.uuid4().hex[:8]}"
    box = driver.find_element(By.ID, "single-text")
    box.send_keys(text, Keys.ENTER)  # Enter classifies: no mouse needed

    bars: list[WebElement] = wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#bars li[data-probability]")
    )
    shown = {
        bar.get_attribute("data-label"): float(bar.get_attribute("data-probability") or "nan")
        for bar in bars
    }
    assert sum(shown.values()) == pytest.approx(1.0, abs=0.01)
    (expected,) = api_predictions(stack, [text])
    assert set(shown) == set(expected["probabilities"])
    assert shown == pytest.approx(expected["probabilities"])
    winner = driver.find_element(By.CSS_SELECTOR, "#bars li.winner")
    assert winner.get_attribute("data-label") == expected["label"]
    for bar in bars:
        percent = f"{100 * shown[bar.get_attribute('data-label')]:.1f}%"
        assert bar.find_element(By.CLASS_NAME, "bar-value").text == percent

    assert driver.find_element(By.ID, "single-label").text.startswith(expected["label"])
    model = driver.find_element(By.ID, "single-model").text
    assert model.startswith(stack.model_name)
    assert driver.find_element(By.ID, "single-cached").text.startswith("no")  # first time asked
    assert expected["cached"] is True  # ...so the API's second answer came from the cache
    latency = driver.find_element(By.ID, "single-latency").text
    assert latency.endswith("ms round trip")
    assert int(latency.split()[0]) >= 0

    # Shift+Enter is a new line, not a second request.
    box.send_keys(Keys.SHIFT, Keys.ENTER)
    assert box.get_attribute("value") == f"{text}\n"

    assert (
        driver.find_element(By.LINK_TEXT, "API docs").get_attribute("href")
        == f"{stack.base_url}/docs"
    )
    assert driver.find_element(By.ID, "flower-link").get_attribute("href") == FLOWER
    assert not driver.find_element(By.ID, "grafana-link").is_displayed()  # not configured


def review_csv(path: Path, rows: int) -> list[str]:
    """A CSV whose `text` column is not the first, with commas and quotes inside texts."""
    openings = ["Honestly,", "I think", 'The "critics" say', "My friends agreed:", "Frankly"]
    verdicts = [
        "this was a wonderful, moving story",
        "the plot was dull and the ending awful",
        "the cast is great but the script is weak",
        "a boring, forgettable two hours",
        "I loved the music and the photography",
        "nothing works, not even the jokes",
        "a clever, funny and warm film",
    ]
    texts = [f"{openings[i % 5]} {verdicts[i % 7]} (review {i + 1})." for i in range(rows)]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "text"])
        writer.writerows([i + 1, text] for i, text in enumerate(texts))
    return texts


def job_of_page(driver: Chrome, stack: Stack) -> dict[str, Any]:
    """The job the page says it submitted, as the API reports it."""
    shown = driver.find_element(By.ID, "batch-job").text
    assert shown.startswith("job "), shown
    with stack.client() as client:
        answer = client.get(f"/v1/jobs/{shown.removeprefix('job ')}")
    assert answer.status_code == 200, answer.text
    job: dict[str, Any] = answer.json()
    return job


def test_a_200_row_file_is_classified_as_one_job(
    driver: Chrome, stack: Stack, tmp_path: Path, artifacts: Path
) -> None:
    wait = open_page(driver, stack.base_url)
    example = driver.find_element(By.CSS_SELECTOR, "#examples button")
    example.send_keys(Keys.ENTER)  # keyboard on a focused example button
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#bars li.winner"))

    texts = review_csv(tmp_path / "reviews.csv", 200)
    driver.find_element(By.ID, "batch-file").send_keys(str(tmp_path / "reviews.csv"))
    wait.until(lambda d: "200 texts" in d.find_element(By.ID, "batch-source").text)
    driver.find_element(By.ID, "batch-submit").click()

    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#batch-table tbody tr")) == 200)
    assert driver.find_element(By.ID, "batch-count").text == "200 / 200 · succeeded"
    assert driver.find_element(By.ID, "batch-progress").get_attribute("value") == "200"
    assert not driver.find_element(By.ID, "batch-error").is_displayed()
    assert not driver.find_element(By.ID, "batch-cancel").is_displayed()
    # One job on /v1/jobs, of the file as sent: the API read its 200 rows.
    job = job_of_page(driver, stack)
    assert job["state"] == "succeeded"
    assert job["progress"]["total"] == job["progress"]["done"] == 200
    cells = driver.find_elements(By.CSS_SELECTOR, "#batch-table tbody td[data-label]")
    expected = api_predictions(stack, texts)
    assert [cell.text for cell in cells] == [p["label"] for p in expected]
    api_csv = driver.find_element(By.ID, "batch-api-csv").get_attribute("href")
    assert api_csv == f"{stack.base_url}/v1/jobs/{job['id']}/results?format=csv"

    # The screenshot (the README shows it) before the download link takes the focus.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(int(height), 1600))
    driver.save_screenshot(str(artifacts / "page.png"))
    driver.set_window_size(1280, 1000)

    link = driver.find_element(By.ID, "batch-download")
    assert (link.get_attribute("href") or "").startswith("blob:")  # built in the page
    downloads = tmp_path / "downloads"
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    link.send_keys(Keys.ENTER)
    saved = downloads / "spectrum-results.csv"
    wait.until(lambda _: saved.exists() and saved.read_bytes().endswith(b"\r\n"))
    downloaded = saved.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(downloaded)))
    assert [row["text"] for row in rows] == texts
    assert [row["label"] for row in rows] == [p["label"] for p in expected]
    assert rows[0]["where"] == "row 1"  # as the API counts: from 1, after the header


def test_a_long_job_shows_its_progress_and_can_be_cancelled(
    driver: Chrome, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # One text per chunk: thousands of tasks, long enough to watch and to cancel.
    total = 1500
    slow = Stack(tmp_path_factory.mktemp("cancel"), redis_url, job_chunk_size=1)
    try:
        slow.start_worker()
        slow.start_api()
        wait = open_page(driver, slow.base_url)
        lines = "\n".join(f"a fine film, take {i} {uuid.uuid4().hex[:6]}" for i in range(total))
        driver.execute_script("document.getElementById('batch-text').value = arguments[0]", lines)
        driver.find_element(By.ID, "batch-submit").click()

        def moving(d: Chrome) -> int | bool:
            value = int(d.find_element(By.ID, "batch-progress").get_attribute("value") or "0")
            return 0 < value < total and value

        seen = wait.until(moving)
        assert driver.find_element(By.ID, "batch-progress").get_attribute("max") == str(total)
        assert " · running" in driver.find_element(By.ID, "batch-count").text
        cancel = driver.find_element(By.ID, "batch-cancel")
        assert cancel.is_displayed()
        cancel.click()

        wait.until(lambda d: d.find_element(By.ID, "batch-count").text.startswith("Cancelled:"))
        shown = driver.find_element(By.ID, "batch-count").text
        classified = int(shown.split()[1])
        assert seen <= classified < total, shown
        assert shown == f"Cancelled: {classified} of {total} classified."
        assert not cancel.is_displayed()
        assert not driver.find_element(By.ID, "batch-error").is_displayed()
        rows = driver.find_elements(By.CSS_SELECTOR, "#batch-table tbody tr")
        assert len(rows) == min(classified, 1000)
        note = driver.find_element(By.ID, "batch-note").text
        assert note.startswith(f"({classified} rows")
        job = job_of_page(driver, slow)
        assert job["state"] == "cancelled"
        assert job["progress"]["done"] < total
    finally:
        slow.stop()


def test_422_reasons_are_shown_with_the_line_they_concern(
    driver: Chrome, stack: Stack, artifacts: Path
) -> None:
    wait = open_page(driver, stack.base_url)
    too_long = "long " * (MAX_CHARS // 5) + "!"
    box = driver.find_element(By.ID, "single-text")
    box.send_keys(too_long, Keys.CONTROL, Keys.ENTER)  # Ctrl+Enter classifies too

    message = shown_error(wait, "single-error")
    assert "422 InvalidInput" in message
    assert f"the text: {len(too_long)} characters, at most {MAX_CHARS}" in message
    assert not driver.find_elements(By.CSS_SELECTOR, "#bars li")

    lines = driver.find_element(By.ID, "batch-text")
    lines.send_keys("a fine film", Keys.ENTER, "   ", Keys.ENTER, too_long, Keys.ENTER, "ok")
    driver.find_element(By.ID, "batch-submit").send_keys(Keys.ENTER)
    message = shown_error(wait, "batch-error")
    assert "422 InvalidInput" in message
    assert f"line 3: {len(too_long)} characters, at most {MAX_CHARS}" in message
    assert driver.find_element(By.ID, "batch-count").text == "Not submitted (1 blank skipped)."
    driver.save_screenshot(str(artifacts / "page-errors.png"))


def test_an_unavailable_service_is_explained(
    driver: Chrome, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    lonely = Stack(tmp_path_factory.mktemp("no-worker"), redis_url)  # an API and no worker
    try:
        api = lonely.start_api()
        wait = open_page(driver, lonely.base_url)
        box = driver.find_element(By.ID, "single-text")
        box.send_keys("Is anybody there?", Keys.ENTER)
        message = shown_error(wait, "single-error")
        assert "(503 NoWorkerAvailable)" in message
        assert "retry after 1 s" in message

        # A job waits the Retry-After and is tried again a few times, then says why not.
        lines = driver.find_element(By.ID, "batch-text")
        lines.send_keys("Anyone?")
        driver.find_element(By.ID, "batch-submit").click()
        wait.until(lambda d: "Retrying (1/3) in 1 s" in d.find_element(By.ID, "batch-error").text)
        wait.until(lambda d: d.find_element(By.ID, "batch-error").text.startswith("Stopped: "))
        assert driver.find_element(By.ID, "batch-count").text == "Not submitted."
        assert "(503 NoWorkerAvailable)" in driver.find_element(By.ID, "batch-error").text

        api.stop()
        box.send_keys(Keys.ENTER)
        wait.until(
            lambda d: "Could not reach the API" in d.find_element(By.ID, "single-error").text
        )
    finally:
        lonely.stop()


PARSE = """
const [source, name] = [arguments[0], arguments[1]];
const done = arguments[arguments.length - 1];
import("/static/js/parse.js")
  .then((m) => done({ items: m.textsOfFile(name, source) }))
  .catch((e) => done({ error: String(e.message) }));
"""


def page_reads(driver: Chrome, name: str, source: str) -> list[str] | str:
    """The texts the page's preview reads from a file, or its error message."""
    answer = driver.execute_async_script(PARSE, source, name)
    if "error" in answer:
        error: str = answer["error"]
        return error
    return [item["text"] for item in answer["items"]]


def api_reads(name: str, source: str) -> list[str] | str:
    """The texts POST /v1/jobs reads from the same file (api/jobs/input.py), or its refusal."""
    fmt = file_format(None, name)
    try:
        return list(read_file(source.encode("utf-8"), fmt, "text", max_rows=1000))
    except InvalidInput as exc:
        return exc.detail


# One rule: the file is sent as it is and the API reads it; the page's preview (the
# count, the texts beside their results) must read it the same way, refusals included.
SAME_RULE = [
    # A header naming `text`, anywhere; quotes may hold , " and newlines; blank rows skipped.
    ("a.csv", 'id,text\r\n1,"one, ""two""\nthree"\r\n\r\n , \r\n2,four\r\n'),
    # A BOM and blank lines before the header; the name trimmed; no final line end.
    ("b.csv", "\ufeff\n\n n , text \n5,great\n1,awful"),
    ("c.csv", "text\r\nonly\rcr\r\n"),
    # Refused by both: no header naming `text` (names are exact), empty, a short row,
    # an unclosed quote, text after a closing quote.
    ("d.csv", "great,5\nawful,1\n"),
    ("e.csv", "Text\nx\n"),
    ("f.csv", "\n \n"),
    ("g.csv", "id,text\n1\n"),
    ("h.csv", 'text\n"never closed\n'),
    ("i.csv", 'text\n"quoted"after\n'),
    # JSONL: bare strings or objects' `text`, \n only ends a line (\r before it dropped).
    ("j.jsonl", '"plain"\n\n{"id": 2, "text": "field"}\r\n"a\u2028b"\n'),
    ("k.jsonl", '{"review": "no text field"}\n'),
    ("l.jsonl", '{"text": 5}\n'),
    ("m.jsonl", '"fine"\n{"text": \n'),
    ("n.ndjson", "\n\n"),
]


@pytest.mark.parametrize(("name", "source"), SAME_RULE, ids=[name for name, _ in SAME_RULE])
def test_the_page_reads_a_file_as_the_api_does(
    driver: Chrome, stack: Stack, name: str, source: str
) -> None:
    open_page(driver, stack.base_url)
    page, api = page_reads(driver, name, source), api_reads(name, source)
    if isinstance(api, str):
        assert isinstance(page, str), f"the API refuses ({api}); the page read {page}"
    else:
        assert page == api


def test_the_page_names_the_line_or_column_as_the_api_does(driver: Chrome, stack: Stack) -> None:
    open_page(driver, stack.base_url)
    for name, source in [
        ("bad.jsonl", '"fine"\n{"text": \n'),
        ("bad.csv", "id,review\n1,good\n"),
        ("short.csv", "id,text\n\n1,a\n2\n"),
        ("none.jsonl", '{"review": "x"}\n'),
    ]:
        page, api = page_reads(driver, name, source), api_reads(name, source)
        assert isinstance(page, str)
        assert isinstance(api, str)
        assert page.split(" (")[0] == api.split(" (")[0]
    assert page_reads(driver, "d.txt", "one\r\ntwo\n") == ["one", "two", ""]


def test_the_download_keeps_spreadsheets_from_running_texts(driver: Chrome, stack: Stack) -> None:
    open_page(driver, stack.base_url)
    csv_text = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        import("/static/js/parse.js").then((m) => done(m.toCsv(["text", "p"], arguments[0])));""",
        [["=HYPERLINK(1)", 0.5], ['say "hi", then', 1]],
    )
    assert csv_text == 'text,p\r\n\'=HYPERLINK(1),0.5\r\n"say ""hi"", then",1\r\n'


DROP = """
const [name, content] = arguments;
const files = new DataTransfer();
files.items.add(new File([content], name, { type: "application/x-ndjson" }));
document.getElementById("batch-form").dispatchEvent(
  new DragEvent("drop", { dataTransfer: files, bubbles: true, cancelable: true }));
"""


def test_a_dropped_jsonl_file_is_classified(driver: Chrome, stack: Stack) -> None:
    wait = open_page(driver, stack.base_url)
    texts = ["Superb.", "Terrible, just terrible.", "A lovely evening."]
    jsonl = "\n".join(f'{{"id": {i}, "text": "{text}"}}' for i, text in enumerate(texts))
    driver.execute_script(DROP, "dropped.jsonl", jsonl)
    wait.until(lambda d: "dropped.jsonl: 3 texts" in d.find_element(By.ID, "batch-source").text)
    driver.find_element(By.ID, "batch-submit").send_keys(Keys.ENTER)

    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#batch-table tbody tr")) == 3)
    cells = driver.find_elements(By.CSS_SELECTOR, "#batch-table tbody td[data-label]")
    assert [cell.text for cell in cells] == [p["label"] for p in api_predictions(stack, texts)]
