"""Is a rebuilt model as fast as the one before it? Alternating rounds on one machine.

`python -m training.compare_speed BEFORE AFTER` loads both model directories with the
runtime a worker would pick here, then runs the same held-out texts through each in
turn (before, after, after, before, ...), so that the machine's drift falls on both
alike, and prints sentences/s per round, the medians, and the median of the
per-round ratios (the figure to read: drift cancels within a round). The runtime table of
one build cannot say this: builds run minutes or sessions apart, on changing CPUs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from spectrum.shared.config import Settings
from spectrum.worker.runtimes import load_runtime
from training.data import DEFAULT_CACHE
from training.evaluate import speed_mix
from training.splits import load_splits


def load(model_dir: Path, threads: int) -> Any:
    settings = Settings(
        model_id=str(model_dir), model_name=model_dir.name, runtime_threads=threads, max_tokens=64
    )
    runtime, card = load_runtime(settings)
    return runtime, card.runtime


def rounds(runtimes: dict[str, Any], texts: list[str], count: int) -> dict[str, list[float]]:
    """Sentences/s of each runtime per round, the runtimes taking turns within a round."""
    for runtime in runtimes.values():
        runtime.predict(texts)  # compile and warm every shape once
    speeds: dict[str, list[float]] = {name: [] for name in runtimes}
    for round_number in range(count):
        order = list(runtimes) if round_number % 2 == 0 else list(reversed(runtimes))
        for name in order:
            started = time.perf_counter()
            runtimes[name].predict(texts)
            speeds[name].append(len(texts) / (time.perf_counter() - started))
    return speeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=None, help="also write the result as JSON")
    args = parser.parse_args(argv)

    texts = speed_mix(load_splits(args.cache), n=args.texts)
    loaded = {"before": load(args.before, args.threads), "after": load(args.after, args.threads)}
    speeds = rounds({name: pair[0] for name, pair in loaded.items()}, texts, args.rounds)
    medians = {name: statistics.median(values) for name, values in speeds.items()}
    result = {
        "before": str(args.before),
        "after": str(args.after),
        "runtime": {name: pair[1] for name, pair in loaded.items()},
        "texts": len(texts),
        "threads": args.threads,
        "sentences_per_s": {k: [round(v, 1) for v in vals] for k, vals in speeds.items()},
        "median": {k: round(v, 1) for k, v in medians.items()},
        # Per round, so that the machine's drift over the run cancels within each ratio.
        "after_over_before_per_round": [
            round(a / b, 3) for a, b in zip(speeds["after"], speeds["before"], strict=True)
        ],
        "after_over_before": round(
            statistics.median(
                a / b for a, b in zip(speeds["after"], speeds["before"], strict=True)
            ),
            3,
        ),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
