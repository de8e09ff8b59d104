"""The stack as `make run` starts it (the prediction log's writer too), on a private Redis,
for the load tests.

A thin layer on dev/spectrum_dev/harness.py: the shipped settings (the caller's SPECTRUM_*
variables are not passed on, except the worker lane settings named below), a
private Redis so every text is a cache miss, the API on a free loopback port, and
a wait until the API is ready and every worker has announced itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from scripts.devstack import model_envs
from spectrum.shared.config import Settings
from spectrum_dev.harness import Harness, Process, child_env, wait_for
from spectrum_dev.private_redis import free_port

READY_TIMEOUT_S = 180.0


@dataclass
class LocalStack:
    """What `local_stack` started: the API's URL, the private Redis and the processes."""

    url: str
    redis_url: str
    api: Process
    workers: list[Process]
    light_workers: dict[str, Process]  # by served model name


@contextmanager
def local_stack(
    workdir: Path,
    workers: int,
    name: str = "",
    light_models: Sequence[str] = (),
    **settings: str,
) -> Iterator[LocalStack]:
    """A private Redis, `workers` workers of the model the settings name, one worker of
    each of `light_models`, and the API, on loopback; logs under `workdir`; stopped
    (API, then workers, then Redis, by PID) when the block ends."""
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
        light: dict[str, Process] = {}
        if light_models:
            # The first of model_envs is the model of `env` itself, started above.
            listed = Settings(models=",".join(light_models))
            for served, model_env in model_envs(listed, env)[1:]:
                model = served.served_model_name
                one = {**model_env, "SPECTRUM_WORKER_PROCESSES": "1"}
                light[model] = harness.start_workers(one, 1, 0, name=f"{label}{model}-worker")[0]
        if here.prediction_log:
            harness.start_writer(env, name=f"{label}predlog-writer")
        api = harness.start_api(env, name=f"{label}api")
        url = f"http://127.0.0.1:{port}"
        harness.wait_http(f"{url}/readyz", READY_TIMEOUT_S)
        wait_for(lambda: live_workers(url) >= workers, READY_TIMEOUT_S, "every worker's heartbeat")
        for model in light:
            ready = lambda m=model: live_workers(url, m) >= 1  # noqa: E731
            wait_for(ready, READY_TIMEOUT_S, f"{model}'s worker")
        yield LocalStack(
            url=url, redis_url=redis_url, api=api, workers=started, light_workers=light
        )


def live_workers(url: str, model: str | None = None) -> int:
    """Workers with a fresh heartbeat on the interactive lane of `model` (default: the
    gateway's default model, which /v1/models lists first)."""
    models = httpx.get(f"{url}/v1/models", timeout=5).json()["models"]
    found = [m for m in models if model in (None, m["name"])]
    return int(found[0]["live_workers"]) if found else 0
