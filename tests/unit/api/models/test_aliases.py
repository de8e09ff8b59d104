"""Aliases: the sticky weighted choice, the shadow pick, and the document's rules."""

from __future__ import annotations

from collections import Counter

import pytest

from spectrum.api.models.aliases import (
    Alias,
    InvalidAliases,
    Shadow,
    aliases_document,
    load_aliases,
    parse_aliases,
)

CANARY = Alias("sentiment", (("stable", 90), ("canary", 10)), Shadow("candidate", 0.25))
TEXTS = [f"text number {i}" for i in range(10_000)]


def test_the_choice_follows_the_weights_over_many_texts() -> None:
    counts = Counter(CANARY.choose(text) for text in TEXTS)
    assert set(counts) == {"stable", "canary"}
    assert 0.085 < counts["canary"] / len(TEXTS) < 0.115


def test_the_same_text_always_gets_the_same_target_and_shadow_pick() -> None:
    again = Alias("sentiment", (("stable", 90), ("canary", 10)), Shadow("candidate", 0.25))
    assert [CANARY.choose(t) for t in TEXTS[:500]] == [again.choose(t) for t in TEXTS[:500]]
    assert [CANARY.shadowed(t) for t in TEXTS[:500]] == [again.shadowed(t) for t in TEXTS[:500]]


def test_a_single_target_takes_everything() -> None:
    alone = Alias("a", (("only", 3),))
    assert {alone.choose(t) for t in TEXTS[:200]} == {"only"}
    assert not any(alone.shadowed(t) for t in TEXTS[:200])  # no shadow, no pick


def test_the_shadow_share_is_a_share_of_texts() -> None:
    picked = sum(CANARY.shadowed(text) for text in TEXTS)
    assert 0.23 < picked / len(TEXTS) < 0.27
    everything = Alias("a", (("m", 1),), Shadow("c", 1.0))
    assert all(everything.shadowed(t) for t in TEXTS[:200])


def test_a_valid_document_round_trips() -> None:
    document = {
        "sentiment": {
            "targets": {"stable": 90, "canary": 10},
            "shadow": {"model": "candidate", "share": 0.25},
        },
        "plain": {"targets": {"stable": 1}},
    }
    aliases = parse_aliases(document, models=["stable", "canary"])
    assert aliases["sentiment"] == CANARY
    assert aliases["plain"].shadow is None
    assert parse_aliases(aliases_document(aliases)) == aliases
    assert load_aliases('{"a": {"targets": {"m": 2}}}')["a"].targets == (("m", 2),)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "must be a JSON object"),
        ({"Bad Name": {"targets": {"m": 1}}}, "not a model name"),
        ({"m": {"targets": {"x": 1}}}, "a model has this name"),
        ({"a": {"targets": {}}}, "an object of model name -> weight"),
        ({"a": {"targets": ["m"]}}, "an object of model name -> weight"),
        ({"a": {"targets": {"m": 0}}}, "positive integer"),
        ({"a": {"targets": {"m": 1.5}}}, "positive integer"),
        ({"a": {"targets": {"m": True}}}, "positive integer"),
        ({"a": {"targets": {"m": -3}}}, "positive integer"),
        ({"a": {"targets": {"UPPER": 1}}}, "not a model name"),
        ({"a": {"targets": {"m": 1}, "weights": {}}}, "unknown field"),
        ({"a": {"targets": {"m": 1}, "shadow": {"model": "c", "share": 0}}}, r"\(0, 1\]"),
        ({"a": {"targets": {"m": 1}, "shadow": {"model": "c", "share": 1.5}}}, r"\(0, 1\]"),
        ({"a": {"targets": {"m": 1}, "shadow": {"model": "c"}}}, "'model' and 'share'"),
        ({"a": {"targets": {"m": 1}, "shadow": "c"}}, "'model' and 'share'"),
        ({"a": {"targets": {"b": 1}}, "b": {"targets": {"m": 1}}}, "is an alias"),
        ({"a": "m"}, "must be an object"),
    ],
)
def test_a_document_that_breaks_a_rule_says_which(document: object, reason: str) -> None:
    with pytest.raises(InvalidAliases, match=reason):
        parse_aliases(document, models=["m"])


def test_bad_json_is_an_invalid_document() -> None:
    with pytest.raises(InvalidAliases, match="not valid JSON"):
        load_aliases("{not json")
