"""Step 5 of `make bench`: the two tutorial designs of loadtest/baselines/, same load at c32."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from loadtest.measure_stack import post_json
from loadtest.plan import Plan
from loadtest.progress import say
from loadtest.texts import write_bodies
from loadtest.wrk import run_wrk
from scripts.harness import Harness, child_env
from scripts.private_redis import free_port

WAIT_S = 180.0


def measure_baselines(plan: Plan, workdir: Path, texts: list[str]) -> dict[str, Any]:
    """A transformers pipeline per request, and one Celery task per request with `.get()`."""
    pipeline = "loadtest.baselines.pipeline_server"
    celery = "loadtest.baselines.celery_server"
    return {
        "pipeline": measure_baseline("pipeline", plan, workdir, texts, None, pipeline),
        "celery": measure_baseline("celery", plan, workdir, texts, start_celery_worker, celery),
    }


def measure_baseline(
    name: str,
    plan: Plan,
    workdir: Path,
    texts: list[str],
    extra: Callable[[Harness, dict[str, str]], None] | None,
    module: str,
) -> dict[str, Any]:
    """`module:app` under uvicorn on its own private Redis (and `extra`'s processes)."""
    with Harness(workdir) as harness:
        redis_url = harness.private_redis(f"redis-{name}")
        port = free_port()
        env = {**child_env(), "BASELINE_REDIS_URL": redis_url}
        if extra is not None:
            extra(harness, env)
        argv = [sys.executable, "-m", "uvicorn", f"{module}:app", "--port", str(port)]
        harness.start(name, [*argv, "--log-level", "warning"], env)
        url = f"http://127.0.0.1:{port}"
        harness.wait_http(f"{url}/docs", WAIT_S)
        bodies = write_bodies(texts, workdir / f"{name}.jsonl")
        # Warm-up: the first calls load weights and, for Celery, the workers' pipelines.
        for text in texts[-4:]:
            post_json(f"{url}/predict", {"text": text})
        load = run_wrk(name, f"{url}/predict", bodies, 32, plan.baseline_s, workdir)
        say(f"{name} c32: {load.req_per_s:.0f} req/s, p50 {load.p50_ms:.1f} ms")
        return asdict(load)


def start_celery_worker(harness: Harness, env: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "celery", "-A", "loadtest.baselines.celery_server:celery"]
    argv += ["worker", "--concurrency", "2", "--loglevel", "WARNING", "-Q", "baseline"]
    harness.start("baseline-celery-worker", argv, env, role="worker")
