"""shared/predictions.py: cached and computed answers merged in input order, one label rule."""

from __future__ import annotations

import pytest

from spectrum.shared.cache import CachedPrediction
from spectrum.shared.contracts import PredictOutcome
from spectrum.shared.predictions import Answer, computed_rows, merge, misses, top_label


def test_the_top_label_is_the_most_probable_and_the_first_on_a_tie() -> None:
    assert top_label({"NEG": 0.25, "POS": 0.75}) == "POS"
    assert top_label({"NEG": 0.5, "POS": 0.5}) == "NEG"
    assert top_label({"POS": 0.5, "NEG": 0.5}) == "POS"


def test_misses_are_the_distinct_texts_not_found_in_first_seen_order() -> None:
    assert misses(["c", "a", "b", "c", "a"], {"b": None}) == ["c", "a"]
    assert misses(["a"], {"a": None}) == []


def test_an_outcome_gives_one_answer_per_text_with_its_truncation() -> None:
    outcome = PredictOutcome(
        model="m",
        version="v1",
        labels=["NEG", "POS"],
        probabilities=[[0.9, 0.1], [0.2, 0.8]],
        truncated=[1],
    )

    assert computed_rows(outcome) == [
        CachedPrediction({"NEG": 0.9, "POS": 0.1}, False),
        CachedPrediction({"NEG": 0.2, "POS": 0.8}, True),
    ]


def test_answers_come_in_input_order_from_the_cache_or_the_computation() -> None:
    found = {"hit": CachedPrediction({"NEG": 0.25, "POS": 0.75}, False)}
    computed = {"new": CachedPrediction({"NEG": 0.6, "POS": 0.4}, True)}

    answers = merge(["new", "hit", "new"], found, computed)

    assert answers == [
        Answer("NEG", 0.6, {"NEG": 0.6, "POS": 0.4}, cached=False, truncated=True),
        Answer("POS", 0.75, {"NEG": 0.25, "POS": 0.75}, cached=True, truncated=False),
        Answer("NEG", 0.6, {"NEG": 0.6, "POS": 0.4}, cached=False, truncated=True),
    ]


def test_the_cache_wins_over_a_computed_answer_for_the_same_text() -> None:
    # A text is computed only when missed, so both happen only by a caller's mistake:
    # the answer then still says where it came from.
    found = {"t": CachedPrediction({"A": 1.0}, False)}
    assert merge(["t"], found, {"t": CachedPrediction({"A": 0.0}, False)})[0].cached is True


def test_a_text_neither_found_nor_computed_is_an_error() -> None:
    with pytest.raises(KeyError, match="lost"):
        merge(["lost"], {}, {})
