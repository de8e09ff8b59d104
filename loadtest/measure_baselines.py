"""Step 5 of `make bench`: the three peer designs of loadtest/baselines/ at 1, 8 and 32
connections, each with the texts the stack's uncached level of that concurrency had.

Each baseline is `{"levels": [one wrk run per concurrency], "skipped": None | why}`;
the Ray one adds `install` (`seconds`, `reused`: the venv of loadtest/ray_env.py).
A baseline that cannot be measured (Ray not installable here) is skipped with its
reason, not a failure of the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from loadtest.measure_stack import post_json
from loadtest.plan import BASELINE_CONCURRENCY, Plan
from loadtest.progress import say
from loadtest.ray_env import ensure_ray_env
from loadtest.texts import write_bodies
from loadtest.wrk import run_wrk
from spectrum_dev.harness import ROOT, Harness, child_env, kill_if_same, start_time, wait_for
from spectrum_dev.private_redis import free_port

WAIT_S = 180.0
RAY_MARK = "SPECTRUM_BENCH_RAY_RUN"  # in the environment of every process of one Ray run


def measure_baselines(plan: Plan, workdir: Path, mix: dict[str, list[str]]) -> dict[str, Any]:
    """A transformers pipeline per request, one Celery task per request with `.get()`,
    and Ray Serve with `@serve.batch`."""
    levels = {c: mix[f"c{c}"] for c in BASELINE_CONCURRENCY}
    warm = mix["baseline"]
    pipeline = "loadtest.baselines.pipeline_server"
    celery = "loadtest.baselines.celery_server"
    return {
        "pipeline": measure_uvicorn("pipeline", plan, workdir, levels, warm, None, pipeline),
        "celery": measure_uvicorn(
            "celery", plan, workdir, levels, warm, start_celery_worker, celery
        ),
        "ray": measure_ray(plan, workdir, levels, warm),
    }


def measure_uvicorn(
    name: str,
    plan: Plan,
    workdir: Path,
    levels: dict[int, list[str]],
    warm: list[str],
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
        return {"levels": run_levels(name, url, plan, workdir, levels, warm), "skipped": None}


def measure_ray(
    plan: Plan, workdir: Path, levels: dict[int, list[str]], warm: list[str]
) -> dict[str, Any]:
    """Ray Serve in its own venv; skipped with the reason when that venv cannot be built.

    Ray's processes (GCS, raylet, the Serve controller, proxy and replica) all carry
    RAY_MARK in their environment; when the step ends, however it ends, the server is
    stopped (it shuts Ray down on SIGTERM) and then every process still carrying this
    run's mark is killed by its PID."""
    found = ensure_ray_env()
    install = {"seconds": round(found.install_s, 1), "reused": found.reused}
    if found.python is None:
        return {"levels": [], "skipped": found.reason, "install": install}
    mark = uuid.uuid4().hex
    port = free_port()
    env = {**child_env(), RAY_MARK: mark, "RAY_USAGE_STATS_ENABLED": "0"}
    # Ray runs its workers at nice 15 by default; the other baselines and the stack run
    # at 0, and on a machine with other work that alone would slow the replica.
    env["RAY_worker_niceness"] = "0"
    # Ray keeps its cluster's auth token (on by default) under ~/.ray: this run's own.
    home = workdir / "ray-home"
    home.mkdir(exist_ok=True)
    env |= {"HOME": str(home), "PYTHONPATH": str(ROOT)}
    cores = len(os.sched_getaffinity(0))
    argv = [str(found.python), "-m", "loadtest.baselines.ray_server", "--port", str(port)]
    argv += ["--temp-dir", str(workdir / "ray"), "--num-cpus", str(cores)]
    argv += ["--threads", str(cores)]
    try:
        with Harness(workdir) as harness:
            harness.start("ray", argv, env)
            url = f"http://127.0.0.1:{port}"
            harness.wait_http(f"{url}/ready", WAIT_S)
            runs = run_levels("ray", url, plan, workdir, levels, warm)
    finally:
        left = kill_marked(mark)
        if left:
            say(f"ray: killed {left} process(es) left after shutdown")
    return {"levels": runs, "skipped": None, "install": install}


def run_levels(
    name: str,
    url: str,
    plan: Plan,
    workdir: Path,
    levels: dict[int, list[str]],
    warm: list[str],
) -> list[dict[str, Any]]:
    # Warm-up, on texts of its own: the first calls load weights; then a short load at
    # 8 connections reaches every process (each Celery child loads its pipeline on
    # its first task, which a c1 level would otherwise wait behind).
    for text in warm[:4]:
        post_json(f"{url}/predict", {"text": text})
    bodies = write_bodies(warm[4:], workdir / f"{name}-warm.jsonl")
    run_wrk(f"{name}-warm", f"{url}/predict", bodies, 8, plan.baseline_warm_s, workdir)
    runs = []
    for concurrency, texts in levels.items():
        bodies = write_bodies(texts, workdir / f"{name}-c{concurrency}.jsonl")
        load = run_wrk(name, f"{url}/predict", bodies, concurrency, plan.baseline_s, workdir)
        say(
            f"{name} c{concurrency}: {load.req_per_s:.0f} req/s, p50 {load.p50_ms:.1f} ms, "
            f"p99 {load.p99_ms:.1f} ms"
        )
        runs.append(asdict(load))
    return runs


def marked(mark: str) -> dict[int, str]:
    """PID -> start time of every process whose environment holds RAY_MARK=mark."""
    needle = f"{RAY_MARK}={mark}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        started = start_time(int(entry.name))
        if needle in environ.split(b"\0") and started is not None:
            found[int(entry.name)] = started
    return found


def kill_marked(mark: str) -> int:
    """SIGTERM, then SIGKILL, every process of this Ray run that is still there."""
    left = marked(mark)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    gone = lambda: all(start_time(pid) != started for pid, started in left.items())  # noqa: E731
    with contextlib.suppress(TimeoutError):
        wait_for(gone, 5.0, "Ray's processes to exit")
    for pid, started in left.items():
        kill_if_same(pid, started)
    return len(left)


def start_celery_worker(harness: Harness, env: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "celery", "-A", "loadtest.baselines.celery_server:celery"]
    argv += ["worker", "--concurrency", "2", "--loglevel", "WARNING", "-Q", "baseline"]
    harness.start("baseline-celery-worker", argv, env, role="worker")
