"""Which runtime serves the configured model: one table of runtime kinds, one of built-in ids.

A new kind of model is one new module in this folder with a
`load(settings) -> (Runtime, ModelCard)` function, and one line in `RUNTIMES`
(plus one in `BUILT_IN_MODELS` if it has a model id of its own). A kind's module
is imported only when a worker serves it, so torch, openvino or scikit-learn are
needed only by the workers that use them.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Protocol, cast

from spectrum.shared.config import Settings
from spectrum.shared.contracts import ModelCard
from spectrum.worker.runtimes.base import Runtime
from spectrum.worker.runtimes.model_dir import OPENVINO_FILE

# Runtime kind (SPECTRUM_RUNTIME, the card's runtime family) -> the module that loads it.
RUNTIMES: dict[str, str] = {
    "lexicon": "spectrum.worker.runtimes.lexicon",
    "openvino": "spectrum.worker.runtimes.ov",
    "torch": "spectrum.worker.runtimes.hf",
    "sklearn": "spectrum.worker.runtimes.sklearn_text",
    "emotion-lexicon": "spectrum.worker.runtimes.emotion",
    "fixed": "spectrum.worker.runtimes.fixed",
}

# Model ids that name a model shipped inside a package, not a directory -> their kind.
BUILT_IN_MODELS: dict[str, str] = {
    "vader": "lexicon",
    "toxicity": "sklearn",
    "emotion": "emotion-lexicon",
    "fixed": "fixed",  # make scale's stand-in: sleeps instead of computing
}


class Loader(Protocol):
    def __call__(self, settings: Settings) -> tuple[Runtime, ModelCard]: ...


class UnknownRuntime(ValueError):
    """SPECTRUM_RUNTIME names no kind in RUNTIMES."""


def choose_runtime(settings: Settings) -> str:
    """The runtime kind that serves `settings.model_id`.

    An explicit SPECTRUM_RUNTIME wins. `auto` serves a built-in model id with its
    own kind, a model directory that carries an OpenVINO IR with OpenVINO (the
    fastest runtime for the shipped model, see its model card) when
    openvino is installed, and everything else with PyTorch.
    """
    if settings.runtime != "auto":
        kind = settings.runtime
    elif settings.model_id in BUILT_IN_MODELS:
        kind = BUILT_IN_MODELS[settings.model_id]
    elif (Path(settings.model_id) / OPENVINO_FILE).is_file() and importlib.util.find_spec(
        "openvino"
    ) is not None:
        kind = "openvino"
    else:
        kind = "torch"
    if kind not in RUNTIMES:
        known = ", ".join(["auto", *RUNTIMES])
        raise UnknownRuntime(f"SPECTRUM_RUNTIME={kind!r} is not a runtime kind; known: {known}")
    return kind


def load_runtime(settings: Settings) -> tuple[Runtime, ModelCard]:
    """Load the configured model; a kind's module (and its libraries) is imported only here."""
    module = importlib.import_module(RUNTIMES[choose_runtime(settings)])
    loader = cast(Loader, module.load)
    return loader(settings)
