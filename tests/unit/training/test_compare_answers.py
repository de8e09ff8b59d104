"""The paired comparison of two models' answers: the counts and the exact McNemar test."""

from __future__ import annotations

import pytest

from training.compare_answers import compare, mcnemar_exact
from training.data import Example


def test_the_exact_mcnemar_test() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)  # all five one way: 2 x 1/2^5
    assert mcnemar_exact(0, 5) == mcnemar_exact(5, 0)
    assert mcnemar_exact(24, 5) == pytest.approx(0.000546, rel=1e-3)


def test_fixed_broke_and_groups() -> None:
    examples = [
        Example("a", 1, "hard2", "product/sarcasm"),
        Example("b", 0, "hard2", "product/sarcasm"),
        Example("c", 1, "hard2", "app/plain"),
        Example("d", 0, "hard2", "app/plain"),
    ]
    result = compare([0, 0, 1, 1], [1, 0, 0, 0], examples)
    assert (result.fixed, result.broke) == (2, 1)  # "a" and "d" fixed, "c" broken
    assert result.right == (2, 3)
    assert result.groups == {"sarcasm": (2, 1, 2), "plain": (2, 1, 1)}
    assert result.p == 1.0
