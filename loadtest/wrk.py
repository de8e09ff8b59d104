"""One closed-loop load run with `wrk`, read back as a `Load`.

wrk is compiled and runs one thread with loadtest/wrk/bodies.lua, which sends each
line of a file of JSON bodies once (and counts how often the file wrapped around),
so the load generator costs little of the CPU it shares with the stack; its share
of the machine during the run is part of the result.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
from dataclasses import dataclass
from pathlib import Path

from spectrum_dev.harness import ROOT

LUA = ROOT / "loadtest" / "wrk" / "bodies.lua"


@dataclass
class Load:
    """One wrk run."""

    scenario: str
    concurrency: int
    requests: int
    seconds: float
    req_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int  # connect/read/write errors, timeouts and non-2xx answers
    wraps: int  # >0: the bodies ran out and repeated (then repeats may be cache hits)
    wrk_cpu_share: float  # of all cores, during the run


def run_wrk(
    scenario: str, url: str, bodies: Path, concurrency: int, seconds: float, workdir: Path
) -> Load:
    """POST each line of `bodies` to `url` from `concurrency` connections for `seconds`."""
    result = workdir / f"wrk-{scenario}-{concurrency}.json"
    argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "30s"]
    argv += ["-s", str(LUA), url, "--", str(bodies)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        argv, env={**os.environ, "WRK_RESULT": str(result)}, check=True, capture_output=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    raw = json.loads(result.read_text())
    elapsed = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return Load(
        scenario=scenario,
        concurrency=concurrency,
        requests=raw["requests"],
        seconds=elapsed,
        req_per_s=raw["requests"] / elapsed,
        p50_ms=raw["p50_us"] / 1000,
        p95_ms=raw["p95_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        errors=errors + raw["status_errors"],
        wraps=raw["wraps"],
        wrk_cpu_share=wrk_cpu / (elapsed * len(os.sched_getaffinity(0))),
    )
