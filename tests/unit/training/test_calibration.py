"""ECE, the calibration fit and the Wilson interval, on synthetic numbers with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spectrum.worker.runtimes.batching import softmax
from spectrum.worker.runtimes.model_dir import Calibration
from training.calibration import (
    apply_calibration,
    calibrated_nll,
    ece_sampling_floor,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
    log_probabilities,
    reliability_bins,
    source_weights,
    wilson_interval,
)


def synthetic(scale: float, n: int = 6000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Two-label logits whose calibrated temperature is `scale`: labels are drawn from
    the true probability q, the logits are scale x logit(q)."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.02, 0.98, n)
    labels = (rng.uniform(size=n) < q).astype(int)
    margin = scale * np.log(q / (1 - q))
    return np.stack([np.zeros(n), margin], axis=1), labels


def test_ece_of_hand_counted_answers() -> None:
    # Bins of 1/15: 0.95 and 0.99 share the last bin, 0.6 sits alone in its own.
    probabilities = np.array([[0.05, 0.95], [0.99, 0.01], [0.4, 0.6]])
    labels = np.array([1, 1, 1])  # right, wrong, right
    last = abs(0.5 - (0.95 + 0.99) / 2)  # accuracy 1/2 against confidence 0.97
    alone = abs(1.0 - 0.6)
    assert expected_calibration_error(probabilities, labels) == pytest.approx(
        (2 * last + alone) / 3
    )
    bins = reliability_bins(probabilities, labels)
    assert len(bins) == 15
    assert [b.count for b in bins if b.count] == [1, 2]
    assert sum(b.count for b in bins) == 3


def test_perfect_answers_have_no_calibration_error() -> None:
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(probabilities, np.array([0, 1])) == 0.0
    assert expected_calibration_error(probabilities, np.array([1, 0])) == 1.0


def test_an_over_confident_model_gets_t_above_one_and_a_lower_ece() -> None:
    logits, labels = synthetic(scale=3.0)
    temperature = fit_temperature(logits, labels)
    before = softmax(logits)
    after = softmax(logits, temperature)
    assert temperature == pytest.approx(3.0, rel=0.1)
    assert expected_calibration_error(before, labels) > 0.08
    assert expected_calibration_error(after, labels) < 0.03
    assert calibrated_nll(logits, labels, Calibration(temperature)) < calibrated_nll(
        logits, labels, Calibration()
    )
    # The labels, so the accuracy, stay as they were.
    assert (after.argmax(axis=1) == before.argmax(axis=1)).all()


def test_a_timid_model_gets_t_below_one_and_a_calibrated_one_about_one() -> None:
    timid, labels = synthetic(scale=0.5)
    assert fit_temperature(timid, labels) == pytest.approx(0.5, rel=0.1)
    calibrated, labels = synthetic(scale=1.0)
    assert fit_temperature(calibrated, labels) == pytest.approx(1.0, rel=0.1)


def test_the_fit_is_the_least_nll_of_a_grid() -> None:
    logits, labels = synthetic(scale=2.0, n=2000, seed=11)
    fitted = fit_temperature(logits, labels)
    grid = np.exp(np.linspace(math.log(0.1), math.log(10), 400))
    best = min(grid, key=lambda t: calibrated_nll(logits, labels, Calibration(float(t))))
    assert fitted == pytest.approx(best, rel=0.02)


def test_temperature_from_served_probabilities_equals_temperature_on_logits() -> None:
    logits, _ = synthetic(scale=2.0, n=50)
    logits = logits + np.arange(50)[:, None]  # a per-row shift changes no probability
    assert apply_calibration(softmax(logits), Calibration(2.5)) == pytest.approx(
        softmax(logits, 2.5), abs=1e-9
    )
    assert log_probabilities(np.array([[1.0, 0.0]]))[0, 1] < -600  # a zero stays finite


def test_wilson_interval() -> None:
    low, high = wilson_interval(81, 100)
    assert (low, high) == pytest.approx((0.7222, 0.8749), abs=1e-4)
    low, high = wilson_interval(50, 50)
    assert high == 1.0
    assert 0.92 < low < 0.93
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_the_sampling_floor_shrinks_with_more_texts() -> None:
    logits, _ = synthetic(scale=1.0, n=4000)
    probabilities = softmax(logits)
    few = ece_sampling_floor(probabilities[:150])
    many = ece_sampling_floor(probabilities)
    assert 0.0 < many < few
    assert many < 0.02 < few < 0.1


def powered(
    exponent: float, temperature: float, n: int = 8000, seed: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Two-label logits whose true margin is |m| ** exponent / temperature: labels are
    drawn from that probability, so the fit should find both numbers again."""
    rng = np.random.default_rng(seed)
    margin = rng.normal(0.0, 3.0, n)
    true = np.sign(margin) * np.abs(margin) ** exponent / temperature
    labels = (rng.uniform(size=n) < 1 / (1 + np.exp(-true))).astype(int)
    return np.stack([np.zeros(n), margin], axis=1), labels


def test_the_fit_finds_a_known_exponent_and_temperature_and_beats_t_alone() -> None:
    logits, labels = powered(exponent=1.6, temperature=2.5)

    found = fit_calibration(logits, labels)

    assert found.exponent == pytest.approx(1.6, abs=0.1)
    assert found.temperature == pytest.approx(2.5, rel=0.2)
    plain = Calibration(fit_temperature(logits, labels))
    assert calibrated_nll(logits, labels, found) < calibrated_nll(logits, labels, plain)
    served = apply_calibration(softmax(logits), found)
    assert expected_calibration_error(served, labels) < 0.02
    assert (served.argmax(axis=1) == logits.argmax(axis=1)).all()  # no label changes


def test_plain_temperature_data_is_fitted_with_exponent_about_one() -> None:
    logits, labels = synthetic(scale=2.0)
    found = fit_calibration(logits, labels)
    assert found.exponent == pytest.approx(1.0, abs=0.08)
    assert found.temperature == pytest.approx(2.0, rel=0.1)


def test_the_exponent_powers_the_two_label_margin() -> None:
    logits = np.array([[0.0, 2.0], [3.0, 0.5], [1.0, 1.0]])
    served = softmax(logits, 1.5, 2.0)
    margins = np.log(served[:, 1] / served[:, 0])
    assert margins == pytest.approx([2.0**2 / 1.5, -(2.5**2) / 1.5, 0.0], abs=1e-6)
    assert softmax(logits, 1.5, 1.0) == pytest.approx(softmax(logits, 1.5))


def test_every_source_weighs_the_same_whatever_its_size() -> None:
    sources = ["rt"] * 6 + ["tweets"] * 2 + ["nyt"]
    weights = source_weights(sources)
    totals = {
        source: float(sum(w for w, s in zip(weights, sources, strict=True) if s == source))
        for source in set(sources)
    }
    assert totals == pytest.approx({"rt": 3.0, "tweets": 3.0, "nyt": 3.0})
    assert float(weights.sum()) == pytest.approx(len(sources))
