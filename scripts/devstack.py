"""`make run`: Redis (a private one if none is reachable), a worker, the API and Flower.

Ctrl-C stops all.

Run it as `python -m scripts.devstack`. Children get the same SPECTRUM_*
settings, rewritten to the private Redis when the configured one is unreachable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from scripts.private_redis import PrivateRedis, redis_reachable, tcp_reachable
from shared.config import Settings
from worker.runtimes import choose_runtime

URL_SETTINGS = ("broker_url", "result_backend_url", "cache_url")
# The first worker's metrics port when SPECTRUM_WORKER_METRICS_PORT is not set; worker
# process i (of SPECTRUM_WORKER_PROCESSES) serves on this port + i.
WORKER_METRICS_PORT = 9101


def say(message: str) -> None:
    sys.stderr.write(f"[spectrum] {message}\n")
    sys.stderr.flush()


def reachable(url: str) -> bool:
    return redis_reachable(url) if url.startswith(("redis", "unix")) else tcp_reachable(url)


def wait_ready(base_url: str, children: list[subprocess.Popen[bytes]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            return False
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


def stop(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM newest first (API, then worker: a warm shutdown finishes its batch)."""
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in reversed(children):
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main() -> int:
    settings = Settings()
    env = dict(os.environ)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Flower runs with this stack, so tasks send the events it shows (their cost is
    # why they are off by default; SPECTRUM_TASK_EVENTS=false keeps them off).
    env.setdefault("SPECTRUM_TASK_EVENTS", "true")
    redis: PrivateRedis | None = None
    unreachable = [name for name in URL_SETTINGS if not reachable(getattr(settings, name))]
    if unreachable:
        if not settings.broker_url.startswith("redis") and "broker_url" in unreachable:
            say(f"broker {settings.broker_url} is unreachable; start it or unset it")
            return 1
        redis = PrivateRedis(Path(tempfile.mkdtemp(prefix="spectrum-redis-"))).start()
        for name in unreachable:
            env[f"SPECTRUM_{name.upper()}"] = redis.url
        say(f"no Redis at {', '.join(unreachable)}: started a private one at {redis.url}")
    else:
        say(f"using broker {settings.broker_url} and result backend {settings.result_backend_url}")
    say(f"serving {settings.model_id} with the {choose_runtime(settings)} runtime")
    metrics_port = settings.worker_metrics_port or WORKER_METRICS_PORT
    metrics_ports = [metrics_port + i for i in range(settings.worker_processes)]

    children: list[subprocess.Popen[bytes]] = []
    interrupted = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        # Children ignore the terminal's Ctrl-C; we stop them in order ourselves.
        new_group = {"process_group": 0}
        for index, port in enumerate(metrics_ports):
            # The first worker_interactive_only workers never take job chunks.
            lanes = "interactive" if index < settings.interactive_only_workers else "all"
            worker_env = {
                **env,
                "SPECTRUM_WORKER_METRICS_PORT": str(port),
                "SPECTRUM_WORKER_LANES": lanes,
            }
            children.append(
                subprocess.Popen([sys.executable, "-m", "worker"], env=worker_env, **new_group)
            )
        children.append(subprocess.Popen([sys.executable, "-m", "api"], env=env, **new_group))
        children.append(
            subprocess.Popen([sys.executable, "-m", "scripts.flower"], env=env, **new_group)
        )
        base_url = f"http://{settings.host}:{settings.port}"
        if wait_ready(base_url, children, timeout=120):
            say(f"ready: open {base_url}/ in a browser  (API docs at {base_url}/docs)")
            say(
                f"try: curl -s {base_url}/v1/predict -H 'content-type: application/json' "
                '-d \'{"text": "What a wonderful film."}\''
            )
            flower = f"http://{settings.flower_host}:{settings.flower_port}"
            auth = (
                "basic auth on"
                if settings.flower_basic_auth and settings.flower_basic_auth.get_secret_value()
                else "no auth: its HTTP API answers 401 until SPECTRUM_FLOWER_BASIC_AUTH is set"
            )
            say(f"Flower: {flower}  ({auth}; its metrics at {flower}/metrics)")
            host = settings.worker_metrics_host
            workers = ", ".join(f"http://{host}:{port}/metrics" for port in metrics_ports)
            say(f"metrics: {base_url}/metrics (API), {workers} (workers)")
            say("Ctrl-C stops everything")
        elif not interrupted:
            say("the stack did not become ready; see the log lines above")
            return 1
        while not interrupted:
            if any(child.poll() is not None for child in children):
                say("a process of the stack exited; stopping the rest")
                return 1
            time.sleep(0.2)
        say("stopping")
        return 0
    finally:
        stop(children)
        if redis is not None:
            redis.stop()


if __name__ == "__main__":
    sys.exit(main())
