"""POST /v1/predict over real HTTP, through a real broker, worker and result backend."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from spectrum.worker.runtimes.lexicon import load_lexicon
from tests.integration.stack import Stack, worker_task_total


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("lexicon"), redis_url, max_texts_per_request=8)
    try:
        stack.start_worker()
        stack.start_api()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client


def unique(text: str) -> str:
    """A text no earlier run has cached."""
    return f"{text} {uuid.uuid4().hex[:10]}"


def test_round_trip_through_a_real_worker(client: httpx.Client, stack: Stack) -> None:
    text = unique("I love this wonderful, brilliant film!")
    answer = client.post("/v1/predict", json={"text": text})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == {"name": stack.model_name, "version": body["model"]["version"]}
    (prediction,) = body["predictions"]
    assert prediction["cached"] is False
    assert set(prediction["probabilities"]) == {"NEGATIVE", "POSITIVE"}
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)
    assert prediction["label"] == "POSITIVE"
    assert prediction["score"] == prediction["probabilities"]["POSITIVE"]
    # The worker computed exactly what the runtime computes in-process.
    runtime, card = load_lexicon(stack.model_name)
    expected = runtime.predict([text])[0]
    assert [prediction["probabilities"][label] for label in card.labels] == pytest.approx(expected)
    assert body["model"]["version"] == card.version


def test_a_batch_is_answered_in_order(client: httpx.Client) -> None:
    good, bad = unique("a truly great and lovely movie"), unique("awful, boring and terrible")
    answer = client.post("/v1/predict", json={"texts": [good, bad, good]})

    assert answer.status_code == 200, answer.text
    labels = [p["label"] for p in answer.json()["predictions"]]
    assert labels == ["POSITIVE", "NEGATIVE", "POSITIVE"]
    first, _, third = answer.json()["predictions"]
    assert first["probabilities"] == third["probabilities"]


def test_a_cache_hit_skips_the_worker(client: httpx.Client, stack: Stack) -> None:
    text = unique("The plot was dull but the actors were good")
    first = client.post("/v1/predict", json={"text": text}).json()["predictions"][0]
    tasks_before = worker_task_total(stack)

    again = client.post("/v1/predict", json={"texts": [text, f"  {text}\n"]})

    assert again.status_code == 200, again.text
    predictions = again.json()["predictions"]
    assert [p["cached"] for p in predictions] == [True, True]
    assert predictions[0]["probabilities"] == first["probabilities"]
    assert worker_task_total(stack) == tasks_before


def test_only_the_misses_of_a_batch_reach_the_worker(client: httpx.Client, stack: Stack) -> None:
    seen = unique("nice")
    client.post("/v1/predict", json={"text": seen})
    tasks_before = worker_task_total(stack)

    answer = client.post("/v1/predict", json={"texts": [seen, unique("bad"), unique("ok")]})

    assert [p["cached"] for p in answer.json()["predictions"]] == [True, False, False]
    assert worker_task_total(stack) == tasks_before + 1  # both misses in one task


def test_concurrent_misses_travel_together(client: httpx.Client, stack: Stack) -> None:
    words = ["good", "terrible", "fine", "awful", "great", "boring", "lovely", "dull"]
    # Different sentiments, so a caller handed another caller's row would show.
    texts = [unique(f"request {i} was {words[i % len(words)]}") for i in range(24)]
    tasks_before = worker_task_total(stack)

    with ThreadPoolExecutor(max_workers=len(texts)) as pool:
        answers = list(pool.map(lambda t: client.post("/v1/predict", json={"text": t}), texts))

    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    alone = [client.post("/v1/predict", json={"text": t}).json() for t in texts]
    for answer, again in zip(answers, alone, strict=True):  # each got its own text's answer
        assert again["predictions"][0]["cached"] is True
        got = answer.json()["predictions"][0]["probabilities"]
        assert got == again["predictions"][0]["probabilities"]
    # The first request goes alone to the idle worker; the rest gather while it is busy.
    assert worker_task_total(stack) - tasks_before < len(texts) / 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"text": ""}, "empty"),
        ({"text": " \n\t "}, "empty"),
        ({"texts": []}, "at least one"),
        ({"texts": ["fine", ""]}, r"texts\[1\]"),
        ({"text": 5}, "valid string"),
        ({"texts": "not a list"}, "valid list"),
        ({"texts": ["ok", 3]}, "valid string"),
        ({"texts": ["x"] * 9}, "at most 8"),
        ({}, "exactly one"),
        ({"text": "a", "texts": ["b"]}, "exactly one"),
        ({"text": "a", "extra": 1}, "extra"),
        ({"text": "nul \x00 inside"}, "NUL"),
    ],
)
def test_bad_bodies_get_422_with_a_reason(
    client: httpx.Client, body: dict[str, object], reason: str
) -> None:
    answer = client.post("/v1/predict", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "InvalidInput"
    assert answer.json()["detail"]
    assert re.search(reason, answer.json()["detail"], re.IGNORECASE), answer.json()["detail"]


@pytest.mark.parametrize(
    "raw", [b'{"text": ', b"not json at all", b"\xff\xfe{}", b'["a list"]', b""]
)
def test_unreadable_bodies_get_422_with_a_reason(client: httpx.Client, raw: bytes) -> None:
    answer = client.post("/v1/predict", content=raw, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "InvalidInput"
    assert answer.json()["detail"]


def test_probes_and_model_list(client: httpx.Client, stack: Stack) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"broker": "ok", "backend": "ok", "workers": "ok"}
    listed = client.get("/v1/models").json()  # every model on this Redis, the default first
    model = listed["models"][0]
    assert listed["default"] == model["name"] == stack.model_name
    assert model["labels"] == ["NEGATIVE", "POSITIVE"]
    assert model["runtime"] == "lexicon"
    assert model["live_workers"] == 1
    assert model["queue"] == stack.queue


def test_request_id_travels_to_the_worker_and_text_is_never_logged(
    client: httpx.Client, stack: Stack
) -> None:
    secret = unique("my very private sentence")
    answer = client.post(
        "/v1/predict", json={"text": secret}, headers={"X-Request-ID": "trace-me-123"}
    )
    assert answer.headers["x-request-id"] == "trace-me-123"
    worker_log = stack.procs[0].log()
    assert '"request_ids": ["trace-me-123"]' in worker_log
    assert secret.split()[-1] not in stack.logs()
