"""The whole `make model` pipeline on a small slice with the tiny model: a broken step fails CI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from training.build import SERVABLE
from training.build import main as build_model
from training.data import DEFAULT_CACHE
from training.distill import main as write_teacher_targets
from training.distill import read_targets, text_key
from training.splits import load_splits

# Each build trains, exports, evaluates and times six runtimes: about a minute on an
# idle 2-core machine, several on a busy one.
pytestmark = pytest.mark.timeout(900)


def slice_build(out: Path, encoder: Path, *extra: str) -> int:
    return build_model(
        [
            "--out", str(out),
            "--cache", str(DEFAULT_CACHE),
            "--encoder", str(encoder),
            "--slice", "300",
            "--epochs", "1",
            "--speed-texts", "64",
            *extra,
        ]
    )  # fmt: skip


@pytest.fixture(scope="module")
def slice_model(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A model built on labels alone: the test pipeline's and the student's teacher."""
    out = tmp_path_factory.mktemp("built") / "slice-model"
    assert slice_build(out, tiny_model_dir, "--no-distil") == 0
    return out


def test_pipeline_builds_a_servable_model_with_a_card(slice_model: Path) -> None:
    out = slice_model
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
    from spectrum.worker.runtimes.hf import load_torch

    runtime, served = load_torch(str(out), "slice-model", threads=1, max_tokens=64)
    assert runtime.temperature == stored["temperature"]
    assert served.labels == ["NEGATIVE", "POSITIVE"]
    assert served.metrics == card["test_accuracy"]
    (row,) = runtime.predict(["a fine film"])
    assert abs(sum(row) - 1) < 1e-3


def test_a_student_distils_the_teachers_targets_over_unlabelled_text(
    tmp_path: Path, slice_model: Path, tiny_model_dir: Path
) -> None:
    targets = tmp_path / "targets.json.gz"
    assert write_teacher_targets(["--teacher", str(slice_model), "--out", str(targets)]) == 0
    stored = read_targets(targets)
    train = load_splits(DEFAULT_CACHE).train
    assert stored.teacher["unlabelled"] > 5_000
    assert len(stored.log_probs) >= len(train) + stored.teacher["unlabelled"] - 10
    row = stored.log_probs[text_key(train[0].text)]
    assert abs(sum(math.exp(v) for v in row) - 1) < 1e-3

    out = tmp_path / "student"
    assert slice_build(out, tiny_model_dir, "--targets", str(targets)) == 0

    card = json.loads((out / "model_card.json").read_text())
    distillation = card["distillation"]
    assert distillation["used"] is True
    assert distillation["teacher"]["model"] == "slice-model"
    assert sum(distillation["unlabelled"].values()) == 300
    assert card["data"][-1]["sha256"] == distillation["targets_sha256"]  # listed as data
    assert "Distilled from **slice-model**" in (out / "MODEL_CARD.md").read_text()
    # The hand-written sentences trained too (a slice's tenth of them), on their labels.
    assert card["written"]["texts"] == 30
    assert card["written"]["repeat"] == 3
    assert "training/sets/written.jsonl" in [d["origin"].split()[0] for d in card["data"]]
    with pytest.raises(FileNotFoundError, match="no teacher targets"):
        slice_build(tmp_path / "none", tiny_model_dir, "--targets", str(tmp_path / "absent.gz"))
