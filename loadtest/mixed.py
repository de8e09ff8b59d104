"""Step 6 of `make bench` (loadtest/README.md): one gateway, three models, one load that mixes them.

The stack of steps 2-4 also runs one worker for each light model (toxicity, a linear
classifier; emotion, a lexicon), as `make run` starts them. One level sends, from
`Plan.mixed_concurrency` connections, unique texts (so every one is a miss), 80% to the
default sentiment model, 10% to `toxicity` and 10% to `emotion`, each body naming its
model; then the same bodies again (now cached). Requests/s and p50/p95/p99 come per
model and overall, from loadtest/tagged_load.py (wrk cannot split a run by model).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from loadtest.plan import Plan
from loadtest.progress import say
from loadtest.tagged_load import Summary, run_tagged, summarize

# The light models beside the default one, by the ids SPECTRUM_MODELS names them with.
LIGHT_MODELS = ("toxicity", "emotion")
# Shares of the mixed load in requests, per block of 10 bodies; the default model's
# name is only known once the stack is up, so it is the placeholder "default".
SHARES: tuple[tuple[str, int], ...] = (("default", 8), ("toxicity", 1), ("emotion", 1))
MIX_SEED = 16


def mixed_bodies(
    texts: Sequence[str], shares: Sequence[tuple[str, int]], seed: int = MIX_SEED
) -> list[tuple[str, bytes]]:
    """(model, JSON body) for each text, in blocks of sum(weights): each block holds
    exactly `weight` bodies of each model, in an order shuffled by `seed`, so any
    prefix of whole blocks has the shares exactly and the same seed gives the same list."""
    block = [model for model, weight in shares for _ in range(weight)]
    rng = random.Random(seed)
    order: list[str] = []
    while len(order) < len(texts):
        rng.shuffle(block)
        order += block
    return [
        (model, json.dumps({"text": text, "model": model}).encode())
        for model, text in zip(order, texts, strict=False)
    ]


def rows(summaries: list[Summary]) -> list[dict[str, Any]]:
    return [asdict(s) for s in summaries]


def measure_mixed(url: str, plan: Plan, texts: list[str], default_model: str) -> dict[str, Any]:
    """The mixed level uncached, then its answered bodies again, cached."""
    shares = [(default_model if m == "default" else m, w) for m, w in SHARES]
    bodies = mixed_bodies(texts, shares)
    target = f"{url}/v1/predict"
    level = plan.mixed_concurrency
    uncached = asyncio.run(run_tagged(target, bodies, level, plan.uncached_s))
    models = [model for model, _ in shares]
    first = summarize("mixed uncached", uncached, level, models)
    every = first[-1]
    say(
        f"mixed uncached c{level}: {every.req_per_s:.0f} req/s, p50 {every.p50_ms:.1f} ms, "
        + ", ".join(f"{s.tag} {s.req_per_s:.0f}" for s in first[:-1])
    )
    # The bodies answered once are cached now (errors are never cached): send them again.
    answered = sorted({s.body_index for s in uncached.samples if s.ok})
    again = [bodies[i] for i in answered]
    cached = asyncio.run(run_tagged(target, again, level, plan.cached_s)) if again else None
    second = summarize("mixed cached", cached, level, models) if cached is not None else []
    if second:
        say(f"mixed cached c{level}: {second[-1].req_per_s:.0f} req/s")
    return {
        "shares": {model: weight / sum(w for _, w in shares) for model, weight in shares},
        "texts": len(texts),
        "uncached": rows(first),
        "cached": rows(second),
    }
