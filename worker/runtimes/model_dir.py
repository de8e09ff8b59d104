"""What every runtime reads from a local model directory besides the weights."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CARD_FILE = "model_card.json"
# OpenVINO IR written by `make model` next to the PyTorch weights.
OPENVINO_FILE = "openvino_model.xml"
# The temperature (and exponent) that calibrate the model's probabilities.
CALIBRATION_FILE = "calibration.json"


def directory_version(path: Path) -> str:
    """Hash of the files that decide the model's answers, so a retrained model gets new keys.

    The PyTorch weights, config, tokenizer and calibration count (a new
    temperature changes every probability served, so cached answers of the old
    one must not be read); the OpenVINO IR counts only where it is the only weights
    (a quantized model), since elsewhere it is converted from the weights; the model
    card is documentation.
    """
    files = sorted(p for p in path.iterdir() if p.is_file())
    ir_only = not any(f.suffix == ".safetensors" or f.name == "pytorch_model.bin" for f in files)
    digest = hashlib.sha256()
    for file in files:
        if file.name.startswith("model_card"):
            continue
        if file.name.startswith("openvino_model") and not ir_only:
            continue
        if file.suffix in {".json", ".txt", ".safetensors", ".bin", ".model", ".xml"}:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def card_facts(path: Path) -> dict[str, Any]:
    """Description, test metrics and declared aliases from the model card, for /v1/models."""
    card_file = path / CARD_FILE
    if not card_file.is_file():
        return {}
    card = json.loads(card_file.read_text(encoding="utf-8"))
    return {
        "description": str(card.get("summary", "")),
        "metrics": {str(k): float(v) for k, v in card.get("test_accuracy", {}).items()},
        "aliases": [str(name) for name in card.get("aliases", [])],
    }


def labels_of(path: Path) -> list[str]:
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    id2label = {int(k): str(v) for k, v in config["id2label"].items()}
    return [id2label[i] for i in range(len(id2label))]


@dataclass(frozen=True)
class Calibration:
    """How a runtime turns logits into served probabilities (training/calibration.py).

    softmax(logits * margin ** (exponent - 1) / temperature), margin = the row's top
    logit less its second: with two labels the margin served is margin ** exponent /
    temperature. exponent 1 is plain temperature scaling; above 1 it softens doubtful
    answers more than sure ones. Every factor is positive, so no label changes.
    """

    temperature: float = 1.0
    exponent: float = 1.0


def calibration_of(path: Path) -> Calibration:
    """The directory's calibration: the logits as trained (T = 1, exponent 1) without a file.

    A file that holds no positive, finite temperature (or exponent, where it has
    one) fails the load: a worker must not serve probabilities that are silently
    uncalibrated.
    """
    calibration = path / CALIBRATION_FILE
    if not calibration.is_file():
        return Calibration()
    body = json.loads(calibration.read_text(encoding="utf-8"))
    return Calibration(
        temperature=_positive(body.get("temperature"), "temperature", calibration),
        exponent=_positive(body.get("exponent", 1.0), "exponent", calibration),
    )


def _positive(value: object, name: str, where: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {name} is not a number: {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{where}: {name} must be positive and finite: {value!r}")
    return float(value)
