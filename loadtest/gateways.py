"""What a second gateway process adds on one machine: the gateway-bound paths, 1 and 2 processes.

    python -m loadtest.gateways [--seconds S] [--rounds R] [--connections C] [--out DIR]

Each round starts the stack (loadtest/local_stack.py, a lexicon worker, a private Redis)
once with SPECTRUM_API_PROCESSES=1 and once with 2, and measures with wrk
(loadtest/wrk.py) two paths that never reach a worker, so the gateway is what they
load: POST /v1/predict of texts already cached, and the bare route of the same process
(/_bench/static). Rounds alternate 1 and 2 so that the machine's other load falls on
both alike. It prints the medians and writes every run to
loadtest/results/gateways-<UTC time>.json. Everything talks to 127.0.0.1 only and
each run is bounded by its duration.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtest.local_stack import local_stack
from loadtest.measure_stack import post_json
from loadtest.procstats import cpu_seconds
from loadtest.progress import say
from loadtest.texts import write_bodies
from loadtest.wrk import run_wrk
from spectrum_dev.harness import ROOT, descendants
from training.text_mix import SEED, text_mix

PATHS = (("cached", "/v1/predict"), ("bare", "/_bench/static"))


def api_cpu_s(pid: int) -> float:
    """CPU seconds of the API process and every process below it (its gateway processes)."""
    return sum(cpu_seconds(p) for p in (pid, *descendants(pid)))


def measure(processes: int, texts: list[str], args: argparse.Namespace, workdir: Path) -> list[Any]:
    runs = []
    with local_stack(
        workdir,
        1,
        name=f"p{processes}",
        model_id="vader",
        bench_routes="true",
        api_processes=str(processes),
    ) as stack:
        for start in range(0, len(texts), 64):  # every text cached before the runs
            post_json(f"{stack.url}/v1/predict", {"texts": texts[start : start + 64]})
        bodies = write_bodies(texts, workdir / "cached.jsonl")
        # Warm-up: every gateway process up and connected to Redis.
        run_wrk("warm-up", f"{stack.url}/v1/predict", bodies, args.connections, 2, workdir)
        for scenario, path in PATHS:
            before = api_cpu_s(stack.api.pid)
            load = run_wrk(
                scenario, f"{stack.url}{path}", bodies, args.connections, args.seconds, workdir
            )
            cpu = api_cpu_s(stack.api.pid) - before
            runs.append(
                {
                    "processes": processes,
                    **asdict(load),
                    "api_cpu_cores": round(cpu / load.seconds, 3),
                }
            )
            say(
                f"{processes} API process(es), {scenario}: {load.req_per_s:.0f} req/s, "
                f"p99 {load.p99_ms:.1f} ms, API CPU {cpu / load.seconds:.2f} cores"
            )
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of 1 and 2 processes")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--out", type=Path, default=ROOT / "loadtest" / "results")
    args = parser.parse_args(argv)
    texts = text_mix(2000, SEED + 11)
    load_before = os.getloadavg()  # the machine's other work, which these cores share
    started = time.monotonic()
    runs: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="spectrum-gateways-") as tmp:
        for round_ in range(args.rounds):
            for processes in (1, 2):
                workdir = Path(tmp) / f"r{round_}-p{processes}"
                workdir.mkdir()
                runs += measure(processes, texts, args, workdir)
    medians = {
        f"{scenario}_p{n}_req_per_s": round(
            statistics.median(
                r["req_per_s"] for r in runs if r["processes"] == n and r["scenario"] == scenario
            )
        )
        for scenario, _ in PATHS
        for n in (1, 2)
    }
    for scenario, _ in PATHS:
        ratio = medians[f"{scenario}_p2_req_per_s"] / medians[f"{scenario}_p1_req_per_s"]
        medians[f"{scenario}_ratio_2_over_1"] = round(ratio, 2)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"python -m loadtest.gateways --seconds {args.seconds:g} "
        f"--rounds {args.rounds} --connections {args.connections}",
        "cores": len(os.sched_getaffinity(0)),
        "load_average_1m": {"before": load_before[0], "after": os.getloadavg()[0]},
        "medians": medians,
        "runs": runs,
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"gateways-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(medians, indent=2))
    print(f"{report['seconds']:.0f} s; written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
