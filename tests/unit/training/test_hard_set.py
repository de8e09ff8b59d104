"""The hand-written hard set: its shape, and that no training or validation text is in it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from spectrum.shared.cache import normalize_text
from training.data import DEFAULT_CACHE, HARD_FIELDS, HARD_SET, LABELS, leak_key, read_hard_set
from training.evaluate import HARD, evaluation_sets
from training.splits import LeakageError, Splits, load_splits

DOMAINS = {"product", "restaurant", "support", "social", "workplace", "film-book"}
PHENOMENA = {
    "sarcasm",
    "negated-praise",
    "negated-blame",
    "contrast",
    "emoji-slang",
    "short",
    "mixed",
    "plain",
}


def rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in HARD_SET.read_text(encoding="utf-8").splitlines()]


def test_every_line_is_a_labelled_sentence_of_a_known_kind() -> None:
    found = rows()
    assert len(found) >= 300
    assert all(sorted(row) == sorted(HARD_FIELDS) for row in found)
    assert {row["label"] for row in found} == set(LABELS)
    assert {row["domain"] for row in found} == DOMAINS
    assert {row["phenomenon"] for row in found} == PHENOMENA
    assert all(row["text"] == row["text"].strip() and row["text"] for row in found)
    # Neither label dominates, and every domain has both.
    labels = Counter(row["label"] for row in found)
    assert min(labels.values()) / len(found) > 0.4
    for domain in DOMAINS:
        assert {row["label"] for row in found if row["domain"] == domain} == set(LABELS)


def test_no_sentence_is_there_twice() -> None:
    texts = [row["text"] for row in rows()]
    assert len({normalize_text(t) for t in texts}) == len(texts)  # what the cache keys on
    assert len({leak_key(t) for t in texts}) == len(texts)  # letters and digits only


def test_a_malformed_line_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "hard.jsonl"
    row = {"text": "fine", "label": "NEUTRAL", "domain": "x", "phenomenon": "y"}
    bad.write_text(json.dumps(row))
    with pytest.raises(ValueError, match="NEUTRAL"):
        read_hard_set(bad)
    bad.write_text(json.dumps({"text": "fine", "label": "POSITIVE"}))
    with pytest.raises(ValueError, match="fields"):
        read_hard_set(bad)
    examples = read_hard_set()
    assert len(examples) == len(rows())
    assert all(e.source == HARD and e.label in (0, 1) for e in examples)


@pytest.fixture(scope="module")
def splits() -> Splits:
    return load_splits(DEFAULT_CACHE)


def test_no_hard_sentence_is_in_training_or_validation(splits: Splits, tmp_path: Path) -> None:
    seen = {leak_key(e.text) for e in splits.train + splits.validation}
    assert not [row["text"] for row in rows() if leak_key(row["text"]) in seen]
    sets = evaluation_sets(splits)
    assert len(sets[HARD]) == len(rows())
    # The same check, run by every evaluation, fails on a sentence that is in training.
    leaked = tmp_path / "leaked.jsonl"
    text = splits.train[0].text.upper()
    leaked.write_text(
        json.dumps({"text": text, "label": "POSITIVE", "domain": "x", "phenomenon": "y"}) + "\n"
    )
    with pytest.raises(LeakageError, match="'hard'"):
        evaluation_sets(splits, leaked)
