"""One text at a time, under two settings in alternation: what a lever does to c1 latency.

    python -m loadtest.lone [--requests 300] [--rounds 2] SETTING=VALUE[,SETTING=VALUE] ...

Each argument is one variant (settings without the SPECTRUM_ prefix, comma-separated;
`default` for none). Every round starts a stack per variant, in turn, as `make run`
starts it (loadtest/local_stack.py: a private Redis, so every text is a miss), warms it
with 50 requests, then sends `--requests` one-text requests one after another, each a
text that stack has not seen, and prints the median and 90th percentile of the latency seen
by the client. Every variant of a round gets the same texts (each stack has a Redis
of its own); the order of the variants turns each round, so a noisy moment of a shared
machine slows one run of each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from loadtest.local_stack import local_stack
from training.text_mix import text_mix

WARM = 50


def variant(spec: str) -> dict[str, str]:
    if spec == "default":
        return {}
    return dict(pair.split("=", 1) for pair in spec.split(","))


def lone_latencies(settings: dict[str, str], texts: list[str], workers: int) -> list[float]:
    """Milliseconds per request, one at a time, after WARM requests of the first texts."""
    with (
        tempfile.TemporaryDirectory(prefix="spectrum-lone-") as tmp,
        local_stack(Path(tmp), workers, **settings) as stack,
        httpx.Client(base_url=stack.url, timeout=30) as client,
    ):
        for text in texts[:WARM]:
            client.post("/v1/predict", json={"text": text}).raise_for_status()
        latencies = []
        for text in texts[WARM:]:
            started = time.perf_counter()
            client.post("/v1/predict", json={"text": text}).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="SETTING=VALUE[,...] or default")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    size = WARM + args.requests
    texts = text_mix(size * args.rounds, seed=99)
    for turn in range(args.rounds):
        # The same texts for every variant of a round: each stack's Redis is its own.
        mine = texts[turn * size : (turn + 1) * size]
        shift = turn % len(args.variants)
        for spec in args.variants[shift:] + args.variants[:shift]:
            latencies = sorted(lone_latencies(variant(spec), mine, args.workers))
            p90 = latencies[int(0.9 * len(latencies))]
            print(
                f"round {turn + 1} {spec}: p50 {statistics.median(latencies):.2f} ms, "
                f"p90 {p90:.2f} ms ({len(latencies)} requests)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
