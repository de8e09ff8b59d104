"""The analytics arithmetic: nearest-rank percentiles, shares and the PSI."""

from __future__ import annotations

import math

import pytest

from spectrum.api.analytics.figures import PSI_EPSILON, percentile, psi, shares


def test_nearest_rank_percentiles_are_values_of_the_sequence() -> None:
    ordered = [float(v) for v in range(1, 101)]  # 1 .. 100
    assert percentile(ordered, 50) == 50.0
    assert percentile(ordered, 90) == 90.0
    assert percentile(ordered, 99) == 99.0
    assert percentile(ordered, 100) == 100.0
    assert percentile(ordered, 0.1) == 1.0
    assert percentile([3.0, 7.0, 9.0], 50) == 7.0  # rank ceil(1.5) = 2
    assert percentile([5.0], 99) == 5.0


@pytest.mark.parametrize("p", [0, -1, 100.5])
def test_a_percentile_outside_0_100_is_refused(p: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], p)


def test_no_values_have_no_percentile() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_shares_sum_to_one_and_an_empty_count_has_none() -> None:
    assert shares({"POSITIVE": 3, "NEGATIVE": 1}) == {"NEGATIVE": 0.25, "POSITIVE": 0.75}
    assert shares({}) == {}
    assert shares({"A": 0}) == {}


def test_psi_of_equal_shares_is_zero_whatever_the_totals() -> None:
    assert psi({"POSITIVE": 80, "NEGATIVE": 20}, {"POSITIVE": 8, "NEGATIVE": 2}) == 0.0


def test_psi_of_a_swapped_split_by_hand() -> None:
    reference = {"POSITIVE": 80, "NEGATIVE": 20}
    recent = {"POSITIVE": 20, "NEGATIVE": 80}
    expected = (0.2 - 0.8) * math.log(0.2 / 0.8) + (0.8 - 0.2) * math.log(0.8 / 0.2)
    assert psi(reference, recent) == pytest.approx(expected)
    assert psi(reference, recent) == pytest.approx(psi(recent, reference))  # symmetric
    assert expected > 0.2


def test_a_label_missing_from_one_window_is_floored_at_epsilon() -> None:
    index = psi({"A": 50, "B": 50}, {"A": 100})
    expected = (1.0 - 0.5) * math.log(1.0 / 0.5) + (PSI_EPSILON - 0.5) * math.log(PSI_EPSILON / 0.5)
    assert index == pytest.approx(expected)
    assert math.isfinite(index or math.inf)


def test_an_empty_window_has_no_psi() -> None:
    assert psi({}, {"A": 1}) is None
    assert psi({"A": 1}, {}) is None


def test_psi_is_never_negative() -> None:
    for recent in ({"A": 1, "B": 9}, {"A": 5, "B": 5}, {"A": 9, "B": 1}, {"C": 3}):
        value = psi({"A": 3, "B": 7}, recent)
        assert value is not None
        assert value >= 0.0
