"""`make bench`: the engine alone, the whole stack and two baselines, measured in one run.

    python -m loadtest.bench [--quick] [--workers N] [--scenario all|bulk] [--out DIR]

Everything runs on this machine and talks to 127.0.0.1 only; every scenario is
bounded by its duration. Load comes from `wrk` (compiled; one thread, one
unique JSON body per request from loadtest/wrk/bodies.lua), so the load
generator costs little of the CPU it shares with the stack, and its share is
reported. Steps:

1. engine alone: the worker's runtime in a child process (loadtest/engine.py);
2. the stack as `make run` starts it (the shipped model, its runtime, the
   default settings) on a private Redis, so every text is a cache miss:
   POST /v1/predict, one text per request, closed loop at 1, 8, 32, 128
   connections; at 32 the CPU time of every stack process and of Redis is
   read from /proc, minus the workers' own time inside the runtime, per request;
3. the cached path: the same texts again, against /v1/predict and against a bare
   route of the same process (/_bench/static);
4. baselines (loadtest/baselines/): a transformers pipeline per request, and
   one Celery task per request with a blocking `.get()`;
5. bulk (loadtest/bulk.py): sync p50/p99 at 4 connections without and during a
   20,000-text job, and the job's sentences/s (`--scenario bulk` runs only the
   engine and this; `--quick` leaves it out unless `--scenario bulk` asks for it).

It prints one table and writes everything as JSON under loadtest/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from loadtest.bulk import measure_bulk
from loadtest.procstats import cpu_seconds, peak_rss_mb
from loadtest.texts import text_mix, write_bodies
from scripts.private_redis import PrivateRedis, free_port
from shared.config import Settings
from shared.registry import STATS_KEY

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "loadtest" / "wrk" / "bodies.lua"
CONCURRENCY = (1, 8, 32, 128)
SEED = 20261122


@dataclass
class Plan:
    """Durations and sizes of one run; --quick shrinks them to finish in under 3 minutes."""

    uncached_s: float = 15.0
    cached_s: float = 8.0
    baseline_s: float = 15.0
    engine_texts: int = 1024
    engine_passes: int = 3
    engine_batch_sizes: str = "8,16,32,64"
    engine_singles: int = 100
    texts_per_level: dict[int, int] = field(
        default_factory=lambda: {1: 2000, 8: 8000, 32: 10000, 128: 10000}
    )
    bulk_sync_s: float = 15.0
    bulk_job_texts: int = 20_000

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            uncached_s=5.0,
            cached_s=2.0,
            baseline_s=4.0,
            engine_texts=384,
            engine_passes=1,
            engine_batch_sizes="16,64",
            engine_singles=30,
            texts_per_level={1: 600, 8: 3000, 32: 3500, 128: 3500},
            bulk_sync_s=5.0,
            bulk_job_texts=2000,
        )


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


def say(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


def run_wrk(
    scenario: str, url: str, bodies: Path, concurrency: int, seconds: float, workdir: Path
) -> Load:
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


def wait_http(url: str, procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in procs):
            raise RuntimeError(f"a process exited before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (loopback)
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")


def post_json(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
        return int(answer.status)


class Processes:
    """Children started by the bench, stopped newest first, by PID."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{len(self.procs)}-{name}.log").open("wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


def child_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRUM_")}
    env["TOKENIZERS_PARALLELISM"] = "false"
    env["SPECTRUM_ENV_FILE"] = ""  # nor a .env in the checkout: only the settings given here
    env.update({f"SPECTRUM_{key.upper()}": value for key, value in settings.items()})
    return env


def start_workers(
    procs: Processes, env: dict[str, str], workers: int, name: str
) -> list[subprocess.Popen[bytes]]:
    """Workers as `make run` starts them: the first worker_interactive_only take no chunks."""
    interactive_only = Settings(worker_processes=workers).interactive_only_workers
    started = []
    for index in range(workers):
        lanes = "interactive" if index < interactive_only else "all"
        worker_env = {**env, "SPECTRUM_WORKER_LANES": lanes}
        started.append(procs.start(f"{name}-{lanes}", [sys.executable, "-m", "worker"], worker_env))
    return started


@dataclass
class LocalStack:
    """What `local_stack` started: the API's URL, the private Redis and the processes."""

    url: str
    redis_url: str
    api: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]


