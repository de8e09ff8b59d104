"""The whole `make model` pipeline on a small slice with the tiny model: a broken step fails CI."""

from __future__ import annotations

import json
from pathlib import Path

from training.build import SERVABLE
from training.build import main as build_model
from training.evaluate import DEFAULT_CACHE


def test_pipeline_builds_a_servable_model_with_a_card(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "slice-model"
    code = build_model(
        [
            "--out", str(out),
            "--cache", str(DEFAULT_CACHE),
            "--encoder", str(tiny_model_dir),
            "--slice", "300",
            "--epochs", "1",
            "--speed-texts", "64",
        ]
    )  # fmt: skip

    assert code == 0
    card = json.loads((out / "model_card.json").read_text())
    assert card["labels"] == ["NEGATIVE", "POSITIVE"]
    assert set(card["test_accuracy"]) >= {"rt", "tweets", "amazon", "nyt"}
    assert all(0.0 <= v <= 1.0 for v in card["test_accuracy"].values())
    assert set(card["lexicon_accuracy"]) == set(card["test_accuracy"])
    assert card["training"]["epochs"][0]["epoch"] == 1
    names = {r["name"]: r for r in card["runtimes"]}
    assert names["torch-fp32"]["available"]
    assert names["torch-fp32"]["agreement"]["rt"] == 1.0
    assert card["default_runtime"]["name"] in SERVABLE
    assert card["served_runtime"].startswith(("openvino-", "torch-"))
    assert min(card["served_agreement_with_fp32"].values()) > 0.5
    assert (out / "MODEL_CARD.md").read_text().startswith("# slice-model")
    # Calibrated on validation, the hard set reported, a reliability diagram per set.
    stored = json.loads((out / "calibration.json").read_text())
    assert card["calibration"]["temperature"] == stored["temperature"] > 0
    assert "hard" in card["test_accuracy"]
    assert set(card["calibration"]["ece_after"]) == set(card["test_accuracy"])
    assert all((out / "reliability" / f"{name}.png").is_file() for name in card["test_accuracy"])

    # The worker's runtime serves what the pipeline wrote.
    from worker.runtimes.hf import load_torch

    runtime, served = load_torch(str(out), "slice-model", threads=1, max_tokens=64)
    assert runtime.temperature == stored["temperature"]
    assert served.labels == ["NEGATIVE", "POSITIVE"]
    assert served.metrics == card["test_accuracy"]
    (row,) = runtime.predict(["a fine film"])
    assert abs(sum(row) - 1) < 1e-3
