"""The transfer-set rules: new sentences from the training split, deterministic."""

from __future__ import annotations

import random

from training.augment import (
    augmented_texts,
    contracted,
    dropped,
    framed,
    negated,
    spliced,
    unnegated,
)


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


def test_contracted_writes_the_negation_as_people_do() -> None:
    assert contracted("The plot is clever.") == "The plot isn't clever."
    assert contracted("It Can work.") == "It Can't work."
    assert contracted("They will win.") == "They won't win."
    assert contracted("I am happy.") is None  # "am" has no contraction
    assert contracted("It isn't good.") is None  # negated already


def test_unnegated_takes_out_the_one_negation_and_skips_the_rest() -> None:
    assert unnegated("The jokes don't land.") == "The jokes do land."
    assert unnegated("It is not funny.") == "It is funny."
    assert unnegated("Won't buy again.") == "Will buy again."
    assert unnegated("It can't be saved.") == "It can be saved."
    assert unnegated("It is not good and never funny.") is None  # two negations
    assert unnegated("Nothing works.") is None  # no negation after an auxiliary
    assert unnegated("A fine film.") is None


def test_framed_lowers_the_sentence_into_the_frame_but_keeps_names() -> None:
    assert framed("The cast is great!", "I don't think {}") == "I don't think the cast is great."
    assert framed("I loved it.", "Honestly, {}") == "Honestly, I loved it."
    assert framed("DiCaprio is fine.", "I'd say {}") == "I'd say DiCaprio is fine."


def test_the_later_rules_leave_the_first_rules_sentences_as_they_were() -> None:
    texts = [f"The {n}th film is good and the {n}th song was bad." for n in range(50)]
    texts += [f"The {n}th show isn't funny at all." for n in range(20)]
    first_rules = {"negated": 10, "spliced": 5, "dropped": 7}
    every_rule = {**first_rules, "contracted": 6, "unnegated": 4, "framed": 8}

    before = augmented_texts(texts, seed=3, counts=first_rules)
    after = augmented_texts(texts, seed=3, counts=every_rule)

    assert after[: len(before)] == before
    by_rule = {r: sum(t.source == f"augmented:{r}" for t in after) for r in every_rule}
    assert by_rule == every_rule
    later = after[len(before) :]
    assert all("n't" in t.text for t in later if t.source == "augmented:contracted")
    assert all("n't" not in t.text for t in later if t.source == "augmented:unnegated")
    twins = {t.text.replace("isn't", "is not") for t in later if t.source == "augmented:contracted"}
    assert not twins & {t.text for t in before}  # no sentence in both spellings
