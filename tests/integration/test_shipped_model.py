"""The shipped model end to end: the stack answers what `make eval`'s runtime answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectrum.shared.config import SHIPPED_MODEL_ID, Settings
from tests.integration.stack import Stack

MODEL_DIR = Path(__file__).resolve().parents[2] / SHIPPED_MODEL_ID
TEXTS = [
    "What a wonderful, warm and funny film.",
    "Dull, slow and far too long.",
    "The plot is thin but the actors are great fun to watch.",
    "I want my money back.",
]


@pytest.mark.skipif(not MODEL_DIR.is_dir(), reason=f"no shipped model at {MODEL_DIR}")
def test_the_shipped_model_answers_like_make_eval(make_stack: type[Stack]) -> None:
    from spectrum.worker.runtimes import load_runtime

    stack = make_stack(model_id=str(MODEL_DIR), model_name="sentiment-minilm-it")
    stack.start_worker()
    stack.start_api()
    with stack.client() as client:
        answer = client.post("/v1/predict", json={"texts": TEXTS})
        listed = client.get("/v1/models").json()["models"]  # every model on this Redis
        (model,) = [m for m in listed if m["name"] == stack.model_name]

    assert answer.status_code == 200, answer.text
    settings = Settings(model_id=str(MODEL_DIR), model_name="sentiment-minilm-it")
    runtime, card = load_runtime(settings)
    expected = runtime.predict(TEXTS)
    predictions = answer.json()["predictions"]
    assert [p["label"] for p in predictions] == ["POSITIVE", "NEGATIVE", "POSITIVE", "NEGATIVE"]
    for prediction, row in zip(predictions, expected, strict=True):
        got = [prediction["probabilities"][label] for label in card.labels]
        assert got == pytest.approx(row, abs=1e-4)
    assert model["runtime"] == card.runtime
    assert model["metrics"]["rt"] >= 0.84
    assert set(model["metrics"]) >= {"rt", "tweets", "amazon", "nyt"}
