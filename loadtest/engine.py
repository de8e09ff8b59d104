"""The engine alone: the worker's runtime, loaded as the worker loads it, in this process.

    python -m loadtest.engine TEXTS_JSON [--batch-sizes 8,16,32,64] [--token-budgets 0,2048]

A batch is what one task hands the runtime: `batch size` texts in arrival order,
one `runtime.predict` call (tokenize, sort by length, cut into passes, run). Prints
one JSON object: sentences/s for every batch size and token budget (best of
`--passes` passes over the texts: the machine is shared and noisy), the median
latency of a single sentence, and for reference all texts in one call (what an
offline job of thousands of texts could reach: every pass holds texts of nearly
the same length). The benchmark runs it in a child process so that nothing of it
stays loaded while the stack is measured.
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


def measure(
    texts: list[str], batch_sizes: list[int], budgets: list[int], passes: int, singles: int
) -> dict[str, Any]:
    runtime, card = load_runtime(Settings())
    if not hasattr(runtime, "batch_size"):
        raise SystemExit(f"the {card.runtime} runtime has no batches to size")
    tuned: Any = runtime
    runtime.predict(texts[:64])  # warm-up: first calls compile and allocate
    grid = []
    for budget in budgets:
        for size in batch_sizes:
            tuned.token_budget = budget
            best = 0.0
            for _ in range(passes):
                started = time.perf_counter()
                for start in range(0, len(texts), size):
                    runtime.predict(texts[start : start + size])
                best = max(best, len(texts) / (time.perf_counter() - started))
            grid.append({"batch_size": size, "token_budget": budget, "sentences_per_s": best})
    started = time.perf_counter()
    runtime.predict(texts)
    all_at_once = len(texts) / (time.perf_counter() - started)
    latencies = []
    for text in texts[:singles]:
        started = time.perf_counter()
        runtime.predict([text])
        latencies.append(time.perf_counter() - started)
    top = max(grid, key=lambda row: row["sentences_per_s"])
    return {
        "runtime": card.runtime,
        "model": card.name,
        "version": card.version,
        "texts": len(texts),
        "grid": grid,
        "best": top,
        "single_sentence_ms": statistics.median(latencies) * 1000,
        "all_texts_in_one_call_per_s": all_at_once,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("texts", type=Path, help="a JSON list of texts")
    parser.add_argument("--batch-sizes", default="8,16,32,64")
    parser.add_argument("--token-budgets", default="")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--singles", type=int, default=100)
    args = parser.parse_args(argv)
    texts = json.loads(args.texts.read_text())
    budgets = [int(b) for b in args.token_budgets.split(",")] if args.token_budgets else []
    result = measure(
        texts,
        [int(size) for size in args.batch_sizes.split(",")],
        budgets or [Settings().token_budget],
        args.passes,
        args.singles,
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
