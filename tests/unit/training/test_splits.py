"""The real data sources, read from the registry packages, split without leakage."""

from __future__ import annotations

import dataclasses

import pytest

from training.data import DEFAULT_CACHE, Example
from training.splits import LeakageError, Splits, check_no_leakage, load_splits


@pytest.fixture(scope="module")
def splits() -> Splits:
    return load_splits(DEFAULT_CACHE)


def test_every_source_is_read_and_split(splits: Splits) -> None:
    sizes = splits.sizes()
    assert sizes["train"] > 10_000
    assert sizes["validation"] > 1_000
    for name in ("rt", "tweets", "amazon", "nyt"):
        assert sizes[f"test/{name}"] > 500, sizes
    assert {e.source for e in splits.train} >= {"rt", "tweets", "amazon", "nyt"}


def test_no_movie_is_on_both_sides(splits: Splits) -> None:
    train_movies = {e.group for e in splits.train if e.source == "rt"}
    test_movies = {e.group for e in splits.test["rt"]}
    assert train_movies
    assert test_movies
    assert not train_movies & test_movies


def test_vader_test_halves_keep_only_clear_ratings(splits: Splits) -> None:
    for name in ("tweets", "amazon", "nyt"):
        ratings = [e.rating for e in splits.test[name]]
        assert all(r is not None and abs(r) > 1 for r in ratings)
        assert all(e.label == int((e.rating or 0) > 0) for e in splits.test[name])


def test_the_leakage_check_fails_the_build(splits: Splits) -> None:
    check_no_leakage(splits)
    leaked_text = splits.test["rt"][0].text.upper() + " !"
    leaked = dataclasses.replace(
        splits, train=[*splits.train, Example(leaked_text, 1, "rt", "some-movie")]
    )
    with pytest.raises(LeakageError, match="'rt'"):
        check_no_leakage(leaked)
