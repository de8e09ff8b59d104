"""A worker serving a transformers model from a local directory, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.stack import Stack
from tests.tiny_model import LABELS


def test_tiny_distilbert_round_trip(make_stack: type[Stack], tiny_model_dir: Path) -> None:
    pytest.importorskip("torch")
    from spectrum.worker.runtimes.hf import load_torch

    stack = make_stack(model_id=str(tiny_model_dir), runtime_threads=1, max_tokens=64)
    stack.start_worker()
    stack.start_api()
    texts = ["the movie was great", "awful boring plot", "the   movie was great"]

    with stack.client() as client:
        answer = client.post("/v1/predict", json={"texts": texts})
        listed = client.get("/v1/models").json()["models"]  # every model on this Redis
        (model,) = [m for m in listed if m["name"] == stack.model_name]

    assert answer.status_code == 200, answer.text
    body = answer.json()
    # The same settings the worker got: the same precision (bf16 where the CPU has it).
    runtime, card = load_torch(str(tiny_model_dir), stack.model_name, threads=1, max_tokens=64)
    assert body["model"] == {"name": stack.model_name, "version": card.version}
    assert model["labels"] == LABELS
    assert model["runtime"] == card.runtime
    expected = runtime.predict(["the movie was great", "awful boring plot"])
    got = [[p["probabilities"][label] for label in LABELS] for p in body["predictions"]]
    assert got[0] == pytest.approx(expected[0], abs=1e-5)
    assert got[1] == pytest.approx(expected[1], abs=1e-5)
    assert got[2] == got[0]  # the same text once normalized
    for prediction in body["predictions"]:
        assert set(prediction["probabilities"]) == set(LABELS)
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert prediction["label"] == max(
            prediction["probabilities"], key=prediction["probabilities"].get
        )


def test_a_text_longer_than_the_window_is_answered_truncated(
    make_stack: type[Stack], tiny_model_dir: Path
) -> None:
    pytest.importorskip("torch")
    stack = make_stack(model_id=str(tiny_model_dir), runtime_threads=1, max_tokens=16)
    stack.start_worker()
    stack.start_api()
    texts = ["short and sweet", "great " * 100]
    with stack.client() as client:
        first = client.post("/v1/predict", json={"texts": texts}).json()["predictions"]
        again = client.post("/v1/predict", json={"texts": texts}).json()["predictions"]
    assert [(p["truncated"], p["cached"]) for p in first] == [(False, False), (True, False)]
    assert [(p["truncated"], p["cached"]) for p in again] == [(False, True), (True, True)]
