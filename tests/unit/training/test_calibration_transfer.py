"""The calibration-transfer study: the isotonic fit, and what held-out sources show."""

from __future__ import annotations

import numpy as np

from training.calibration_transfer import isotonic, isotonic_map, margins, transfer


def test_isotonic_pools_violators_to_their_weighted_mean() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0])
    knots, fitted = isotonic(x, np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 3.0, 1.0, 1.0]))
    assert knots.tolist() == x.tolist()
    assert fitted.tolist() == [0.0, 0.75, 0.75, 1.0]
    # Already non-decreasing: left as it is, whatever order x came in.
    knots, fitted = isotonic(np.array([2.0, 0.0, 1.0]), np.array([0.9, 0.1, 0.5]), np.ones(3))
    assert fitted.tolist() == [0.1, 0.5, 0.9]


def overconfident(rng: np.random.Generator, n: int, shrink: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-label answers stating confidence sigmoid(m), right with chance sigmoid(m / shrink)."""
    m = rng.uniform(0.0, 6.0, n)
    top = rng.integers(0, 2, n)
    right = rng.random(n) < 1.0 / (1.0 + np.exp(-m / shrink))
    labels = np.where(right, top, 1 - top)
    confidence = 1.0 / (1.0 + np.exp(-m))
    probabilities = np.empty((n, 2))
    probabilities[np.arange(n), top] = confidence
    probabilities[np.arange(n), 1 - top] = 1.0 - confidence
    return probabilities, labels


def sources(*shrinks: float, n: int = 1500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    parts = [overconfident(rng, n, shrink) for shrink in shrinks]
    names = np.repeat([f"s{i}" for i in range(len(shrinks))], n)
    return np.vstack([p for p, _ in parts]), np.concatenate([y for _, y in parts]), names


def test_a_shared_miscalibration_is_learned_from_the_other_sources() -> None:
    result = transfer(*sources(3.0, 3.0, 3.0))
    for kind in ("temperature", "served (T, exponent)", "isotonic"):
        for source, ece in result.held_out[kind].items():
            assert ece < 0.03 < result.held_out["none"][source], (kind, source)


def test_sources_that_disagree_defeat_one_map_even_in_sample() -> None:
    probabilities, labels, names = sources(1.0, 4.0)
    result = transfer(probabilities, labels, names)
    assert result.texts == {"s0": 1500, "s1": 1500}
    # Fitted on both, the most flexible monotone map still misses each of them.
    assert min(result.in_sample["isotonic"].values()) > 0.05
    # The map keeps the order of confidence: more margin, never less confident.
    mapped = isotonic_map(probabilities, labels, np.ones(len(labels)))(probabilities)
    order = np.argsort(margins(probabilities))
    assert np.all(np.diff(mapped.max(axis=1)[order]) >= -1e-12)
