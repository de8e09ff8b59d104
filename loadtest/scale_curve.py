"""The end-to-end parts of `make scale`: the scaling curve, and one gateway's ceiling.

A curve: one gateway (`python -m spectrum.api`, the shipped settings but for the admission caps,
raised so that admission never sheds the offered load) on this host, and stand-in
workers (`SPECTRUM_MODEL_ID=fixed`) added level by level, worker i inside namespace i of
a `NetnsLan`, reaching the broker and Redis over its own delayed link as a worker on
another machine would. At each level, wrk sends a closed loop of unique texts (no cache
hit) to `POST /v1/predict`, first to warm up, then, once what the warm-up left queued has
drained, to measure. CPU time of every process comes from /proc, tasks and texts from
the totals the workers publish with their heartbeats.

The gateway's ceiling: the same gateway against stand-ins that cost nothing, on
loopback, at many connections, with the shipped batching and with one task per
request, so that its CPU per request and per task can both be read.
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from loadtest.procstats import cpu_seconds, machine_busy_seconds
from loadtest.scale_plan import ScalePlan
from loadtest.wrk import Load, run_wrk
from spectrum.shared.registry import STATS_KEY, worker_member
from spectrum_dev.harness import Harness, Process, child_env, wait_for
from spectrum_dev.private_redis import free_port

READY_TIMEOUT_S = 120.0
# A small vocabulary for the texts: the stand-in reads none of it, the gateway all of it.
_VOCABULARY = """film story actor scene plot great awful boring funny warm dull bright slow
quick music score camera light dark moving tender cold brilliant flat sharp loud quiet script
ending début cast director charm mess triumph failure hour minute laugh tear"""
WORDS = tuple(_VOCABULARY.split())


def probe_texts(prefix: str, count: int, seed: int = 15) -> list[str]:
    """`count` distinct texts of 5-60 words (the bench mix's range), each made unique by
    its prefix and number: a text sent once is never a cache hit."""
    rng = random.Random(f"{seed}-{prefix}")
    return [
        f"{prefix}-{i} " + " ".join(rng.choices(WORDS, k=rng.randint(4, 59))) for i in range(count)
    ]


def live_workers(url: str, model: str) -> int:
    """Workers the gateway counts live for `model` (the Redis may know other models:
    the ceiling's, the other broker's)."""
    models = httpx.get(f"{url}/v1/models", timeout=5).json()["models"]
    return sum(int(m["live_workers"]) for m in models if m["name"] == model)


def write_bodies(texts: Sequence[str], path: Path) -> Path:
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts))
    return path


@dataclass
class Servers:
    """The broker and Redis a run's stacks share, and how workers reach them."""

    redis_url: str  # from this host
    redis_pid: int
    lan_host: str | None  # the address namespaced workers reach this host at; None: loopback
    prefixes: list[tuple[str, ...]]  # `ip netns exec` of namespace i, or () each

    def redis_url_for_workers(self) -> str:
        return self._for_workers(self.redis_url)

    def _for_workers(self, url: str) -> str:
        return url if self.lan_host is None else url.replace("127.0.0.1", self.lan_host)

    def broker_url_for_workers(self, broker_url: str) -> str:
        return self._for_workers(broker_url)


def stack_settings(plan: ScalePlan, name: str, broker_url: str, redis_url: str) -> dict[str, Any]:
    return {
        "broker_url": broker_url,
        "result_backend_url": redis_url,
        "cache_url": redis_url,
        "model_id": "fixed",
        "model_name": name,
        "fixed_pass_ms": plan.pass_ms,
        "fixed_text_ms": plan.text_ms,
        # Admission must not shed what the run offers: 64 connections per worker at 16.
        "max_in_flight": 4096,
        "max_queue_depth": 100_000,
        "request_timeout_s": 30,
        "worker_lanes": "interactive",
        "worker_bulk_nice": 0,
        "worker_heartbeat_s": 0.5,  # fresh totals for each level
    }


@dataclass
class Snapshot:
    """CPU seconds so far of each process of a stack, the machine's busy time, the
    workers' totals (tasks, texts, seconds inside the runtime) and Redis's command count."""

    wall: float
    api: float
    workers: float
    redis: float
    broker: float
    machine: float
    tasks: int
    texts: int
    runtime_wall: float
    redis_commands: int
    texts_by_worker: list[int]

    @classmethod
    def take(
        cls,
        api: Process,
        workers: Sequence[Process],
        client: redis.Redis,
        redis_pid: int,
        broker_pid: int | None,
    ) -> Snapshot:
        host = socket.gethostname()
        members = [worker_member(host, w.pid) for w in workers]
        raws = client.hmget(STATS_KEY, members)
        rows = [json.loads(raw) for raw in raws if raw is not None]
        return cls(
            wall=time.monotonic(),
            api=cpu_seconds(api.pid),
            workers=sum(cpu_seconds(w.pid) for w in workers),
            redis=cpu_seconds(redis_pid),
            broker=cpu_seconds(broker_pid) if broker_pid is not None else 0.0,
            machine=machine_busy_seconds(),
            tasks=sum(int(r["tasks"]) for r in rows),
            texts=sum(int(r["texts"]) for r in rows),
            runtime_wall=sum(float(r["runtime_wall_s"]) for r in rows),
            redis_commands=int(client.info("stats")["total_commands_processed"]),
            texts_by_worker=[0 if raw is None else int(json.loads(raw)["texts"]) for raw in raws],
        )


def point(
    load: Load, before: Snapshot, after: Snapshot, cores: int, workers: int
) -> dict[str, Any]:
    """One level's figures: wrk's (over its run), and the stack's over the window from
    `before` to `after` (the run and its tail, while the last tasks finish): tasks and
    texts computed, CPU per component as cores (1.0 = one whole core) and per text
    computed (one text per request, none cached: per request), and how busy the workers
    were (time inside the runtime over the window; 1.0 = never idle)."""
    window = after.wall - before.wall
    wrk_cpu = load.wrk_cpu_share * load.seconds * cores
    cpu = {
        "api": after.api - before.api,
        "workers": after.workers - before.workers,
        "redis": after.redis - before.redis,
        "broker": after.broker - before.broker,
        "wrk": wrk_cpu,
    }
    busy = after.machine - before.machine
    tasks = after.tasks - before.tasks
    texts = after.texts - before.texts
    return {
        "connections": load.concurrency,
        "req_per_s": load.req_per_s,
        "p50_ms": load.p50_ms,
        "p95_ms": load.p95_ms,
        "p99_ms": load.p99_ms,
        "requests": load.requests,
        "errors": load.errors,
        "wraps": load.wraps,
        "seconds": load.seconds,
        "window_s": window,
        "tasks": tasks,
        "texts": texts,
        "texts_per_task": texts / tasks if tasks else None,
        "tasks_per_s": tasks / window,
        "workers_busy": (after.runtime_wall - before.runtime_wall) / (workers * window)
        if workers
        else None,
        "redis_commands_per_task": (
            (after.redis_commands - before.redis_commands) / tasks if tasks else None
        ),
        "cpu_cores": {k: v / window for k, v in cpu.items()},
        "cpu_ms_per_request": {k: 1000 * v / texts if texts else None for k, v in cpu.items()},
        # Texts each worker computed: a starved worker shows here.
        "texts_by_worker": [
            a - b for a, b in zip(after.texts_by_worker, before.texts_by_worker, strict=True)
        ],
        "machine_busy_cores": busy / window,
        "others_cores": max(0.0, busy - sum(cpu.values())) / window,
    }


def drain_s(plan: ScalePlan) -> float:
    """Long enough for the work a warm-up left queued to finish: each worker holds about
    `connections_per_worker` texts."""
    per_text = (plan.text_ms + plan.pass_ms / 16) / 1000
    return 0.5 + 1.5 * plan.connections_per_worker * per_text


def measure_curve(
    broker: str,
    broker_url: str,
    broker_pid: int | None,
    plan: ScalePlan,
    servers: Servers,
    workdir: Path,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Throughput and latency at each worker count of the plan, with `broker`."""
    cores = len(os.sched_getaffinity(0))
    name = f"scale-{broker}-{uuid.uuid4().hex[:6]}"
    here = workdir / f"curve-{broker}"
    here.mkdir(parents=True, exist_ok=True)
    client = redis.Redis.from_url(servers.redis_url)
    points: list[dict[str, Any]] = []
    with Harness(here) as harness:
        port = free_port()
        settings = stack_settings(plan, name, broker_url, servers.redis_url)
        api = harness.start_api(child_env({**settings, "port": port}))
        url = f"http://127.0.0.1:{port}"
        harness.wait_http(f"{url}/healthz", READY_TIMEOUT_S, watch=[api])
        worker_env = child_env(
            stack_settings(
                plan,
                name,
                servers.broker_url_for_workers(broker_url),
                servers.redis_url_for_workers(),
            )
        )
        workers: list[Process] = []
        queue = f"{name}.interactive"
        for add, count in plan.additions():
            started = time.monotonic()
            new = [
                harness.start_worker(worker_env, name=f"worker{i}", prefix=servers.prefixes[i])
                for i in range(len(workers), len(workers) + add)
            ]
            for worker in new:
                harness.wait_registered(worker, servers.redis_url, queue, READY_TIMEOUT_S)
            workers += new
            wait_for(
                lambda n=count: live_workers(url, name) >= n, READY_TIMEOUT_S, f"{count} workers"
            )
            up_s = time.monotonic() - started
            connections = plan.connections(count)
            rate_bound = count * plan.worker_rate()
            warm = write_bodies(
                probe_texts(f"{name}-w{count}", max(200, math.ceil(rate_bound * plan.warm_s * 2))),
                here / f"warm-{count}.jsonl",
            )
            run_wrk(f"{broker}-warm", f"{url}/v1/predict", warm, connections, plan.warm_s, here)
            time.sleep(drain_s(plan))
            bodies = write_bodies(
                probe_texts(f"{name}-m{count}", plan.bodies_for(count)),
                here / f"measure-{count}.jsonl",
            )
            before = Snapshot.take(api, workers, client, servers.redis_pid, broker_pid)
            seconds = plan.level_seconds(count)
            load = run_wrk(broker, f"{url}/v1/predict", bodies, connections, seconds, here)
            time.sleep(1.2)  # two heartbeats: the workers' totals include the last tasks
            after = Snapshot.take(api, workers, client, servers.redis_pid, broker_pid)
            row = {
                "workers": count,
                "workers_up_s": up_s,
                **point(load, before, after, cores, count),
            }
            row["stand_in_ceiling_per_s"] = rate_bound
            points.append(row)
            say(
                f"{broker}: {count:2d} worker(s), {connections} connections: "
                f"{load.req_per_s:6.0f} req/s, p99 {load.p99_ms:6.0f} ms, "
                f"{row['texts_per_task'] or 0:.1f} texts/task, errors {load.errors}"
            )
    client.close()
    return points


def measure_gateway_ceiling(
    plan: ScalePlan, servers: Servers, workdir: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """One gateway against `ceiling_workers` stand-ins that cost nothing (loopback)."""
    cores = len(os.sched_getaffinity(0))
    name = f"scale-ceiling-{uuid.uuid4().hex[:6]}"
    here = workdir / "gateway"
    here.mkdir(parents=True, exist_ok=True)
    free = ScalePlan(**{**asdict(plan), "pass_ms": 0.0, "text_ms": 0.0})
    settings = stack_settings(free, name, servers.redis_url, servers.redis_url)
    client = redis.Redis.from_url(servers.redis_url)
    out: dict[str, Any] = {"workers": plan.ceiling_workers, "how": ""}
    with Harness(here) as harness:
        workers = [
            harness.start_worker(child_env(settings), name=f"free{i}")
            for i in range(plan.ceiling_workers)
        ]
        apis = {}
        for label, batch in (("batched", 16), ("one_task_per_request", 1)):
            port = free_port()
            env = child_env({**settings, "port": port, "batch_max_texts": batch})
            apis[label] = (harness.start_api(env, name=f"api-{label}"), port)
        for worker in workers:
            harness.wait_registered(worker, servers.redis_url, f"{name}.interactive")
        for label, (api, port) in apis.items():
            url = f"http://127.0.0.1:{port}"
            harness.wait_http(f"{url}/readyz", READY_TIMEOUT_S, watch=[api])
            connections = plan.ceiling_connections
            warm = write_bodies(probe_texts(f"{name}-{label}-w", 2000), here / f"{label}-w.jsonl")
            run_wrk(f"gateway-{label}-warm", f"{url}/v1/predict", warm, connections, 1.0, here)
            time.sleep(1.0)
            bodies = write_bodies(
                probe_texts(f"{name}-{label}", math.ceil(4000 * plan.ceiling_s)),
                here / f"{label}.jsonl",
            )
            before = Snapshot.take(api, workers, client, servers.redis_pid, None)
            load = run_wrk(f"gateway-{label}", f"{url}/v1/predict", bodies, connections,
                           plan.ceiling_s, here)  # fmt: skip
            time.sleep(1.2)
            after = Snapshot.take(api, workers, client, servers.redis_pid, None)
            row = point(load, before, after, cores, len(workers))
            api_ms = row["cpu_ms_per_request"]["api"]
            # One process: its event loop is one thread, so one core is all it can use.
            row["one_core_req_per_s"] = 1000 / api_ms if api_ms else None
            row["api_ms_per_task"] = (
                1000 * (after.api - before.api) / row["tasks"] if row["tasks"] else None
            )
            out[label] = row
            say(
                f"gateway ({label}): {load.req_per_s:.0f} req/s, {row['tasks_per_s']:.0f} "
                f"tasks/s, API {row['cpu_cores']['api']:.2f} cores, {api_ms:.2f} ms/request "
                f"-> one core: {row['one_core_req_per_s']:.0f} req/s"
            )
    client.close()
    out["how"] = (
        f"one API process, {plan.ceiling_workers} zero-cost stand-ins on loopback, "
        f"{plan.ceiling_connections} connections, {plan.ceiling_s:g} s each"
    )
    out["per_request_and_task_ms"] = split_costs(out["batched"], out["one_task_per_request"])
    return out


def split_costs(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float] | None:
    """The gateway's CPU as a ms per request + b ms per task, solved from two runs whose
    tasks per request differ; None when they do not differ enough to tell."""
    ra, rb = a["texts"], b["texts"]  # one text per request, none cached
    ta, tb = a["tasks"], b["tasks"]
    ca = a["cpu_cores"]["api"] * a["window_s"] * 1000
    cb = b["cpu_cores"]["api"] * b["window_s"] * 1000
    det = ra * tb - rb * ta
    if not ra or not rb or abs(det) < 0.05 * ra * tb:
        return None
    per_request = (ca * tb - cb * ta) / det
    per_task = (ra * cb - rb * ca) / det
    return {"ms_per_request": per_request, "ms_per_task": per_task}
