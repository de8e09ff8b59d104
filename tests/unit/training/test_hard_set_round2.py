"""The second round of hard cases: its shape, and the rules that keep it clear of the
training sentences (training/sets/HARD.md, "Round 2")."""

from __future__ import annotations

import json
from collections import Counter

from spectrum.shared.cache import normalize_text
from tests.unit.training.test_hard_set import PHENOMENA as FIRST_ROUND_PHENOMENA
from training.data import (
    DEFAULT_CACHE,
    HARD2_SET,
    HARD_FIELDS,
    LABELS,
    leak_key,
    read_hard2_set,
    read_hard_set,
)
from training.evaluate import HARD2, evaluation_sets
from training.splits import load_splits
from training.written import MAX_OVERLAP, WORD, read_written_set, word_overlap

# The first round's phenomena but `short`.
PHENOMENA = FIRST_ROUND_PHENOMENA - {"short"}
# Two-word openings the training sentences use twice or more ("what a", "love how"):
# templates a model may have learned as such, so round 2 opens no sentence with one.
TEMPLATE_USES = 2


def rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in HARD2_SET.read_text(encoding="utf-8").splitlines()]


def opener(text: str) -> str:
    return " ".join(WORD.findall(text.lower())[:2])


def test_every_line_is_a_labelled_sentence_of_a_known_kind() -> None:
    found = rows()
    assert len(found) >= 150
    assert all(sorted(row) == sorted(HARD_FIELDS) for row in found)
    assert {row["phenomenon"] for row in found} == PHENOMENA
    labels = Counter(row["label"] for row in found)
    assert set(labels) == set(LABELS)
    assert min(labels.values()) / len(found) > 0.3
    texts = [row["text"] for row in found]
    assert (
        len({normalize_text(t) for t in texts}) == len({leak_key(t) for t in texts}) == len(texts)
    )
    examples = read_hard2_set()
    assert [e.text for e in examples] == texts
    assert {e.source for e in examples} == {HARD2}


def test_it_keeps_clear_of_the_training_sentences_and_the_first_round() -> None:
    earlier = [*read_written_set(), *read_hard_set()]
    for row in rows():
        closest = max(word_overlap(row["text"], e.text) for e in earlier)
        assert closest <= MAX_OVERLAP, row["text"]
    templates = Counter(opener(e.text) for e in read_written_set())
    opened = [row["text"] for row in rows() if templates[opener(row["text"])] >= TEMPLATE_USES]
    assert not opened


def test_no_text_is_in_training_validation_or_a_test_split() -> None:
    splits = load_splits(DEFAULT_CACHE)
    seen = {
        leak_key(e.text)
        for e in [*splits.train, *splits.validation, *(e for s in splits.test.values() for e in s)]
    }
    assert not [row["text"] for row in rows() if leak_key(row["text"]) in seen]
    assert len(evaluation_sets(splits)[HARD2]) == len(rows())