@contextmanager
def local_stack(
    workdir: Path, workers: int, name: str = "", **settings: str
) -> Iterator[LocalStack]:
    """A private Redis, `workers` workers and the API as `make run` starts them, on
    loopback; stopped (children by PID, then Redis) when the block ends."""
    label = f"{name}-" if name else ""
    store = PrivateRedis(workdir / f"{label}redis").start()
    procs = Processes(workdir)
    try:
        port = free_port()
        env = child_env(
            broker_url=store.url,
            result_backend_url=store.url,
            cache_url=store.url,
            port=str(port),
            worker_processes=str(workers),
            # The lane settings of this process (start_workers reads the rest), so
            # `SPECTRUM_WORKER_BULK_NICE=0 make bench` compares without it.
            worker_bulk_nice=str(Settings().worker_bulk_nice),
            **settings,
        )
        started = start_workers(procs, env, workers, f"{label}worker")
        api = procs.start(f"{label}api", [sys.executable, "-m", "api"], env)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/readyz", procs.procs, timeout=180)
        yield LocalStack(url=url, redis_url=store.url, api=api, workers=started)
    finally:
        procs.stop()
        store.stop()


def runtime_totals(client: redis.Redis) -> tuple[float, int]:
    """Sum over workers of CPU seconds inside the runtime, and of texts computed."""
    rows = [json.loads(raw) for raw in client.hvals(STATS_KEY)]  # type: ignore[union-attr]
    return sum(r["runtime_cpu_s"] for r in rows), sum(r["texts"] for r in rows)


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


def measure_stack(
    plan: Plan, workers: int, workdir: Path, mix: dict[str, list[str]]
) -> dict[str, Any]:
    with ExitStack() as cleanup:
        stack = cleanup.enter_context(
            local_stack(
                workdir,
                workers,
                bench_routes="true",
                worker_heartbeat_s="0.5",  # fresh runtime totals for the overhead figure
            )
        )
        client = redis.Redis.from_url(stack.redis_url)
        cleanup.callback(client.close)
        url, api, worker_procs = stack.url, stack.api, stack.workers
        while len(client.hkeys(STATS_KEY)) < workers:  # every worker has loaded its model
            time.sleep(0.3)
        redis_pid = int(client.info("server")["process_id"])  # type: ignore[index]
        stack_pids = [api.pid, *(w.pid for w in worker_procs), redis_pid]
        say(f"stack up: API {api.pid}, workers {[w.pid for w in worker_procs]}, Redis {redis_pid}")

        warm = write_bodies(mix["warm"], workdir / "warm.jsonl")
        run_wrk("warm-up", f"{url}/v1/predict", warm, 8, 3, workdir)

        uncached: list[Load] = []
        overhead: Overhead | None = None
        for level in CONCURRENCY:
            bodies = write_bodies(mix[f"c{level}"], workdir / f"c{level}.jsonl")
            time.sleep(1.0)
            runtime_before, texts_before = runtime_totals(client)
            cpu_before = [cpu_seconds(pid) for pid in stack_pids]
            load = run_wrk("uncached", f"{url}/v1/predict", bodies, level, plan.uncached_s, workdir)
            time.sleep(1.5)  # let the last answers land and the heartbeats carry the totals
            cpu = [cpu_seconds(pid) - b for pid, b in zip(stack_pids, cpu_before, strict=True)]
            runtime_after, texts_after = runtime_totals(client)
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
        memory = {
            "api_peak_rss_mb": peak_rss_mb(api.pid),
            "worker_peak_rss_mb": [peak_rss_mb(w.pid) for w in worker_procs],
            "redis_peak_rss_mb": peak_rss_mb(redis_pid),
        }
        return {
            "uncached": [asdict(x) for x in uncached],
            "cached": [asdict(x) for x in cached],
            "bare": [asdict(x) for x in bare],
            "overhead_c32": asdict(overhead) if overhead else None,
            "api_cpu_ms_per_request_c32": api_cpu_c32,
            "memory": memory,
        }


def measure_baseline(
    name: str,
    plan: Plan,
    workdir: Path,
    texts: list[str],
    extra: Callable[[Processes, dict[str, str]], None] | None,
    module: str,
) -> dict[str, Any]:
    store = PrivateRedis(workdir / f"redis-{name}").start()
    procs = Processes(workdir)
    try:
        port = free_port()
        env = {**child_env(), "BASELINE_REDIS_URL": store.url}
        if extra is not None:
            extra(procs, env)
        argv = [sys.executable, "-m", "uvicorn", f"{module}:app", "--port", str(port)]
        procs.start(name, [*argv, "--log-level", "warning"], env)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/docs", procs.procs, timeout=180)
        bodies = write_bodies(texts, workdir / f"{name}.jsonl")
        # Warm-up: the first calls load weights and, for Celery, the workers' pipelines.
        for text in texts[-4:]:
            post_json(f"{url}/predict", {"text": text})
        load = run_wrk(name, f"{url}/predict", bodies, 32, plan.baseline_s, workdir)
        say(f"{name} c32: {load.req_per_s:.0f} req/s, p50 {load.p50_ms:.1f} ms")
        return asdict(load)
    finally:
        procs.stop()
        store.stop()


