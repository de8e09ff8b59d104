"""A model directory's calibration.json: every runtime serves its T and exponent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from spectrum.worker.runtimes.batching import softmax
from spectrum.worker.runtimes.model_dir import (
    CALIBRATION_FILE,
    Calibration,
    calibration_of,
    directory_version,
)

TEXTS = ["the movie was great", "awful boring plot , not good", "i", "we love it " * 12]


def calibrated_copy(
    source: Path, target: Path, temperature: object, exponent: float | None = None
) -> Path:
    shutil.copytree(source, target)
    body = {"temperature": temperature, **({"exponent": exponent} if exponent else {})}
    (target / CALIBRATION_FILE).write_text(json.dumps(body))
    return target


def as_if_calibrated(rows: list[list[float]], temperature: float) -> np.ndarray:
    """softmax(logits / T) from softmax(logits): log p is the logits up to a constant."""
    scaled = np.log(np.asarray(rows, dtype=np.float64)) / temperature
    shifted = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    result: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return result


def test_the_calibration_is_read_and_a_bad_one_fails_the_load(tmp_path: Path) -> None:
    assert calibration_of(tmp_path) == Calibration(1.0, 1.0)  # no file: as trained
    (tmp_path / CALIBRATION_FILE).write_text('{"temperature": 1.75}')
    assert calibration_of(tmp_path) == Calibration(1.75, 1.0)  # a file of before: T alone
    (tmp_path / CALIBRATION_FILE).write_text('{"temperature": 1.75, "exponent": 1.4}')
    assert calibration_of(tmp_path) == Calibration(1.75, 1.4)
    for name in ("temperature", "exponent"):
        for bad in ("0", "-1.5", '"warm"', "true", "null", "1e999"):
            body = {"temperature": 1.0, name: "BAD"}
            (tmp_path / CALIBRATION_FILE).write_text(json.dumps(body).replace('"BAD"', bad))
            with pytest.raises(ValueError, match=name):
                calibration_of(tmp_path)


def test_a_new_temperature_is_a_new_version(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Cache keys carry the version: answers of another T must not be read back."""
    plain = directory_version(tiny_model_dir)
    warm = directory_version(calibrated_copy(tiny_model_dir, tmp_path / "warm", 2.0))
    cool = directory_version(calibrated_copy(tiny_model_dir, tmp_path / "cool", 0.5))
    assert len({plain, warm, cool}) == 3


def test_torch_runtime_divides_the_logits_by_t(tiny_model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from spectrum.worker.runtimes.hf import load_torch

    sharp = calibrated_copy(tiny_model_dir, tmp_path / "sharp", 0.05)
    plain_runtime, plain_card = load_torch(
        str(tiny_model_dir), "tiny", precision="fp32", threads=1, max_tokens=64
    )
    sharp_runtime, sharp_card = load_torch(
        str(sharp), "tiny", precision="fp32", threads=1, max_tokens=64
    )
    assert (plain_runtime.temperature, sharp_runtime.temperature) == (1.0, 0.05)
    assert sharp_card.version != plain_card.version
    plain = plain_runtime.predict(TEXTS)
    got = np.asarray(sharp_runtime.predict(TEXTS))
    assert got == pytest.approx(as_if_calibrated(plain, 0.05), abs=1e-4)
    assert np.abs(got - np.asarray(plain)).max() > 0.05  # T changed the answers...
    assert (got.argmax(axis=1) == np.asarray(plain).argmax(axis=1)).all()  # ...never a label
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_torch_runtime_serves_the_exponent(tiny_model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from spectrum.worker.runtimes.hf import load_torch

    powered = calibrated_copy(tiny_model_dir, tmp_path / "powered", 0.05, exponent=2.0)
    plain_runtime, plain_card = load_torch(
        str(tiny_model_dir), "tiny", precision="fp32", threads=1, max_tokens=64
    )
    runtime, card = load_torch(str(powered), "tiny", precision="fp32", threads=1, max_tokens=64)

    assert (runtime.temperature, runtime.exponent) == (0.05, 2.0)
    assert card.version != plain_card.version
    plain = np.asarray(plain_runtime.predict(TEXTS))
    got = np.asarray(runtime.predict(TEXTS))
    assert got == pytest.approx(softmax(np.log(plain), 0.05, 2.0), abs=1e-4)
    assert (got.argmax(axis=1) == plain.argmax(axis=1)).all()
