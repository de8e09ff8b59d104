"""The capacity model of docs/scaling.md: what serving R requests/s of the shipped model takes.

    python -m loadtest.capacity SCALE_RESULT.json BENCH_RESULT.json [--rates 1000,10000,100000]

On paper, from measured costs only: the gateway's, the workers' outside the runtime, the
brokers' and Redis's CPU per request or per task from a `make scale` result, and the
shipped model's engine speed from a `make bench` result (at 16-text batches, what the
gateway sends). Each request is one uncached text (the worst case: a cache hit never
reaches a worker) and tasks hold 16 texts (what a busy gateway sends). Every
horizontally scaled part (gateway processes, workers) is sized to run at `UTILIZATION` of
its cores; a single-threaded server (one Redis, one RabbitMQ queue) is full at
`UTILIZATION` of one core, and past that it must be split.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UTILIZATION = 0.7
TEXTS_PER_TASK = 16
# Cache commands per uncached text: the gateway's read (MGET) and the worker's write (SET).
CACHE_COMMANDS_PER_TEXT = 2


@dataclass(frozen=True)
class Costs:
    """CPU milliseconds per request (one text) or per task, and the engine's speed."""

    engine_texts_per_core_s: float
    worker_ms_per_text: float  # outside the runtime: Celery, cache write, result store
    gateway_ms_per_request: float
    redis_broker_ms_per_task: float
    rabbitmq_ms_per_task: float | None
    redis_ms_per_request: float  # result backend + cache + registry, without the broker
    redis_commands_per_request: float
    redis_all_ms_per_request: float  # one Redis as broker too, as `make run` has it

    @classmethod
    def from_results(cls, scale: dict[str, Any], bench: dict[str, Any]) -> Costs:
        engine = bench["engine"]
        per_core = engine_per_core(engine)
        curves = scale["curves"]
        redis_top = curves["redis"]["points"][-1]
        # With RabbitMQ as the broker, Redis holds only results, cache and registry.
        rabbit = curves.get("rabbitmq")
        apart = rabbit["points"][-1] if rabbit else redis_top
        # The gateway as the curve's last level saw it (16-text tasks, 64 connections a
        # worker, not saturated): dearer per request than at its ceiling, where a full
        # event loop shares each wake-up among more requests; the dearer one is planned on.
        ceiling = scale["ceilings"]["gateway"]["batched"]["cpu_ms_per_request"]["api"]
        gateway_ms = max(redis_top["cpu_ms_per_request"]["api"], ceiling)
        brokers = scale["ceilings"]["broker"]
        return cls(
            engine_texts_per_core_s=per_core,
            worker_ms_per_text=redis_top["cpu_ms_per_request"]["workers"],
            gateway_ms_per_request=gateway_ms,
            redis_broker_ms_per_task=brokers["redis"]["server_ms_per_message"],
            rabbitmq_ms_per_task=(
                brokers["rabbitmq"]["server_ms_per_message"] if "rabbitmq" in brokers else None
            ),
            redis_ms_per_request=apart["cpu_ms_per_request"]["redis"],
            redis_commands_per_request=apart["redis_commands_per_task"] / apart["texts_per_task"],
            redis_all_ms_per_request=redis_top["cpu_ms_per_request"]["redis"],
        )


def engine_per_core(engine: dict[str, Any]) -> float:
    """Sentences/s per core at 16-text batches: the bench's grid (measured over every core
    of its machine, in its best shape) divided by the cores it used."""
    cores = 2 if engine["shape"].startswith("2") else 1
    at = {row["batch_size"]: row["sentences_per_s"] for row in engine["grid"]}
    rate = at.get(TEXTS_PER_TASK, engine["best"]["sentences_per_s"])
    return float(rate) / cores


