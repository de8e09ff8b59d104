"""Steps 2-4, 6, 7 of `make bench`: the stack uncached, its overhead, the cached path, mixed
models (loadtest/mixed.py), memory.

The stack is `local_stack` (as `make run` starts it, on a private Redis, so every
text is a miss until step 3 sends texts again), with one worker for each light model
beside the default model's workers; those stay idle until the mixed level, the last.
CPU time of every stack process and of Redis comes from /proc; the workers' own time
inside the runtime comes from the totals each worker publishes with its heartbeat
(`spectrum:worker-stats`). The overhead figure counts the default model's workers only,
as before the light ones existed.
"""

from __future__ import annotations

import json
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from loadtest.local_stack import local_stack
from loadtest.mixed import LIGHT_MODELS, measure_mixed
from loadtest.plan import BASELINE_CONCURRENCY, CONCURRENCY, Plan
from loadtest.procstats import cpu_seconds, peak_rss_mb
from loadtest.progress import say
from loadtest.texts import write_bodies
from loadtest.wrk import Load, run_wrk
from spectrum.shared.registry import STATS_KEY


@dataclass
class Overhead:
    requests: int
    stack_cpu_s: float  # API + workers + Redis
    runtime_cpu_s: float  # the workers' time inside runtime.predict
    texts_computed: int
    ms_per_request: float
    # The same total split by process, ms of CPU per request: where the overhead lives.
    api_ms: float
    workers_outside_runtime_ms: float
    redis_ms: float
    tasks_note: str


