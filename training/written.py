"""The hand-written training sentences (training/sets/written.jsonl, how: WRITTEN.md).

No corpus on the package registries labels sarcasm, and the labelled sources
(film snippets, tweets, Amazon and NYT sentences) hold too little negation of a
single word to teach it. So the repository writes its own: sarcastic blame in
praise words beside sincere praise in the same words (minimal pairs), negated
praise and blame, slang and emoji, contrast. The student trains on their labels
alone (the teacher has no targets for them and is wrong on sarcasm anyway).

They are written by the same kind of author as the hard set, so the rule that
keeps the hard set a test lives here: no written text may equal a validation,
test or hard-set text, nor share more than `MAX_OVERLAP` of its words with a
hard-set text (`check_written` fails the build otherwise). Ideas can still
recur where words do not, so the hard set's figures for a model trained on
these sentences are an optimistic measure of the phenomena.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from training.data import Example, leak_key, read_sentence_set
from training.splits import LeakageError, Splits

WRITTEN_SET = Path(__file__).resolve().parent / "sets" / "written.jsonl"
SOURCE = "written"
# Word-set Jaccard above which a written text counts as a hard-set text rewritten.
MAX_OVERLAP = 0.25
WORD = re.compile(r"[a-z0-9']+")


def read_written_set(path: Path = WRITTEN_SET) -> list[Example]:
    return read_sentence_set(path, SOURCE)


def word_overlap(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' sets of lowercased words."""
    first, second = set(WORD.findall(a.lower())), set(WORD.findall(b.lower()))
    union = first | second
    return len(first & second) / len(union) if union else 0.0


def check_written(written: Sequence[Example], splits: Splits, hard: Sequence[Example]) -> None:
    """LeakageError if a written text is a held-out text or too close to a hard-set one."""
    held = [*splits.validation, *hard, *(e for items in splits.test.values() for e in items)]
    held_keys = {leak_key(e.text) for e in held}
    equal = [e.text for e in written if leak_key(e.text) in held_keys]
    if equal:
        raise LeakageError(f"{len(equal)} written texts are held-out texts, e.g. {equal[0]!r}")
    for example in written:
        for other in hard:
            if word_overlap(example.text, other.text) > MAX_OVERLAP:
                raise LeakageError(
                    f"written text {example.text!r} shares more than {MAX_OVERLAP:.0%} of its "
                    f"words with hard-set text {other.text!r}"
                )
