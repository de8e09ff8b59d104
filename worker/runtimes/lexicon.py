"""VADER, the zero-download fallback: a lexicon and rules, no model weights."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from spectrum.shared.config import Settings
from spectrum.shared.contracts import ModelCard

LABELS = ["NEGATIVE", "POSITIVE"]


class LexiconRuntime:
    """Maps VADER's compound score c in [-1, 1] to P(POSITIVE) = (c + 1) / 2.

    The numbers are a rescaled polarity, not calibrated probabilities; a text
    with no sentiment words scores 0.5 / 0.5.
    """

    def __init__(self) -> None:
        self._analyzer = SentimentIntensityAnalyzer()

    @property
    def labels(self) -> list[str]:
        return LABELS

    def predict(self, texts: Sequence[str]) -> list[list[float]]:
        rows = []
        for text in texts:
            compound = float(self._analyzer.polarity_scores(text)["compound"])
            positive = (compound + 1.0) / 2.0
            rows.append([1.0 - positive, positive])
        return rows


def load_lexicon(name: str) -> tuple[LexiconRuntime, ModelCard]:
    card = ModelCard(
        name=name,
        version=f"vader-{version('vaderSentiment')}",
        labels=LABELS,
        runtime="lexicon",
        source="vaderSentiment (lexicon and rules, no weights)",
        description=(
            "VADER lexicon fallback: P(POSITIVE) is the compound polarity rescaled to [0, 1], "
            "not a trained classifier's probability."
        ),
    )
    return LexiconRuntime(), card


def load(settings: Settings) -> tuple[LexiconRuntime, ModelCard]:
    """The registry's entry point (worker/runtimes/__init__.py): VADER whatever the model id."""
    return load_lexicon(settings.served_model_name)
