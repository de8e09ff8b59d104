"""`make bench`: the engine alone, the whole stack and three baselines, measured in one run.

    python -m loadtest.bench [--quick] [--workers N] [--scenario all|bulk] [--out DIR]

Everything runs on this machine and talks to 127.0.0.1 only; every scenario is
bounded by its duration. Load comes from `wrk` (loadtest/wrk.py). Steps:

1. engine alone: the worker's runtime in a child process (loadtest/measure_engine.py);
2. the stack as `make run` starts it (the shipped model, its runtime, the
   default settings) on a private Redis, so every text is a cache miss:
   POST /v1/predict, one text per request, closed loop at 1, 8, 32, 128
   connections; at 32 the CPU time of every stack process and of Redis is
   read from /proc, minus the workers' own time inside the runtime, per request;
3. the cached path: the same texts again, against /v1/predict and against a bare
   route of the same process (/_bench/static) (2 and 3: loadtest/measure_stack.py);
   then, on the same stack, which also runs one worker each for the light models
   `toxicity` and `emotion`, the mixed level (loadtest/mixed.py): 80% sentiment,
   10% toxicity, 10% emotion at 32 connections, uncached then cached, per model;
   then the fast model (`make fast-model`, models/sentiment-minilm-int8) on a stack of
   its own at 1, 8 and 32 connections, where its directory exists; beside the engine,
   the compute limit of this machine (loadtest/compute_limit.py);
4. baselines (loadtest/baselines/, loadtest/measure_baselines.py), each at 1, 8 and 32
   connections with the texts of the stack's uncached levels: a transformers pipeline
   per request, one Celery task per request with a blocking `.get()`, and Ray Serve
   with `@serve.batch` (in a venv of its own, built on first use by
   loadtest/ray_env.py; skipped with the reason where it cannot be installed);
5. bulk (loadtest/bulk.py): sync p50/p99 at 4 connections without and during a
   20,000-text job, and the job's sentences/s (`--scenario bulk` runs only the
   engine and this; `--quick` leaves it out unless `--scenario bulk` asks for it).

It prints one table, the side-by-side table of Spectrum and its peers and the
verdicts, and writes everything as JSON under loadtest/results/ with a PNG of
throughput and p99 against concurrency beside it (loadtest/report.py). This module
is only the command: the sequence of steps.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtest.bulk import measure_bulk
from loadtest.compute_limit import compute_limit, mean_tokens
from loadtest.measure_baselines import measure_baselines
from loadtest.measure_engine import measure_engine
from loadtest.measure_stack import measure_fast, measure_stack
from loadtest.plan import Plan
from loadtest.progress import say
from loadtest.report import (
    best_peers,
    plot,
    result_path,
    side_by_side,
    table,
    verdicts,
    write_report,
)
from spectrum.shared.config import Settings
from spectrum_dev.harness import ROOT
from training.fast_model import FAST_MODEL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs: about 3 minutes")
    parser.add_argument(
        "--workers", type=int, default=Settings().worker_processes, help="worker processes"
    )
    parser.add_argument(
        "--scenario",
        choices=["all", "bulk"],
        default="all",
        help="bulk: only the engine and the bulk-job scenario",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "loadtest" / "results")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        say("wrk is not installed: apt-get install wrk")
        return 2
    plan = Plan.quick() if args.quick else Plan()
    started = time.monotonic()
    mix = plan.texts()
    with tempfile.TemporaryDirectory(prefix="spectrum-bench-") as tmp:
        workdir = Path(tmp)
        report: dict[str, Any] = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "python -m loadtest.bench"
            + (" --quick" if args.quick else "")
            + f" --workers {args.workers}"
            + (f" --scenario {args.scenario}" if args.scenario != "all" else ""),
            "cores": len(os.sched_getaffinity(0)),
            "workers": args.workers,
            "plan": asdict(plan),
        }
        # The machine is shared: its other work (1-minute load average) beside the figures.
        load_before = os.getloadavg()[0]
        report["engine"] = measure_engine(plan, workdir, mix["engine"], args.workers)
        report["compute_limit"] = measure_compute_limit(mix["engine"])
        if args.scenario == "all":
            report["stack"] = measure_stack(plan, args.workers, workdir, mix)
            if (ROOT / FAST_MODEL).is_dir():
                report["fast"] = measure_fast(plan, args.workers, workdir, mix, str(FAST_MODEL))
            report["baselines"] = measure_baselines(plan, workdir, mix)
        # --quick keeps to its 3 minutes without the bulk scenario (about 2 more);
        # `--quick --scenario bulk` runs that one alone, shortened.
        if args.scenario == "bulk" or not args.quick:
            report["bulk"] = measure_bulk(
                job_texts=mix["bulk_job"],
                sync_texts=(mix["bulk_alone"], mix["bulk_during"]),
                sync_s=plan.bulk_sync_s,
                workers=args.workers,
                workdir=workdir,
                engine_sentences_per_s=report["engine"]["best"]["sentences_per_s"],
                finish_job=not args.quick,
            )
    report["load_average_1m"] = {"before": load_before, "after": os.getloadavg()[0]}
    report["verdicts"] = verdicts(report)
    suffix = ("-quick" if args.quick else "") + ("-bulk" if args.scenario == "bulk" else "")
    path = result_path(args.out, suffix)
    if "stack" in report:
        report["side_by_side"] = side_by_side(report)
        report["best_peer"] = best_peers(report["baselines"])
        report["plot"] = draw(report, path.with_suffix(".png"))
    report["seconds"] = round(time.monotonic() - started, 1)
    write_report(report, path)
    print(table(report))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"\n{report['seconds']:.0f} s; written to {shown}")
    return 0


def measure_compute_limit(texts: list[str]) -> dict[str, Any]:
    """The engine's ceiling here (loadtest/compute_limit.py) for the shipped model."""
    settings = Settings()
    model_dir = ROOT / settings.model_id
    tokens = mean_tokens(model_dir, texts, settings.max_tokens)
    limit = compute_limit(model_dir, tokens, len(os.sched_getaffinity(0)))
    say(
        f"compute limit: {limit['sentences_per_s']:.0f} sentences/s "
        f"({limit['gflop_per_sentence']:.2f} GFLOP a sentence of {tokens:.1f} tokens, "
        f"{limit['gemm_gflops_one_core']:.0f} GFLOP/s a core x {limit['cores']})"
    )
    return limit


def draw(report: dict[str, Any], path: Path) -> str | None:
    """The PNG's file name, or None (and a line saying why) without matplotlib."""
    try:
        return plot(report, path).name
    except ImportError:
        say("no plot: matplotlib is not installed (it comes with the dev extra)")
        return None


if __name__ == "__main__":
    sys.exit(main())
