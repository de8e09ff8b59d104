"""The teacher's soft labels, which `make model` distils into the MiniLM student.

`python -m training.distill` (the last step of `make teacher`) runs the teacher as
the worker serves it (models/sentiment-mpnet, its runtime here, at T = 1) over the
labelled training split and the unlabelled in-domain texts (training/unlabelled.py)
and writes their log-probabilities to training/targets/mpnet.json.gz, keyed by the
sha256 of each text. The file is small and committed, so `make model` rebuilds the
student without the 440 MB teacher; it records the teacher's weights hash, and the
build fails if a text it trains on has no target.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from spectrum.shared.config import Settings
from spectrum.worker.runtimes import load_runtime
from spectrum.worker.runtimes.batching import BatchedRuntime
from training.data import DEFAULT_CACHE, read_vader_sets
from training.data import vader_archive as vader_archive_path
from training.splits import load_splits
from training.unlabelled import unlabelled_texts

DEFAULT_TEACHER = Path("models/sentiment-mpnet")
DEFAULT_TARGETS = Path("training/targets/mpnet.json.gz")
FLOOR = 1e-7  # the smallest probability stored: log(0) is not a target


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class Targets:
    """The teacher's log-probabilities (T = 1) per text, and where they came from."""

    teacher: dict[str, Any]
    log_probs: dict[str, tuple[float, ...]]

    def for_texts(self, texts: Sequence[str]) -> list[tuple[float, ...]]:
        """The rows of `texts`, in order; KeyError naming how many have none."""
        missing = [t for t in texts if text_key(t) not in self.log_probs]
        if missing:
            raise KeyError(
                f"{len(missing)} of {len(texts)} training texts have no teacher target "
                f"(e.g. {missing[0][:60]!r}): run make teacher again, or build with --no-distil"
            )
        return [self.log_probs[text_key(t)] for t in texts]


def write_targets(
    path: Path, teacher: Mapping[str, Any], rows: Mapping[str, Sequence[float]]
) -> None:
    body = {
        "teacher": dict(teacher),
        "log_probs": {k: [round(float(v), 5) for v in row] for k, row in sorted(rows.items())},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime 0: the same targets give the same bytes, so git sees no change.
    with gzip.GzipFile(path, "wb", mtime=0) as handle:
        handle.write(json.dumps(body, separators=(",", ":")).encode("utf-8"))


def read_targets(path: Path) -> Targets:
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no teacher targets; make teacher writes them (or build with --no-distil)"
        )
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        body = json.load(handle)
    return Targets(body["teacher"], {k: tuple(v) for k, v in body["log_probs"].items()})


def teacher_log_probs(teacher: Path, texts: Sequence[str], *, threads: int = 2) -> np.ndarray:
    """Log-probabilities at T = 1 from the runtime a worker would serve the teacher with."""
    settings = Settings(
        model_id=str(teacher), model_name=teacher.name, runtime_threads=threads, max_tokens=64
    )
    runtime, card = load_runtime(settings)
    if not isinstance(runtime, BatchedRuntime):
        raise TypeError(f"{card.runtime} is not a model runtime with logits")
    runtime.temperature, runtime.exponent = 1.0, 1.0  # as trained: the student calibrates alone
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    rows = np.zeros((len(texts), len(card.labels)))
    chunk = 256
    for start in tqdm(range(0, len(order), chunk), desc=f"teacher ({card.runtime})", unit="chunk"):
        picked = order[start : start + chunk]
        probs = np.asarray(runtime.predict([texts[i] for i in picked]), dtype=np.float64)
        rows[picked] = np.log(np.clip(probs, FLOOR, 1.0))
    return rows


def training_texts(cache: Path) -> tuple[list[str], list[str]]:
    """The labelled training texts and the unlabelled ones, as `make model` reads them."""
    splits = load_splits(cache)
    unlabelled = unlabelled_texts(splits, read_vader_sets(vader_archive_path(cache)))
    return [e.text for e in splits.train], [t.text for t in unlabelled]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teacher", type=Path, default=DEFAULT_TEACHER)
    parser.add_argument("--out", type=Path, default=DEFAULT_TARGETS)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--again", action="store_true", help="run every text, even those the file has"
    )
    args = parser.parse_args(argv)

    labelled, unlabelled = training_texts(args.cache)
    texts = list(dict.fromkeys([*labelled, *unlabelled]))
    print(f"teacher targets for {len(labelled)} labelled and {len(unlabelled)} unlabelled texts")
    card_file = args.teacher / "model_card.json"
    card = json.loads(card_file.read_text(encoding="utf-8")) if card_file.exists() else {}
    known: dict[str, tuple[float, ...]] = {}
    if args.out.exists() and not args.again:
        stored = read_targets(args.out)
        if stored.teacher.get("weights_sha256") == card.get("weights_sha256", "-"):
            known = stored.log_probs  # the same teacher: only new texts need it
    todo = [t for t in texts if text_key(t) not in known]
    print(f"{len(texts) - len(todo)} texts kept from {args.out}, {len(todo)} to run")
    computed = teacher_log_probs(args.teacher, todo, threads=args.threads) if todo else []
    fresh = {text_key(t): tuple(row) for t, row in zip(todo, computed, strict=True)}
    rows = [known.get(text_key(t)) or fresh[text_key(t)] for t in texts]
    teacher = {
        "model": args.teacher.name,
        "weights_sha256": card.get("weights_sha256", "-"),
        "runtime": card.get("served_runtime", "-"),
        "labelled": len(labelled),
        "unlabelled": len(unlabelled),
    }
    write_targets(args.out, teacher, {text_key(t): row for t, row in zip(texts, rows, strict=True)})
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