def post_json(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
        return int(answer.status)


def work_totals(client: redis.Redis) -> tuple[float, int, int]:
    """Sum over workers of CPU seconds inside the runtime, texts computed and tasks run."""
    rows = [json.loads(raw) for raw in client.hvals(STATS_KEY)]
    return (
        sum(r["runtime_cpu_s"] for r in rows),
        sum(r["texts"] for r in rows),
        sum(r.get("tasks", 0) for r in rows),
    )


def work_of_level(
    before: tuple[float, int, int], after: tuple[float, int, int]
) -> dict[str, float | int]:
    """What the workers did during one level: tasks, texts a task, runtime CPU a text.

    The texts a task and the runtime's CPU per text are why a level reaches the share
    of the engine it does: the engine's best is measured at its best batch size.
    """
    cpu, texts, tasks = (a - b for a, b in zip(after, before, strict=True))
    return {
        "tasks": int(tasks),
        "texts": int(texts),
        "texts_per_task": texts / tasks if tasks else 0.0,
        "runtime_cpu_ms_per_text": 1000 * cpu / texts if texts else 0.0,
    }


def measure_stack(
    plan: Plan, workers: int, workdir: Path, mix: dict[str, list[str]]
) -> dict[str, Any]:
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            local_stack(
                workdir,
                workers,
                light_models=LIGHT_MODELS,
                bench_routes="true",
                worker_heartbeat_s="0.5",  # fresh runtime totals for the overhead figure
            )
        )
        client = redis.Redis.from_url(stack.redis_url)
        cleanup.callback(client.close)
        url, api, worker_procs = stack.url, stack.api, stack.workers
        # Every worker publishes its totals, the light ones too (theirs stay at zero until
        # the mixed level, so the overhead at c32 is the sentiment workers' alone).
        while len(client.hkeys(STATS_KEY)) < workers + len(stack.light_workers):
            time.sleep(0.3)
        redis_pid = int(client.info("server")["process_id"])
        stack_pids = [api.pid, *(w.pid for w in worker_procs), redis_pid]
        say(f"stack up: API {api.pid}, workers {[w.pid for w in worker_procs]}, Redis {redis_pid}")

        warm = write_bodies(mix["warm"], workdir / "warm.jsonl")
        run_wrk("warm-up", f"{url}/v1/predict", warm, 8, 3, workdir)

        uncached: list[Load] = []
        work: dict[str, dict[str, float | int]] = {}  # by concurrency, what the workers did
        overhead: Overhead | None = None
        for level in CONCURRENCY:
            bodies = write_bodies(mix[f"c{level}"], workdir / f"c{level}.jsonl")
            time.sleep(1.0)
            totals_before = work_totals(client)
            runtime_before, texts_before, _ = totals_before
            cpu_before = [cpu_seconds(pid) for pid in stack_pids]
            load = run_wrk("uncached", f"{url}/v1/predict", bodies, level, plan.uncached_s, workdir)
            time.sleep(1.5)  # let the last answers land and the heartbeats carry the totals
            cpu = [cpu_seconds(pid) - b for pid, b in zip(stack_pids, cpu_before, strict=True)]
            totals_after = work_totals(client)
            runtime_after, texts_after, _ = totals_after
            work[str(level)] = work_of_level(totals_before, totals_after)
            uncached.append(load)
            say(f"uncached c{level}: {load.req_per_s:.0f} req/s, p50 {load.p50_ms:.1f} ms")
            if level == 32:
                runtime_cpu = runtime_after - runtime_before
                per_request = 1000 / load.requests
                overhead = Overhead(
                    requests=load.requests,
                    stack_cpu_s=sum(cpu),
                    runtime_cpu_s=runtime_cpu,
                    texts_computed=texts_after - texts_before,
                    ms_per_request=(sum(cpu) - runtime_cpu) * per_request,
                    api_ms=cpu[0] * per_request,
                    workers_outside_runtime_ms=(sum(cpu[1:-1]) - runtime_cpu) * per_request,
                    redis_ms=cpu[-1] * per_request,
                    tasks_note="CPU of API, workers and Redis minus the workers' runtime time",
                )

        cached_texts = mix["cached"]
        for start in range(0, len(cached_texts), 64):
            post_json(f"{url}/v1/predict", {"texts": cached_texts[start : start + 64]})
        bodies = write_bodies(cached_texts, workdir / "cached.jsonl")
        cached: list[Load] = []
        bare: list[Load] = []
        api_cpu_c32: dict[str, float] = {}  # ms of API CPU per request, cached and bare
        for level in CONCURRENCY:
            for scenario, path, runs in (
                ("cached", "/v1/predict", cached),
                ("bare", "/_bench/static", bare),
            ):
                before = cpu_seconds(api.pid)
                target = f"{url}{path}"
                runs.append(run_wrk(scenario, target, bodies, level, plan.cached_s, workdir))
                if level == 32:
                    api_cpu_c32[scenario] = (
                        (cpu_seconds(api.pid) - before) / runs[-1].requests * 1000
                    )
            say(f"cached c{level}: {cached[-1].req_per_s:.0f} req/s, bare {bare[-1].req_per_s:.0f}")
        default_model = httpx.get(f"{url}/v1/models", timeout=5).json()["default"]
        mixed = measure_mixed(url, plan, mix["mixed"], default_model)
        memory = {
            "api_peak_rss_mb": peak_rss_mb(api.pid),
            "worker_peak_rss_mb": [peak_rss_mb(w.pid) for w in worker_procs],
            "light_worker_peak_rss_mb": {
                model: peak_rss_mb(w.pid) for model, w in stack.light_workers.items()
            },
            "redis_peak_rss_mb": peak_rss_mb(redis_pid),
        }
        return {
            "uncached": [asdict(x) for x in uncached],
            "uncached_work": work,
            "cached": [asdict(x) for x in cached],
            "bare": [asdict(x) for x in bare],
            "overhead_c32": asdict(overhead) if overhead else None,
            "api_cpu_ms_per_request_c32": api_cpu_c32,
            "mixed": mixed,
            "memory": memory,
        }


def measure_fast(
    plan: Plan, workers: int, workdir: Path, mix: dict[str, list[str]], model_id: str
) -> dict[str, Any]:
    """The fast model (`make fast-model`) served alone as the default is, uncached, at the
    baselines' levels: the same texts as the default's levels, on a stack of its own (a
    private Redis, so every text is a miss)."""
    with local_stack(workdir, workers, name="fast", model_id=model_id) as stack:
        url = stack.url
        warm = write_bodies(mix["warm"], workdir / "fast-warm.jsonl")
        run_wrk("warm-up", f"{url}/v1/predict", warm, 8, 3, workdir)
        uncached: list[Load] = []
        for level in BASELINE_CONCURRENCY:
            bodies = write_bodies(mix[f"c{level}"], workdir / f"fast-c{level}.jsonl")
            time.sleep(1.0)
            load = run_wrk(
                "fast uncached", f"{url}/v1/predict", bodies, level, plan.uncached_s, workdir
            )
            uncached.append(load)
            say(
                f"fast model uncached c{level}: {load.req_per_s:.0f} req/s, "
                f"p50 {load.p50_ms:.1f} ms"
            )
        model = httpx.get(f"{url}/v1/models", timeout=5).json()["default"]
    return {"model": model, "model_id": model_id, "uncached": [asdict(x) for x in uncached]}
