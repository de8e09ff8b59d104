"""Real processes for integration tests: a worker and the API, each `python -m` its package."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import httpx
import redis

from scripts.private_redis import free_port
from shared.registry import MODELS_KEY, worker_member, workers_key

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Proc:
    """A child process whose combined output goes to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.popen = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


class Stack:
    """Settings shared by one worker/API pair; the model name makes every stack's keys its own."""

    def __init__(self, workdir: Path, redis_url: str, **settings: Any) -> None:
        self.workdir = workdir
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
        }
        self.settings.update({key: str(value) for key, value in settings.items()})
        self.procs: list[Proc] = []
        self.base_url = ""

    @property
    def queue(self) -> str:
        return f"{self.model_name}.interactive"

    @property
    def bulk_queue(self) -> str:
        return f"{self.model_name}.bulk"

    def env(self, **overrides: Any) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("SPECTRUM_")}
        env["TOKENIZERS_PARALLELISM"] = "false"
        merged = {**self.settings, **{key: str(value) for key, value in overrides.items()}}
        env.update({f"SPECTRUM_{key.upper()}": value for key, value in merged.items()})
        return env

    def _spawn(
        self, name: str, module: str, env: dict[str, str], prefix: tuple[str, ...] = ()
    ) -> Proc:
        index = len(self.procs)
        argv = [*prefix, sys.executable, "-m", module]
        proc = Proc(name, argv, env, self.workdir / f"{index}-{name}.log")
        self.procs.append(proc)
        return proc

    def live_workers(self) -> int:
        client = redis.Redis.from_url(self.settings["result_backend_url"])
        try:
            return int(client.zcount(workers_key(self.queue), time.time() - 3, "+inf"))
        finally:
            client.close()

    def has_heartbeat(self, pid: int) -> bool:
        client = redis.Redis.from_url(self.settings["result_backend_url"])
        try:
            member = worker_member(socket.gethostname(), pid)
            return client.zscore(workers_key(self.queue), member) is not None
        finally:
            client.close()

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
    ) -> Proc:
        """A `python -m worker`: both lanes, interactive first, unless worker_lanes says so.

        prefix runs it under another command that execs it (`ip netns exec NAME`), so
        the process id is still the worker's own.
        """
        proc = self._spawn("worker", "worker", self.env(**overrides), prefix)

        def registered() -> bool:
            if not proc.alive():
                raise RuntimeError(f"worker exited:\n{proc.log()[-3000:]}")
            # Its own entry: a killed worker's heartbeat may still look fresh.
            return self.has_heartbeat(proc.pid)

        wait_for(registered, timeout, "the worker's heartbeat")
        return proc

    def start_api(self, timeout: float = 30, *, port: int | None = None, **overrides: Any) -> Proc:
        """A `python -m api` on a free port, or on `port` (an API started again after a kill)."""
        port = port or free_port()
        proc = self._spawn("api", "api", self.env(port=port, **overrides))
        self.base_url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            if not proc.alive():
                raise RuntimeError(f"api exited:\n{proc.log()[-3000:]}")
            try:
                return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout, "the API's /healthz")
        return proc

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    def logs(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.log()}" for p in self.procs)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
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
            client.delete(workers_key(self.queue), workers_key(self.bulk_queue))
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
    # Worker node names are <model>.<pid>@<host> (worker/__main__.py).
    ours = [stats for node, stats in replies.items() if node.startswith(f"{stack.model_name}.")]
    if not ours:
        raise RuntimeError(f"no worker of {stack.model_name} answered the stats request")
    return sum(int(sum(stats.get("total", {}).values())) for stats in ours)