def start_celery_worker(procs: Processes, env: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "celery", "-A", "loadtest.baselines.celery_server:celery"]
    argv += ["worker", "--concurrency", "2", "--loglevel", "WARNING", "-Q", "baseline"]
    procs.start("baseline-celery-worker", argv, env)


def run_engine(plan: Plan, workdir: Path, texts: list[str], workers: int) -> dict[str, Any]:
    """The engine's best on this machine: one process using every core, and (when the
    stack runs several workers) that many processes at once, one share of cores each."""
    path = workdir / "engine-texts.json"
    path.write_text(json.dumps(texts))
    argv = [sys.executable, "-m", "loadtest.engine", str(path), "--passes", str(plan.engine_passes)]
    argv += ["--batch-sizes", plan.engine_batch_sizes, "--singles", str(plan.engine_singles)]

    def launch(processes: int) -> list[dict[str, Any]]:
        env = child_env(worker_processes=str(processes))
        children = [
            subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(processes)
        ]
        outputs = [child.communicate()[0] for child in children]
        if any(child.returncode for child in children):
            raise RuntimeError("the engine benchmark failed")
        return [json.loads(out.strip().splitlines()[-1]) for out in outputs]

    [alone] = launch(1)
    shapes = {"1 process": alone}
    if workers > 1:
        parallel = launch(workers)
        merged = dict(parallel[0])
        merged["grid"] = [
            {**row, "sentences_per_s": sum(p["grid"][i]["sentences_per_s"] for p in parallel)}
            for i, row in enumerate(parallel[0]["grid"])
        ]
        merged["best"] = max(merged["grid"], key=lambda row: row["sentences_per_s"])
        shapes[f"{workers} processes"] = merged
    name, result = max(shapes.items(), key=lambda item: item[1]["best"]["sentences_per_s"])
    result = {**result, "shape": name, "shapes": {k: v["best"] for k, v in shapes.items()}}
    result["single_sentence_ms"] = min(v["single_sentence_ms"] for v in shapes.values())
    best = result["best"]
    say(
        f"engine alone ({result['runtime']}, {name}): {best['sentences_per_s']:.0f} "
        f"sentences/s at batch {best['batch_size']}; one sentence "
        f"{result['single_sentence_ms']:.1f} ms"
    )
    return result


def verdicts(report: dict[str, Any]) -> list[tuple[str, float, str, bool]]:
    """(what, measured, required, met) for the targets of the performance and jobs issues."""
    out = []
    bulk = report.get("bulk")
    if bulk is not None and bulk["p99_ratio"] is not None:
        ratio = bulk["p99_ratio"]
        limit = bulk["p99_ratio_limit"]
        out.append(("sync p99 c4 during a job / without", ratio, f"<= {limit:g}", ratio <= limit))
    if "stack" not in report:
        return out
    engine = report["engine"]
    stack = report["stack"]
    at = {row["concurrency"]: row for row in stack["uncached"]}
    cached = {row["concurrency"]: row for row in stack["cached"]}
    bare = {row["concurrency"]: row for row in stack["bare"]}
    e2e = at[32]["req_per_s"]
    rows = [
        ("uncached c32 / engine alone", e2e / engine["best"]["sentences_per_s"], ">= 0.8"),
        (
            "stack overhead, ms CPU per request at c32",
            stack["overhead_c32"]["ms_per_request"],
            "<= 0.5",
        ),
        (
            "uncached c32 / pipeline baseline",
            e2e / report["baselines"]["pipeline"]["req_per_s"],
            ">= 4",
        ),
        (
            "uncached c32 / Celery .get() baseline",
            e2e / report["baselines"]["celery"]["req_per_s"],
            ">= 3",
        ),
        (
            "c1 p50 - engine single sentence, ms",
            at[1]["p50_ms"] - engine["single_sentence_ms"],
            "<= 5",
        ),
        (
            "cached c32 / bare endpoint c32",
            cached[32]["req_per_s"] / bare[32]["req_per_s"],
            ">= 0.5",
        ),
        ("API peak RSS, MB", stack["memory"]["api_peak_rss_mb"], "< 200"),
    ]
    for what, value, need in rows:
        op, bound = need.split()
        limit = float(bound)
        met = {">=": value >= limit, "<=": value <= limit, "<": value < limit}[op]
        out.append((what, value, need, met))
    return out


