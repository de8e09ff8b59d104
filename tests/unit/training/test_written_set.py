"""The hand-written training sentences: their shape, and the rule that keeps the hard set a test."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from spectrum.shared.cache import normalize_text
from training.data import DEFAULT_CACHE, HARD_FIELDS, LABELS, leak_key, read_all_hard_cases
from training.splits import LeakageError, Splits, load_splits
from training.written import (
    MAX_OVERLAP,
    SOURCE,
    WRITTEN_SET,
    check_written,
    read_written_set,
    word_overlap,
)

PHENOMENA = {
    "sarcasm",
    "sincere",
    "negated-praise",
    "negated-blame",
    "emoji-slang",
    "contrast",
    "mixed",
}


@pytest.fixture(scope="module")
def splits() -> Splits:
    return load_splits(DEFAULT_CACHE)


def test_every_line_is_a_labelled_sentence_of_a_known_kind() -> None:
    rows = [json.loads(line) for line in WRITTEN_SET.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 300
    assert all(sorted(row) == sorted(HARD_FIELDS) for row in rows)
    assert {row["phenomenon"] for row in rows} == PHENOMENA
    assert all(row["text"] == row["text"].strip() and row["text"] for row in rows)
    labels = Counter(row["label"] for row in rows)
    assert set(labels) == set(LABELS)
    assert min(labels.values()) / len(rows) > 0.35
    # Sarcasm's minimal pairs: the same praise words, meant, are there too.
    assert Counter(r["phenomenon"] for r in rows)["sincere"] >= 50
    examples = read_written_set()
    assert len(examples) == len(rows)
    assert all(e.source == SOURCE for e in examples)


def test_no_sentence_is_there_twice() -> None:
    texts = [e.text for e in read_written_set()]
    assert len({normalize_text(t) for t in texts}) == len(texts)
    assert len({leak_key(t) for t in texts}) == len(texts)


def test_the_shipped_sentences_keep_clear_of_every_held_out_text(splits: Splits) -> None:
    written, hard = read_written_set(), read_all_hard_cases()
    check_written(written, splits, hard)  # raises on a breach
    closest = max(word_overlap(w.text, h.text) for w in written for h in hard)
    assert closest <= MAX_OVERLAP


def test_a_held_out_text_or_a_reworded_hard_text_fails_the_check(splits: Splits) -> None:
    written, hard = read_written_set(), read_all_hard_cases()
    held_out = splits.test["tweets"][0]
    with pytest.raises(LeakageError, match="held-out"):
        check_written([*written, held_out], splits, hard)
    words = hard[0].text.split()
    reworded = type(hard[0])(" ".join(["Honestly,", *words[1:]]), 0, SOURCE, "x/y")
    assert word_overlap(reworded.text, hard[0].text) > MAX_OVERLAP
    with pytest.raises(LeakageError, match="shares more than 25%"):
        check_written([*written, reworded], splits, hard)


def test_word_overlap_is_the_jaccard_of_lowercased_word_sets() -> None:
    assert word_overlap("The film was GOOD.", "the film was good") == 1.0
    assert word_overlap("a b c d", "a b x y") == pytest.approx(2 / 6)
    assert word_overlap("", "") == 0.0
