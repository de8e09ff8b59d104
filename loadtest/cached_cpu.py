"""The gateway's own CPU per request on the cached path and on the bare route, one stack.

    python loadtest/cached_cpu.py [SECONDS]

Starts `local_stack` (loadtest/local_stack.py) with one lexicon worker (`vader`) on a
private Redis, caches 2,000 texts, then loads POST /v1/predict (every text a hit) and
the bare route of the same process (/_bench/static) at 32 connections for SECONDS
each (default 5) with wrk, and prints one JSON line: requests/s, the API process's CPU
ms per request (from /proc) and p50 for both. Run as a file, it measures the code of
whichever checkout is first on PYTHONPATH, so the same command compares two versions
(`cd OTHER && PYTHONPATH=$PWD .venv/bin/python /path/to/this/file`), as docs/performance.md,
"Routing by model, before and after", did.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from loadtest.local_stack import local_stack
from loadtest.measure_stack import post_json
from loadtest.procstats import cpu_seconds
from loadtest.texts import write_bodies
from loadtest.wrk import run_wrk
from training.text_mix import SEED, text_mix

PATHS = (("cached", "/v1/predict"), ("bare", "/_bench/static"))


def main(seconds: float) -> dict[str, Any]:
    texts = text_mix(2000, SEED + 11)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="spectrum-cached-cpu-") as tmp:
        workdir = Path(tmp)
        with local_stack(workdir, 1, model_id="vader", bench_routes="true") as stack:
            for start in range(0, len(texts), 64):
                post_json(f"{stack.url}/v1/predict", {"texts": texts[start : start + 64]})
            bodies = write_bodies(texts, workdir / "cached.jsonl")
            run_wrk("warm-up", f"{stack.url}/v1/predict", bodies, 32, 2, workdir)
            for name, path in PATHS:
                before = cpu_seconds(stack.api.pid)
                load = run_wrk(name, f"{stack.url}{path}", bodies, 32, seconds, workdir)
                cpu = cpu_seconds(stack.api.pid) - before
                out[name] = {
                    "req_per_s": load.req_per_s,
                    "api_cpu_ms": cpu / load.requests * 1000,
                    "p50_ms": load.p50_ms,
                    "errors": load.errors,
                }
    return out


if __name__ == "__main__":
    print(json.dumps(main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)))