def table(report: dict[str, Any]) -> str:
    engine = report["engine"]
    lines = [
        f"engine alone ({engine['runtime']}, {engine['shape']}, best batch "
        f"{engine['best']['batch_size']}): "
        f"{engine['best']['sentences_per_s']:.0f} sentences/s; one sentence "
        f"{engine['single_sentence_ms']:.1f} ms",
        "",
        "| scenario | conc. | req/s | p50 ms | p95 ms | p99 ms | errors | wrk CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    stack = report.get("stack")
    rows = []
    if stack is not None:
        rows += [*stack["uncached"], *stack["cached"], *stack["bare"]]
        rows += [report["baselines"]["pipeline"], report["baselines"]["celery"]]
    bulk = report.get("bulk")
    if bulk is not None:
        rows += [bulk["sync_alone"], bulk["sync_during_job"]]
    for row in rows:
        lines.append(
            f"| {row['scenario']} | {row['concurrency']} | {row['req_per_s']:.0f} | "
            f"{row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['p99_ms']:.1f} | "
            f"{row['errors']}{' (wrapped)' if row['wraps'] else ''} | {row['wrk_cpu_share']:.0%} |"
        )
    if bulk is not None:
        job = bulk["job"]
        lines += [
            "",
            f"bulk job: {job['texts']} texts, {job['progress']['done']} done, {job['state']} "
            f"after {job['seconds']:.1f} s, "
            f"{job['sentences_per_s']:.0f} sentences/s (engine alone "
            f"{engine['best']['sentences_per_s']:.0f}); running through the sync load: "
            f"{'yes' if job['running_through_the_load'] else 'NO'}",
        ]
    if stack is not None and stack["overhead_c32"] is not None:
        over = stack["overhead_c32"]
        api_cpu = stack["api_cpu_ms_per_request_c32"]
        lines += [
            "",
            f"overhead at c32, ms CPU per request: API {over['api_ms']:.2f}, workers outside "
            f"the runtime {over['workers_outside_runtime_ms']:.2f}, Redis {over['redis_ms']:.2f}; "
            f"API alone on the cached route {api_cpu['cached']:.2f}, "
            f"on the bare route {api_cpu['bare']:.2f}",
        ]
    if stack is not None:
        memory = stack["memory"]
        workers_rss = ", ".join(f"{m:.0f}" for m in memory["worker_peak_rss_mb"])
        lines += [
            "",
            f"peak RSS: API {memory['api_peak_rss_mb']:.0f} MB, worker(s) {workers_rss} MB, "
            f"Redis {memory['redis_peak_rss_mb']:.0f} MB",
        ]
    lines += [
        "",
        "| target | measured | required | met |",
        "|---|---:|---|---|",
    ]
    for what, value, need, met in report["verdicts"]:
        lines.append(f"| {what} | {value:.2f} | {need} | {'yes' if met else 'NO'} |")
    return "\n".join(lines)


def run_all(
    report: dict[str, Any], plan: Plan, workers: int, workdir: Path, mix: dict[str, list[str]]
) -> None:
    """Steps 2-4: the stack uncached and cached, and the two baselines."""
    report["stack"] = measure_stack(plan, workers, workdir, mix)
    report["baselines"] = {
        "pipeline": measure_baseline(
            "pipeline",
            plan,
            workdir,
            mix["baseline"],
            None,
            "loadtest.baselines.pipeline_server",
        ),
        "celery": measure_baseline(
            "celery",
            plan,
            workdir,
            mix["baseline"],
            start_celery_worker,
            "loadtest.baselines.celery_server",
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs: under 3 minutes")
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
    mix_sizes = {"warm": 300, "cached": 2000, "engine": plan.engine_texts, "baseline": 3000}
    mix_sizes |= {f"c{level}": n for level, n in plan.texts_per_level.items()}
    # Sync load at c4 is ~100 req/s at most here: 200 per second of load leaves room.
    bulk_sync = 200 + int(200 * plan.bulk_sync_s)
    mix_sizes |= {"bulk_job": plan.bulk_job_texts}
    mix_sizes |= {"bulk_alone": bulk_sync, "bulk_during": bulk_sync}
    all_texts = text_mix(sum(mix_sizes.values()), seed=SEED)
    mix: dict[str, list[str]] = {}
    for name, size in mix_sizes.items():
        mix[name], all_texts = all_texts[:size], all_texts[size:]
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
        report["engine"] = run_engine(plan, workdir, mix["engine"], args.workers)
        if args.scenario == "all":
            run_all(report, plan, args.workers, workdir, mix)
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
    report["verdicts"] = verdicts(report)
    report["seconds"] = round(time.monotonic() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = ("-quick" if args.quick else "") + ("-bulk" if args.scenario == "bulk" else "")
    path = args.out / f"bench-{stamp}{suffix}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"\n{report['seconds']:.0f} s; written to {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
