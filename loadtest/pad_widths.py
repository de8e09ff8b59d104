"""The runtime with each pass's width rounded up to a multiple, against unrounded widths.

    python -m loadtest.pad_widths [--multiples 1,8,16] [--sizes 1,4,16] [--rounds 2]

Loads the shipped model as one worker does (the precision this CPU gets, one thread
unless SPECTRUM_THREADS says otherwise), then for each round and each multiple sends
the bench's text mix in tasks of each size for `--seconds` and prints texts/s. The
rounds alternate the multiples, so the machine's drift shows as spread, not as a gain.
It is what chose SPECTRUM_PAD_MULTIPLE's default (worker/runtimes/ov.py).
"""

from __future__ import annotations

import argparse
import json
import time

from spectrum.shared.config import Settings
from spectrum.worker.runtimes import load_runtime
from training.text_mix import text_mix

SEED = 20261201


def rate(runtime: object, texts: list[str], size: int, seconds: float) -> float:
    """Texts/s over tasks of `size` consecutive texts, for about `seconds`."""
    predict = runtime.predict  # type: ignore[attr-defined]
    done, at, started = 0, 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        predict(texts[at : at + size])
        at = (at + size) % (len(texts) - size)
        done += size
    return done / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multiples", default="1,8,16")
    parser.add_argument("--sizes", default="1,4,16")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args(argv)
    multiples = [int(m) for m in args.multiples.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    runtime, card = load_runtime(Settings(pad_multiple=1))
    if not hasattr(runtime, "pad_multiple"):
        raise SystemExit(f"the {card.runtime} runtime has no passes to round")
    texts = text_mix(3000, SEED)
    for text in texts[:100]:  # warm-up: the first shapes compile
        runtime.predict([text])
    print(f"{card.runtime}: texts/s by tasks of {sizes} texts")
    results = []
    for round_ in range(args.rounds):
        for multiple in multiples:
            runtime.pad_multiple = multiple
            row = {str(s): round(rate(runtime, texts, s, args.seconds), 1) for s in sizes}
            results.append({"round": round_, "multiple": multiple, "texts_per_s": row})
            cells = "  ".join(f"{s}: {row[str(s)]:.0f}" for s in sizes)
            print(f"round {round_}  multiple {multiple:>2}  {cells}", flush=True)
    print(json.dumps({"runtime": card.runtime, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