def plan(costs: Costs, rate: float) -> dict[str, Any]:
    """What `rate` uncached requests/s need, part by part."""
    tasks = rate / TEXTS_PER_TASK
    worker_cores = rate * (1000 / costs.engine_texts_per_core_s + costs.worker_ms_per_text) / 1000
    cache_share = min(1.0, CACHE_COMMANDS_PER_TEXT / costs.redis_commands_per_request)
    redis_cores = rate * costs.redis_ms_per_request / 1000
    rabbit = costs.rabbitmq_ms_per_task
    parts = {
        "gateway_cores": rate * costs.gateway_ms_per_request / 1000,
        "worker_cores": worker_cores,
        "tasks_per_s": tasks,
        "redis_broker_cores": tasks * costs.redis_broker_ms_per_task / 1000,
        "rabbitmq_queue_cores": None if rabbit is None else tasks * rabbit / 1000,
        "cache_cores": redis_cores * cache_share,
        "result_backend_cores": redis_cores * (1 - cache_share),
    }
    return {
        **parts,
        "gateway_processes": instances(parts["gateway_cores"]),
        "workers": instances(worker_cores),
        "redis_brokers": instances(parts["redis_broker_cores"]),
        "rabbitmq_queues": None if rabbit is None else instances(parts["rabbitmq_queue_cores"]),
        "cache_shards": instances(parts["cache_cores"]),
        "result_backends": instances(parts["result_backend_cores"]),
    }


def instances(cores: float | None) -> int | None:
    """One-core processes (or single-threaded servers) to hold `cores` at UTILIZATION."""
    return None if cores is None else max(1, math.ceil(cores / UTILIZATION - 1e-9))


def single_instance_limits(costs: Costs) -> dict[str, float]:
    """Requests/s at which one instance of each part is full (UTILIZATION of a core),
    lowest first: the order in which they give out."""
    per_request = {
        "one gateway process": costs.gateway_ms_per_request,
        "one Redis broker": costs.redis_broker_ms_per_task / TEXTS_PER_TASK,
        "one Redis as broker + result backend + cache": costs.redis_all_ms_per_request,
        "one Redis as result backend + cache": costs.redis_ms_per_request,
        "one Redis as cache alone": costs.redis_ms_per_request
        * min(1.0, CACHE_COMMANDS_PER_TEXT / costs.redis_commands_per_request),
        "one Redis as result backend alone": costs.redis_ms_per_request
        * max(0.0, 1 - CACHE_COMMANDS_PER_TEXT / costs.redis_commands_per_request),
    }
    if costs.rabbitmq_ms_per_task is not None:
        per_request["one RabbitMQ queue"] = costs.rabbitmq_ms_per_task / TEXTS_PER_TASK
    limits = {name: 1000 * UTILIZATION / ms for name, ms in per_request.items() if ms > 0}
    return dict(sorted(limits.items(), key=lambda item: item[1]))


def table(costs: Costs, rates: list[float]) -> str:
    rows = [plan(costs, rate) for rate in rates]
    head = "| | " + " | ".join(f"{rate:,.0f} req/s" for rate in rates) + " |"
    lines = [head, "|---|" + "---:|" * len(rates)]

    def line(label: str, key: str, cores_key: str | None = None) -> None:
        cells = []
        for row in rows:
            if row[key] is None:
                cells.append("-")
            elif cores_key is None:
                cells.append(f"{row[key]:,.0f}")
            else:
                cells.append(f"{row[key]:,} ({row[cores_key]:,.2f} cores)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    line("tasks/s (16 texts each)", "tasks_per_s")
    line("gateway processes", "gateway_processes", "gateway_cores")
    line("one-core workers", "workers", "worker_cores")
    line("Redis brokers (or queues)", "redis_brokers", "redis_broker_cores")
    line("RabbitMQ queues", "rabbitmq_queues", "rabbitmq_queue_cores")
    line("cache Redis primaries", "cache_shards", "cache_cores")
    line("result-backend Redis", "result_backends", "result_backend_cores")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scale", type=Path)
    parser.add_argument("bench", type=Path)
    parser.add_argument("--rates", default="1000,10000,100000")
    args = parser.parse_args(argv)
    costs = Costs.from_results(
        json.loads(args.scale.read_text()), json.loads(args.bench.read_text())
    )
    print("costs (CPU):")
    for name, value in vars(costs).items():
        print(f"- {name}: {value if value is None else round(value, 4)}")
    print(f"\nat {UTILIZATION:.0%} of every core:\n")
    print(table(costs, [float(r) for r in args.rates.split(",")]))
    print("\nwhere one instance is full (req/s), first to give out first:")
    for name, limit in single_instance_limits(costs).items():
        print(f"- {name}: {limit:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
