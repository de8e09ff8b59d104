"""Real processes for integration tests: workers and the API on the process harness.

A thin layer on dev/spectrum_dev/harness.py: a `Stack` adds the settings every test stack shares,
a unique model name (so stacks on one Redis have their own queues and registry
entries), log files under the test's own directory, and a clean-up of what the
stack left in the shared Redis and broker.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis

from spectrum.shared.registry import MODELS_KEY, workers_key
from spectrum_dev.harness import Harness, Process, child_env, worker_registered
from spectrum_dev.private_redis import free_port


class Stack:
    """Settings shared by one worker/API pair; the model name makes every stack's keys its own."""

    def __init__(self, workdir: Path, redis_url: str, **settings: Any) -> None:
        self.workdir = workdir
        self.harness = Harness(workdir)
        self.model_name = settings.pop("model_name", f"test-{uuid.uuid4().hex[:8]}")
        self.settings: dict[str, str] = {
            "broker_url": redis_url,
            "result_backend_url": redis_url,
            "cache_url": redis_url,
            "model_name": self.model_name,
            "model_id": "vader",
            "log_json": "true",
            "worker_heartbeat_s": "0.5",
            "worker_stale_s": "3",
            "request_timeout_s": "10",
            # Full CPU priority for the test's worker, which takes both lanes: tests
            # share the machine with other work and check latencies.
            "worker_bulk_nice": "0",
            # SPECTRUM_ENV_FILE empty: no .env in the checkout reaches the test's processes.
            "env_file": "",
            # The stack's own prediction log stream (deleted at clean-up) and database.
            "prediction_log_stream": f"spectrum:predlog:{self.model_name}",
            "database_url": f"sqlite:///{workdir / 'spectrum.db'}",
            "prediction_log_metrics_port": "0",
        }
        self.settings.update({key: str(value) for key, value in settings.items()})
        self.base_url = ""

    @property
    def procs(self) -> list[Process]:
        """Every process started, in start order (the harness's own list)."""
        return self.harness.processes

    @property
    def queue(self) -> str:
        return f"{self.model_name}.interactive"

    @property
    def bulk_queue(self) -> str:
        return f"{self.model_name}.bulk"

    def env(self, **overrides: Any) -> dict[str, str]:
        return child_env({**self.settings, **overrides})

    def live_workers(self) -> int:
        client = redis.Redis.from_url(self.settings["result_backend_url"])
        try:
            return int(client.zcount(workers_key(self.queue), time.time() - 3, "+inf"))
        finally:
            client.close()

    def has_heartbeat(self, pid: int) -> bool:
        return worker_registered(self.settings["result_backend_url"], self.queue, pid)

    def announce_busy_bulk_worker(self) -> None:
        """A fresh heartbeat on the bulk lane for the next hour, with no worker behind it:
        the API accepts jobs (a bulk worker is live) and their chunks wait in the queue."""
        client = redis.Redis.from_url(self.settings["result_backend_url"])
        try:
            client.zadd(workers_key(self.bulk_queue), {"busy-elsewhere:0": time.time() + 3600})
        finally:
            client.close()

    def start_worker(
        self, timeout: float = 90, *, prefix: tuple[str, ...] = (), **overrides: Any
    ) -> Process:
        """A `python -m spectrum.worker`: both lanes, interactive first, unless worker_lanes
        says so.

        prefix runs it under another command that execs it (`ip netns exec NAME`), so
        the process id is still the worker's own.
        """
        worker = self.harness.start_worker(self.env(**overrides), prefix=prefix)
        self.harness.wait_registered(
            worker, self.settings["result_backend_url"], self.queue, timeout
        )
        return worker

    def start_api(
        self, timeout: float = 30, *, port: int | None = None, **overrides: Any
    ) -> Process:
        """A `python -m spectrum.api` on a free port, or on `port` (an API started again after
        a kill); ready when /healthz answers (a test may start it with no worker)."""
        port = port or free_port()
        api = self.harness.start_api(self.env(port=port, **overrides))
        self.base_url = f"http://127.0.0.1:{port}"
        self.harness.wait_http(f"{self.base_url}/healthz", timeout, watch=[api])
        return api

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    def logs(self) -> str:
        return self.harness.logs()

    def stop(self) -> None:
        self.harness.stop()
        self._clean_up()

    def _clean_up(self) -> None:
        """Leave the shared Redis and RabbitMQ as they were: no queue or registry entry behind."""
        from kombu import Connection

        with Connection(self.settings["broker_url"], connect_timeout=2) as connection:
            try:
                for queue in (self.queue, self.bulk_queue):
                    connection.default_channel.queue_delete(queue)
            except Exception as exc:  # a broker already gone has nothing to clean
                print(f"queue cleanup skipped: {type(exc).__name__}")
        client = redis.Redis.from_url(self.settings["result_backend_url"], socket_timeout=2)
        try:
            client.hdel(MODELS_KEY, self.model_name)
            client.delete(
                workers_key(self.queue),
                workers_key(self.bulk_queue),
                self.settings["prediction_log_stream"],
            )
        except redis.RedisError as exc:
            print(f"registry cleanup skipped: {type(exc).__name__}")
        finally:
            client.close()


def worker_task_total(stack: Stack) -> int:
    """How many tasks the stack's workers have run, asked over Celery's remote control."""
    from celery import Celery

    app = Celery(broker=stack.settings["broker_url"])
    try:
        replies = app.control.inspect(timeout=3).stats() or {}
    finally:
        app.close()
    # Worker node names are <model>-<n>@<host> (worker/__main__.py).
    ours = [stats for node, stats in replies.items() if node.startswith(f"{stack.model_name}-")]
    if not ours:
        raise RuntimeError(f"no worker of {stack.model_name} answered the stats request")
    return sum(int(sum(stats.get("total", {}).values())) for stats in ours)
