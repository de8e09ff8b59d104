"""One text's answer, wherever it came from: cached and computed answers merged, the label picked.

The gateway's /v1/predict and a worker's job chunk both answer a batch the same
way: read the cache, compute the distinct texts it lacked (`misses`), then merge
(`merge`). Every text gets an answer, in input order; a text that appears twice
is computed once and answered twice; the label is the most probable one, the
first in the model's label order on a tie, so a cached answer and a computed one
name the same label.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from typing import NamedTuple

from spectrum.shared.cache import CachedPrediction
from spectrum.shared.contracts import PredictOutcome


class Answer(NamedTuple):
    """What a text's prediction says, in the order the API's and the jobs' results list it."""

    label: str
    score: float
    probabilities: dict[str, float]
    cached: bool
    truncated: bool  # the model saw only the start of the text


def top_label(probabilities: Mapping[str, float]) -> str:
    """The most probable label; on a tie the first (the model's label order)."""
    return max(probabilities, key=probabilities.__getitem__)


def misses(texts: Iterable[str], found: Container[str]) -> list[str]:
    """The distinct texts not in `found`, in first-seen order: what is left to compute."""
    return list(dict.fromkeys(text for text in texts if text not in found))


def computed_rows(outcome: PredictOutcome) -> list[CachedPrediction]:
    """A worker's outcome as one answer per text it was sent, in order."""
    cut = set(outcome.truncated)
    return [
        CachedPrediction(dict(zip(outcome.labels, row, strict=True)), i in cut)
        for i, row in enumerate(outcome.probabilities)
    ]


def merge(
    texts: Sequence[str],
    found: Mapping[str, CachedPrediction],
    computed: Mapping[str, CachedPrediction],
) -> list[Answer]:
    """Each text's answer in input order: the cache's where it had one, else the computed one.

    Raises KeyError for a text in neither: every miss must have been computed.
    """
    answers = []
    for text in texts:
        cached = text in found
        probabilities, truncated = found[text] if cached else computed[text]
        label = top_label(probabilities)
        answers.append(Answer(label, probabilities[label], probabilities, cached, truncated))
    return answers
