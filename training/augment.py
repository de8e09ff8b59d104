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
  be read from what remains (the n-gram sampling of Tang et al., 2019);
- `contracted`: as `negated`, with the contraction people write ("is not" ->
  "isn't", "can" -> "can't"), on other sentences than `negated` took;
- `unnegated`: a sentence negated once after an auxiliary, with the negation
  taken out ("The jokes don't land" -> "The jokes do land");
- `framed`: a sentence inside a clause that denies it ("I don't think ...", "It
  isn't true that ...") or one that asserts it ("I'd say ...", "Honestly, ..."),
  as many of each, so that the frame alone does not give the answer.

Rules 1 to 3 were the first set; 4 to 6 came with the second distillation,
because the student trailed the teacher most on negation. They draw from their
own random stream, so the first three's sentences are the same as before.

Deterministic for a seed; nothing here reads a test set or the hard set.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from training.unlabelled import Text

AUXILIARY = re.compile(
    r"\b(is|are|was|were|am|do|does|did|can|could|will|would|should|has|have|had|must)\b",
    re.IGNORECASE,
)
NEGATED = re.compile(r"\b(not|never|no|n't|nothing|nobody|neither|nor)\b|n't\b", re.IGNORECASE)
COUNTS = {
    "negated": 4000,
    "spliced": 3000,
    "dropped": 3000,
    "contracted": 2000,
    "unnegated": 2000,
    "framed": 3000,
}
CONTRACTIONS = {
    "is": "isn't",
    "are": "aren't",
    "was": "wasn't",
    "were": "weren't",
    "do": "don't",
    "does": "doesn't",
    "did": "didn't",
    "can": "can't",
    "could": "couldn't",
    "will": "won't",
    "would": "wouldn't",
    "should": "shouldn't",
    "has": "hasn't",
    "have": "haven't",
    "had": "hadn't",
    "must": "mustn't",
}
UNDONE = {contracted: verb for verb, contracted in CONTRACTIONS.items()}
ONE_NEGATION = re.compile(
    r"\b(" + "|".join(CONTRACTIONS) + r")(?: not\b|n't\b)|\b(can't|won't)\b", re.IGNORECASE
)
DENYING = ("I don't think {}", "I wouldn't say {}", "It isn't true that {}", "I can't say {}")
ASSERTING = ("I think {}", "I'd say {}", "It's true that {}", "Honestly, {}")
# A sentence a frame can take starts with one of these and has an auxiliary (no fragments).
SUBJECTS = {"the", "this", "that", "these", "those", "it", "its", "it's", "a", "an", "he", "she"}
SUBJECTS |= {"they", "we", "you", "i", "his", "her", "their", "there", "my", "our", "your"}


def negated(text: str) -> str | None:
    """The sentence with "not" after its first auxiliary; None if it has none or is negated."""
    if NEGATED.search(text):
        return None
    match = AUXILIARY.search(text)
    if match is None:
        return None
    return f"{text[: match.end()]} not{text[match.end() :]}"


def contracted(text: str) -> str | None:
    """As `negated`, written with the contraction ("is" -> "isn't"); None where "am" is first."""
    if NEGATED.search(text):
        return None
    match = AUXILIARY.search(text)
    if match is None or match.group(0).lower() not in CONTRACTIONS:
        return None
    word = CONTRACTIONS[match.group(0).lower()]
    if match.group(0)[0].isupper():
        word = word.capitalize()
    return f"{text[: match.start()]}{word}{text[match.end() :]}"


def unnegated(text: str) -> str | None:
    """The sentence without its one negation after an auxiliary; None if it has other ones."""
    matches = list(ONE_NEGATION.finditer(text))
    if len(matches) != 1 or len(NEGATED.findall(text)) != 1:
        return None
    match = matches[0]
    found = match.group(0)
    verb = UNDONE[found.lower()] if match.group(2) else match.group(1)  # can't, won't: group 2
    if found[0].isupper():
        verb = verb.capitalize()
    return f"{text[: match.start()]}{verb}{text[match.end() :]}"


def framed(text: str, frame: str) -> str:
    first = text.split(maxsplit=1)[0]
    keep = first == "I" or first.startswith("I'") or any(c.isupper() for c in first[1:])
    body = text.rstrip(" .!?;,")
    return frame.format(body if keep else body[:1].lower() + body[1:]) + "."


def spliced(first: str, second: str) -> str:
    return f"{first.rstrip(' .!?;,')}, but {second[:1].lower()}{second[1:]}"


def dropped(text: str, rng: random.Random, share: float = 1 / 7) -> str:
    words = text.split()
    kept = [w for w in words if rng.random() >= share]
    return " ".join(kept if len(kept) >= 3 else words[:3])


def augmented_texts(
    texts: Sequence[str], *, seed: int = 29, counts: dict[str, int] | None = None
) -> list[Text]:
    """Up to `counts` new sentences per rule from `texts` (the training split's).

    A rule that `counts` does not name makes none.
    """
    counts = dict.fromkeys(COUNTS, 0) | (counts if counts is not None else COUNTS)
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
    rng = random.Random(seed + 1)  # the later rules' own stream: the first three stay as they were
    taken = {t.text for t in found}
    made = [c for c in (contracted(t) for t in pool) if c is not None]
    made = [c for c in made if negated_twin(c) not in taken]
    found += [
        Text(t, "augmented:contracted")
        for t in rng.sample(made, min(len(made), counts["contracted"]))
    ]
    made = [u for u in (unnegated(t) for t in pool) if u is not None]
    found += [
        Text(t, "augmented:unnegated")
        for t in rng.sample(made, min(len(made), counts["unnegated"]))
    ]
    frames = [*DENYING, *ASSERTING]
    whole = [t for t in pool if t.split()[0].lower() in SUBJECTS and AUXILIARY.search(t)]
    whole = [t for t in whole if not re.search(r"[.!?]\s", t)]
    for i, text in enumerate(rng.sample(whole, min(len(whole), counts["framed"]))):
        found.append(Text(framed(text, frames[i % len(frames)]), "augmented:framed"))
    return found


def negated_twin(text: str) -> str:
    """The `negated` form of a `contracted` sentence ("isn't" -> "is not"), to skip pairs."""
    return ONE_NEGATION.sub(lambda m: _spelled(m.group(0)), text, count=1)


def _spelled(contraction: str) -> str:
    verb = UNDONE.get(contraction.lower(), contraction)
    return f"{verb.capitalize() if contraction[0].isupper() else verb} not"
