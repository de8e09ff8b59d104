"""scikit-learn text classifiers: a pickled pipeline with `predict_proba`, or `toxicity`.

`toxicity` is the model that the `alt-profanity-check` package ships (a TF-IDF
vectorizer and a calibrated linear SVM, see models/toxicity/MODEL_CARD.md), read
from the installed package's data folder. Importing `profanity_check` itself
would load both files a second time at import, so only its files are read.

joblib files are pickles: loading one runs whatever code it names. Serve only
files from a package or a directory you trust (SPECTRUM_MODEL_ID is an operator's
setting, never a caller's).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any, Protocol

import joblib
import structlog

from spectrum.shared.config import Settings
from spectrum.shared.contracts import ModelCard
from spectrum.worker.runtimes.model_dir import CARD_FILE, card_facts

log = structlog.get_logger(__name__)

TOXICITY_ID = "toxicity"
TOXICITY_LABELS = ["NON_TOXIC", "TOXIC"]
TOXICITY_PACKAGE = "alt-profanity-check"
# Where the card of the built-in model lives, relative to the working directory (the
# checkout for `make run`, /home/spectrum in the worker image, which copies models/).
TOXICITY_CARD_DIR = Path("models/toxicity")
MODEL_FILE = "model.joblib"
VECTORIZER_FILE = "vectorizer.joblib"


class Transform(Protocol):
    def transform(self, texts: Any) -> Any: ...


class Classifier(Protocol):
    classes_: Any

    def predict_proba(self, features: Any) -> Any: ...


class SklearnRuntime:
    """Rows are `predict_proba`'s columns, in the order of the estimator's `classes_`.

    `labels[i]` names `classes_[i]`. The estimator sees the texts as they came (a
    vectorizer, when given, turns them into features first); a text gets the same
    row whatever else is in its batch, as every step here is row-wise.
    """

    def __init__(
        self, estimator: Classifier, labels: list[str], vectorizer: Transform | None = None
    ) -> None:
        if len(labels) != len(estimator.classes_):
            raise ValueError(
                f"{len(labels)} labels for {len(estimator.classes_)} classes: {labels}"
            )
        self._estimator = estimator
        self._vectorizer = vectorizer
        self._labels = labels

    @property
    def labels(self) -> list[str]:
        return self._labels

    @property
    def classes(self) -> list[Any]:
        """The estimator's own class values, in the order of `labels`."""
        return list(self._estimator.classes_)

    def predict(self, texts: Sequence[str]) -> list[list[float]]:
        features: Any = list(texts)
        if self._vectorizer is not None:
            features = self._vectorizer.transform(features)
        return [[float(p) for p in row] for row in self._estimator.predict_proba(features)]


def files_version(files: Sequence[Path]) -> str:
    """Hash of the pickled files, so a retrained model gets new cache keys."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def package_data(package: str, folder: str) -> Path:
    """A data folder of an installed distribution, found without importing it."""
    try:
        found = Path(str(distribution(package).locate_file(folder)))
    except PackageNotFoundError:
        raise RuntimeError(
            f"the {TOXICITY_ID!r} model needs the {package} package: "
            "pip install -c requirements/lock.txt '.[sklearn]'"
        ) from None
    if not (found / MODEL_FILE).is_file():
        raise RuntimeError(f"{package} is installed but has no {folder}/{MODEL_FILE}")
    return found


def load_sklearn(
    source: Path, name: str, *, labels: list[str] | None = None
) -> tuple[SklearnRuntime, ModelCard]:
    """A `.joblib` file (a pipeline taking raw texts) or a directory with `model.joblib`
    and an optional `vectorizer.joblib`; labels default to the directory's
    model_card.json `labels`, else the estimator's classes as text."""
    files = [source] if source.is_file() else [source / MODEL_FILE]
    if source.is_dir() and (source / VECTORIZER_FILE).is_file():
        files.insert(0, source / VECTORIZER_FILE)
    loaded = [joblib.load(file) for file in files]
    estimator: Classifier = loaded[-1]
    vectorizer: Transform | None = loaded[0] if len(loaded) == 2 else None
    if labels is None and source.is_dir() and (source / CARD_FILE).is_file():
        card_labels = json.loads((source / CARD_FILE).read_text(encoding="utf-8")).get("labels")
        labels = [str(label) for label in card_labels] if card_labels else None
    if labels is None:
        labels = [str(label) for label in estimator.classes_]
    runtime = SklearnRuntime(estimator, labels, vectorizer)
    card = ModelCard(
        name=name,
        version=files_version(files),
        labels=labels,
        runtime="sklearn",
        source=str(source),
        **(card_facts(source) if source.is_dir() else {}),
    )
    return runtime, card


def load_toxicity(name: str) -> tuple[SklearnRuntime, ModelCard]:
    """alt-profanity-check's classifier: class 1 is offensive, so labels are NON_TOXIC, TOXIC."""
    data = package_data(TOXICITY_PACKAGE, "profanity_check/data")
    runtime, card = load_sklearn(data, name, labels=TOXICITY_LABELS)
    classes = [int(c) for c in runtime.classes]
    if classes != [0, 1]:
        raise RuntimeError(f"{TOXICITY_PACKAGE}'s model has classes {classes}, not [0, 1]")
    facts = card_facts(TOXICITY_CARD_DIR)
    source = f"{TOXICITY_PACKAGE}=={distribution(TOXICITY_PACKAGE).version} (TF-IDF + linear SVM)"
    return runtime, card.model_copy(update={"source": source, **facts})


def load(settings: Settings) -> tuple[SklearnRuntime, ModelCard]:
    """The registry's entry point (worker/runtimes/__init__.py)."""
    name = settings.served_model_name
    if settings.model_id == TOXICITY_ID:
        runtime, card = load_toxicity(name)
    else:
        runtime, card = load_sklearn(Path(settings.model_id), name)
    log.info("model loaded", model=name, version=card.version, runtime=card.runtime)
    return runtime, card
