"""New sentences made from the training split, for the teacher to label and the student to learn.

Distillation transfers only what the transfer set shows: where the teacher is
better than the labels (negation, a verdict that turns on "but"), the student
learns it only from texts that have it. Three rules, each applied to training
texts of 4 to 30 words, none of which needs a label (the teacher gives one):

- `negated`: "not" after the first auxiliary verb ("The plot is clever" -> "The
  plot is not clever"), for sentences that have one and are not negated yet;
- `spliced`: two training sentences joined by "but" (the clause after "but"
  usually decides, and the teacher knows when it does not);
- `dropped`: a sentence with about one word in seven left out, so a verdict must
  be read from what remains (the n-gram sampling of Tang et al., 2019).

Deterministic for a seed; nothing here reads a test set or the hard set.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from training.data import Text

AUXILIARY = re.compile(
    r"\b(is|are|was|were|am|do|does|did|can|could|will|would|should|has|have|had|must)\b",
    re.IGNORECASE,
)
NEGATED = re.compile(r"\b(not|never|no|n't|nothing|nobody|neither|nor)\b|n't\b", re.IGNORECASE)
COUNTS = {"negated": 4000, "spliced": 3000, "dropped": 3000}


def negated(text: str) -> str | None:
    """The sentence with "not" after its first auxiliary; None if it has none or is negated."""
    if NEGATED.search(text):
        return None
    match = AUXILIARY.search(text)
    if match is None:
        return None
    return f"{text[: match.end()]} not{text[match.end() :]}"


def spliced(first: str, second: str) -> str:
    return f"{first.rstrip(' .!?;,')}, but {second[:1].lower()}{second[1:]}"


def dropped(text: str, rng: random.Random, share: float = 1 / 7) -> str:
    words = text.split()
    kept = [w for w in words if rng.random() >= share]
    return " ".join(kept if len(kept) >= 3 else words[:3])


def augmented_texts(
    texts: Sequence[str], *, seed: int = 29, counts: dict[str, int] | None = None
) -> list[Text]:
    """Up to `counts` new sentences per rule from `texts` (the training split's)."""
    counts = counts or COUNTS
    rng = random.Random(seed)
    pool = [t for t in texts if 4 <= len(t.split()) <= 30]
    found: list[Text] = []
    candidates = [n for n in (negated(t) for t in pool) if n is not None]
    found += [
        Text(t, "augmented:negated")
        for t in rng.sample(candidates, min(len(candidates), counts["negated"]))
    ]
    short = [t for t in pool if len(t.split()) <= 15]
    for _ in range(counts["spliced"]):
        first, second = rng.sample(short, 2)
        found.append(Text(spliced(first, second), "augmented:spliced"))
    for text in rng.sample(pool, min(len(pool), counts["dropped"])):
        found.append(Text(dropped(text, rng), "augmented:dropped"))
    return found
