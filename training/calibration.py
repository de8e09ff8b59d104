"""How far a model's probabilities mean what they say, and the calibration that fixes it.

- `expected_calibration_error`: the top-class probability cut into equal-width
  bins; per bin the gap between the share answered right and the mean
  probability, weighted by the bin's share of the texts (15 bins: the usual
  choice since Guo et al. 2017, so figures compare with published ones).
- `fit_temperature`: temperature scaling. One number T divides every logit
  before the softmax; it is fitted by minimising the negative log-likelihood on
  the validation split, never on a test set. T > 1 softens an over-confident
  model, T < 1 sharpens a timid one; the argmax, so every label, is unchanged.
- `fit_calibration`: T and an exponent of the margin (worker/runtimes/model_dir.py
  Calibration), the pair of least NLL, optionally weighted (`source_weights`);
  exponent 1 is the temperature alone, so it is never worse on the data.
- `wilson_interval`: a 95% interval for an accuracy measured on n texts, sound
  at the small n and the accuracies near 1 that the test sets have.

Everything takes log-probabilities or logits as numpy arrays (one row per
text, label order as the model's); softmax of log-probabilities divided by T is
the softmax of the logits divided by T, so the probabilities a runtime served
at T = 1 are enough to calibrate it.
"""

from __future__ import annotations

import json
import math
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spectrum.worker.runtimes.batching import softmax
from spectrum.worker.runtimes.model_dir import CALIBRATION_FILE, Calibration

BINS = 15
# The search range of T: far wider than any fine-tuned classifier needs.
T_RANGE = (0.05, 20.0)
# The exponents `fit_calibration` tries (steps of 0.01); 1.0 is plain temperature scaling.
EXPONENTS = np.round(np.arange(0.5, 3.0001, 0.01), 2)


def log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Logits up to a per-row constant, from softmax outputs (zeros kept finite)."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-300, None))


def fit_temperature(
    logits: np.ndarray,
    labels: np.ndarray,
    *,
    tolerance: float = 1e-5,
    weights: np.ndarray | None = None,
    exponent: float = 1.0,
) -> float:
    """The T in `T_RANGE` of least (weighted) NLL: golden-section search over log T.

    The NLL is convex in 1/T (the logits, scaled by the exponent's per-row factor,
    enter linearly; log-sum-exp is convex), so it has one minimum along log T and
    the search finds it.
    """
    if len(labels) == 0:
        raise ValueError("no examples to fit a temperature on")
    low, high = math.log(T_RANGE[0]), math.log(T_RANGE[1])
    ratio = (math.sqrt(5) - 1) / 2

    def loss(log_t: float) -> float:
        return calibrated_nll(logits, labels, Calibration(math.exp(log_t), exponent), weights)

    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    while high - low > tolerance:
        if loss_a <= loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return math.exp((low + high) / 2)


def calibrated_nll(
    logits: np.ndarray,
    labels: np.ndarray,
    calibration: Calibration,
    weights: np.ndarray | None = None,
) -> float:
    """Mean NLL of the true labels under what a runtime with `calibration` serves,
    each text counted `weights[i]` times (all once without weights)."""
    served = softmax(np.asarray(logits, dtype=np.float64), *astuple(calibration))
    picked = np.log(np.clip(served[np.arange(len(labels)), labels], 1e-300, None))
    return float(-np.average(picked, weights=weights))


def source_weights(sources: list[str]) -> np.ndarray:
    """Weights under which every source counts as much as every other, whatever its size.

    The validation split is 71% Rotten Tomatoes; fitted on it as it is, the
    calibration would suit film snippets and leave tweets, reviews and news to chance.
    """
    counts = {source: sources.count(source) for source in set(sources)}
    return np.array([len(sources) / (len(counts) * counts[s]) for s in sources])


def fit_calibration(
    logits: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> Calibration:
    """Temperature and exponent of least (weighted) NLL: for every exponent in
    `EXPONENTS`, the best T by `fit_temperature`; the pair of least NLL wins. With
    exponent 1 among them, the result is never worse on the data than T alone."""
    best: tuple[float, Calibration] | None = None
    for exponent in EXPONENTS:
        temperature = fit_temperature(
            logits, labels, weights=weights, exponent=float(exponent), tolerance=1e-4
        )
        found = Calibration(temperature, float(exponent))
        loss = calibrated_nll(logits, labels, found, weights)
        if best is None or loss < best[0]:
            best = (loss, found)
    assert best is not None  # EXPONENTS is not empty
    return best[1]


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    confidence: float  # mean top-class probability in the bin (nan when empty)
    accuracy: float  # share of its texts answered right (nan when empty)


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> list[Bin]:
    """Equal-width bins of the top-class probability: (low, high], the first [0, high]."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    where = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    found = []
    for b in range(bins):
        inside = where == b
        count = int(inside.sum())
        found.append(
            Bin(
                low=float(edges[b]),
                high=float(edges[b + 1]),
                count=count,
                confidence=float(confidence[inside].mean()) if count else math.nan,
                accuracy=float(right[inside].mean()) if count else math.nan,
            )
        )
    return found


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS
) -> float:
    """Sum over bins of (texts in bin / texts) x |accuracy - confidence|."""
    total = len(labels)
    if total == 0:
        return math.nan
    return sum(
        b.count / total * abs(b.accuracy - b.confidence)
        for b in reliability_bins(probabilities, labels, bins)
        if b.count
    )


def ece_sampling_floor(probabilities: np.ndarray, draws: int = 200, seed: int = 0) -> float:
    """The median ECE of a perfectly calibrated model with these probabilities on this
    many texts: right answers drawn with the stated probability. Below it, a set's ECE
    cannot tell calibration from chance (a few hundred texts put it near 0.03)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if len(probabilities) == 0:
        return math.nan
    rng = np.random.default_rng(seed)
    top = probabilities.argmax(axis=1)
    wrong = (top + 1) % probabilities.shape[1]  # ECE reads only right or wrong
    confidence = probabilities.max(axis=1)
    found = [
        expected_calibration_error(
            probabilities, np.where(rng.uniform(size=len(top)) < confidence, top, wrong)
        )
        for _ in range(draws)
    ]
    return float(np.median(found))


def apply_calibration(probabilities: np.ndarray, calibration: Calibration) -> np.ndarray:
    """What a runtime with `calibration` serves, from what it serves uncalibrated."""
    return softmax(log_probabilities(probabilities), *astuple(calibration))


def wilson_interval(hits: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% for z = 1.96)."""
    if total == 0:
        return math.nan, math.nan
    share = hits / total
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def write_calibration(model_dir: Path, calibration: Calibration, facts: dict[str, Any]) -> Path:
    """Store T and the exponent where every runtime reads them (worker/runtimes/model_dir.py).

    The file counts in the model's version, so a new calibration gives new cache keys.
    """
    path = model_dir / CALIBRATION_FILE
    body = {
        "temperature": round(calibration.temperature, 6),
        "exponent": round(calibration.exponent, 6),
        **facts,
    }
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return path
