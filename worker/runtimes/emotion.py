"""The NRC Emotion Lexicon as NRCLex ships it: a spectrum over eight emotions, by word counts.

Only the package's data file (`nrclex/data/nrc_en.json`, word -> emotions) is read:
NRCLex's own class tokenizes with TextBlob, whose NLTK corpora cannot be fetched
where this runs, and the counting below is a few lines. See
models/emotion/MODEL_CARD.md for the lexicon's terms of use and what the numbers
mean (shares of matched words, not calibrated probabilities).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import structlog

from spectrum.shared.config import Settings
from spectrum.shared.contracts import ModelCard
from spectrum.worker.runtimes.model_dir import card_facts

log = structlog.get_logger(__name__)

PACKAGE = "nrclex"
LEXICON_FILE = "nrclex/data/nrc_en.json"
CARD_DIR = Path("models/emotion")
# NRC's eight basic emotions (Plutchik's), alphabetical; the lexicon's `positive` and
# `negative` are sentiment, not emotions, and are left out.
EMOTIONS = ["anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust"]
NEUTRAL = "neutral"
LABELS = [*EMOTIONS, NEUTRAL]
# Words that name a group of people (by sexuality, colour, origin, gender, age or
# disability) and carry emotions in this lexicon ("lesbian": disgust, sadness; "black":
# sadness; "immigrant": fear): the pejorative, context-free associations Zad et al.
# (2021, "Hell Hath No Fury? Correcting Bias in the NRC Emotion Lexicon") found. A text
# about people must not read as disgust or fear because it names who they are.
IDENTITY_TERMS = frozenset(
    {
        "lesbian", "black", "white", "immigrant", "foreigner", "refugee", "boy",
        "female", "young", "disabled", "cripple", "negro", "gypsy",
    }
)  # fmt: skip
# Part of the version: a change to how words are found changes answers like a new lexicon.
RULES = "words-v1: lowercase words, suffix strip, negation scope 3, identity terms dropped"

NEGATORS = frozenset({"not", "no", "never", "nor", "without", "hardly", "neither", "nothing"})
NEGATION_SCOPE = 3
_CLAUSE = re.compile(r"[.,;:!?()\[\]\"]+")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Tried in order when a word is not in the lexicon as written: (suffix, replacement).
_SUFFIXES = (
    ("ies", "y"),
    ("ied", "y"),
    ("ing", ""),
    ("ing", "e"),
    ("ed", ""),
    ("ed", "e"),
    ("es", ""),
    ("s", ""),
    ("ly", ""),
    ("ness", ""),
)


def tokenize(text: str) -> list[list[str]]:
    """Lowercase words, grouped by clause (punctuation ends a negation's reach)."""
    lowered = text.lower().replace("\u2019", "'")
    return [_WORD.findall(clause) for clause in _CLAUSE.split(lowered)]


def is_negator(word: str) -> bool:
    return word in NEGATORS or word.endswith("n't")


class EmotionLexiconRuntime:
    """P(emotion) = that emotion's share of the emotion tags of the matched words.

    A word counts once per emotion the lexicon gives it; a word within
    NEGATION_SCOPE words after a negator in the same clause counts for nothing
    (the lexicon says nothing about what "not happy" feels like). A text with no
    counted word is all `neutral`. Every row sums to 1.
    """

    def __init__(self, lexicon: dict[str, list[str]]) -> None:
        keep = set(EMOTIONS)
        self._lexicon = {
            word: [e for e in emotions if e in keep]
            for word, emotions in lexicon.items()
            if word not in IDENTITY_TERMS
        }

    @property
    def labels(self) -> list[str]:
        return LABELS

    def lookup(self, word: str) -> list[str]:
        """The word's emotions, trying a light suffix strip when it is not listed as written."""
        if word in self._lexicon:
            return self._lexicon[word]
        for suffix, replacement in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                stem = word[: -len(suffix)] + replacement
                if stem in self._lexicon:
                    return self._lexicon[stem]
        return []

    def counts(self, text: str) -> dict[str, int]:
        found = dict.fromkeys(EMOTIONS, 0)
        for clause in tokenize(text):
            negated_until = -1
            for position, word in enumerate(clause):
                if is_negator(word):
                    negated_until = position + NEGATION_SCOPE
                    continue
                if position <= negated_until:
                    continue
                for emotion in self.lookup(word):
                    found[emotion] += 1
        return found

    def predict(self, texts: Sequence[str]) -> list[list[float]]:
        rows = []
        for text in texts:
            found = self.counts(text)
            total = sum(found.values())
            if total == 0:
                rows.append([0.0] * len(EMOTIONS) + [1.0])
            else:
                rows.append([found[e] / total for e in EMOTIONS] + [0.0])
        return rows


def lexicon_path() -> Path:
    """The installed package's lexicon file, found without importing the package."""
    try:
        path = Path(str(distribution(PACKAGE).locate_file(LEXICON_FILE)))
    except PackageNotFoundError:
        raise RuntimeError(
            "the 'emotion' model needs the nrclex package: "
            "pip install -c requirements/lock.txt '.[worker]'"
        ) from None
    if not path.is_file():
        raise RuntimeError(f"{PACKAGE} is installed but has no {LEXICON_FILE}")
    return path


def load_emotion(name: str) -> tuple[EmotionLexiconRuntime, ModelCard]:
    path = lexicon_path()
    raw = path.read_bytes()
    lexicon = {str(k): [str(e) for e in v] for k, v in json.loads(raw).items()}
    version = hashlib.sha256(raw + RULES.encode()).hexdigest()[:12]
    card = ModelCard(
        name=name,
        version=version,
        labels=LABELS,
        runtime="emotion-lexicon",
        source=f"NRC Emotion Lexicon via {PACKAGE}=={distribution(PACKAGE).version}",
        description=(
            "NRC emotion lexicon: each probability is the emotion's share of the matched "
            "words' emotion tags (no context, no sarcasm); neutral when no word matches."
        ),
    )
    card = card.model_copy(update=card_facts(CARD_DIR))
    return EmotionLexiconRuntime(lexicon), card


def load(settings: Settings) -> tuple[EmotionLexiconRuntime, ModelCard]:
    """The registry's entry point (worker/runtimes/__init__.py)."""
    runtime, card = load_emotion(settings.served_model_name)
    log.info("model loaded", model=card.name, version=card.version, runtime=card.runtime)
    return runtime, card
