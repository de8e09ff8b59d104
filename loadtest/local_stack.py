"""The stack as `make run` starts it (the prediction log's writer too), on a private Redis,
for the load tests.

A thin layer on scripts/harness.py: the shipped settings (the caller's SPECTRUM_*
variables are not passed on, except the worker lane settings named below), a
private Redis so every text is a cache miss, the API on a free loopback port, and
a wait until the API is ready and every worker has announced itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from scripts.harness import Harness, Process, child_env, wait_for
from scripts.private_redis import free_port
from shared.config import Settings

READY_TIMEOUT_S = 180.0


@dataclass
class LocalStack:
    """What `local_stack` started: the API's URL, the private Redis and the processes."""

    url: str
    redis_url: str
    api: Process
    workers: list[Process]


@contextmanager
def local_stack(
    workdir: Path, workers: int, name: str = "", **settings: str
) -> Iterator[LocalStack]:
    """A private Redis, `workers` workers and the API, on loopback; logs under `workdir`;
    stopped (API, then workers, then Redis, by PID) when the block ends."""
    label = f"{name}-" if name else ""
    with Harness(workdir) as harness:
        redis_url = harness.private_redis(f"{label}redis")
        port = free_port()
        here = Settings(worker_processes=workers)
        env = child_env(
            {
                "broker_url": redis_url,
                "result_backend_url": redis_url,
                "cache_url": redis_url,
                "port": port,
                "worker_processes": workers,
                # The lane settings of this process, so `SPECTRUM_WORKER_BULK_NICE=0
                # make bench` compares without it.
                "worker_bulk_nice": here.worker_bulk_nice,
                # The prediction log as `make run` has it (on unless this process's
                # SPECTRUM_PREDICTION_LOG=false), into a database of this run's own.
                "prediction_log": str(here.prediction_log).lower(),
                "database_url": f"sqlite:///{workdir / f'{label}spectrum.db'}",
                "prediction_log_metrics_port": free_port(),
                **settings,
            }
        )
        started = harness.start_workers(
            env, workers, here.interactive_only_workers, name=f"{label}worker"
        )
        if here.prediction_log:
            harness.start_writer(env, name=f"{label}predlog-writer")
        api = harness.start_api(env, name=f"{label}api")
        url = f"http://127.0.0.1:{port}"
        harness.wait_http(f"{url}/readyz", READY_TIMEOUT_S)
        wait_for(lambda: live_workers(url) >= workers, READY_TIMEOUT_S, "every worker's heartbeat")
        yield LocalStack(url=url, redis_url=redis_url, api=api, workers=started)


def live_workers(url: str) -> int:
    """Workers with a fresh heartbeat on the served model's interactive lane."""
    models = httpx.get(f"{url}/v1/models", timeout=5).json()["models"]
    return int(models[0]["live_workers"])
