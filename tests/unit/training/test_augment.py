"""The transfer-set rules: new sentences from the training split, deterministic."""

from __future__ import annotations

import random

from training.augment import augmented_texts, dropped, negated, spliced


def test_negated_puts_not_after_the_first_auxiliary_and_skips_negated_text() -> None:
    assert negated("The plot is clever and the cast was fine.") == (
        "The plot is not clever and the cast was fine."
    )
    assert negated("It Would have worked.") == "It Would not have worked."
    assert negated("This isn't good.") is None
    assert negated("Not a single laugh was there.") is None
    assert negated("A fine film.") is None  # no auxiliary


def test_spliced_joins_two_sentences_with_but() -> None:
    assert spliced("The cast is great.", "The script drags.") == (
        "The cast is great, but the script drags."
    )


def test_dropped_leaves_words_out_in_order_and_keeps_at_least_three() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    out = dropped(text, random.Random(1))
    words = out.split()
    assert 3 <= len(words) < len(text.split())
    assert words == [w for w in text.split() if w in words]  # order kept
    assert dropped("a b c", random.Random(1), share=1.0) == "a b c"


def test_augmented_texts_are_the_same_for_a_seed_and_follow_the_counts() -> None:
    texts = [f"The {n}th film is good and the {n}th song was bad." for n in range(50)]
    counts = {"negated": 10, "spliced": 5, "dropped": 7}

    first = augmented_texts(texts, seed=3, counts=counts)

    assert first == augmented_texts(texts, seed=3, counts=counts)
    assert first != augmented_texts(texts, seed=4, counts=counts)
    by_rule = {r: sum(t.source == f"augmented:{r}" for t in first) for r in counts}
    assert by_rule == counts
    assert all(" not " in t.text for t in first if t.source == "augmented:negated")
