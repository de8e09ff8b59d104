"""Two ceilings of `make scale` measured without the gateway: the broker and the result backend.

Broker: two publisher processes send `messages` Celery task messages (the gateway's
`send_task` of a 16-text batch, with the real app and settings) to a queue of their own,
while two consumer processes take them as a worker does (prefetch 2, ack after each),
until each gets one of the stop messages sent once the publishers are done. Result backend: two
processes store `results` task results (a 16-row outcome) through Celery's Redis
backend, as a worker does after each task.

Each figure is reported twice: the rate the clients reached on this machine (on 2
cores the Python clients are the bottleneck long before the server), and the server's
own CPU per operation, read from /proc, which gives the rate one core of that server
sustains: its ceiling. The children are `python -m loadtest.scale_probes ROLE ...`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from loadtest.procstats import cpu_seconds
from spectrum.shared.celery_app import create_celery
from spectrum.shared.config import Settings
from spectrum.shared.contracts import PREDICT_TASK
from spectrum_dev.harness import ROOT, child_env, wait_for

STOP_TASK = "spectrum.scale_probe_stop"
PUBLISHERS = CONSUMERS = WRITERS = 2
TEXT = "a probe text of the length of a review, about thirty words long " * 3


def payload() -> dict[str, Any]:
    """What the gateway sends for a full batch: 16 texts of ~190 characters."""
    return {"texts": [f"{i} {TEXT}" for i in range(16)], "model": "probe", "request_ids": []}


def outcome() -> dict[str, Any]:
    """What a worker stores for it."""
    return {
        "model": "probe",
        "version": "fixed-5ms-25ms",
        "labels": ["NEGATIVE", "POSITIVE"],
        "probabilities": [[0.123456789, 0.876543211]] * 16,
        "truncated": [],
    }


def _app(broker_url: str, backend_url: str) -> Any:
    return create_celery(Settings(broker_url=broker_url, result_backend_url=backend_url))


def publish(broker_url: str, backend_url: str, queue: str, count: int) -> None:
    app = _app(broker_url, backend_url)
    body = payload()
    # The clock starts once the app is built: a child's start-up is not the broker's time.
    started = time.time()
    for _ in range(count):
        app.send_task(PREDICT_TASK, args=[body], queue=queue, ignore_result=True)
    print(json.dumps({"started": started}))


def consume(broker_url: str, backend_url: str, queue: str, ready: Path) -> None:
    from kombu import Consumer

    app = _app(broker_url, backend_url)
    entity = app.amqp.queues.select_add(queue) or app.amqp.queues[queue]
    received = 0
    last = 0.0
    stopped = False

    def on_message(_: Any, message: Any) -> None:
        nonlocal received, stopped, last
        if stopped:  # prefetched after this consumer's stop: the other consumer's to take
            message.requeue()
            return
        message.ack()
        if message.headers.get("task") == STOP_TASK:
            stopped = True
        else:
            received += 1
            last = time.time()

    with app.connection_for_read() as connection:
        bound = entity.bind(connection.default_channel)
        bound.declare()
        with Consumer(
            connection, queues=[bound], callbacks=[on_message], accept=["json"], prefetch_count=2
        ):
            ready.write_text("ready")
            while not stopped:
                connection.drain_events(timeout=30)
    print(json.dumps({"received": received, "last": last}))


def store(backend_url: str, count: int) -> None:
    app = _app(backend_url, backend_url)
    document = outcome()
    prefix = uuid.uuid4().hex
    app.backend.client.ping()  # connected before the clock starts
    started = time.time()
    for i in range(count):
        app.backend.store_result(f"probe-{prefix}-{i}", document, "SUCCESS")
    print(json.dumps({"started": started, "ended": time.time()}))


@contextmanager
def _children() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start probe children; any still running when the block ends (an error, a Ctrl-C)
    is killed, by its PID, before the servers it talks to are stopped."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-m", "loadtest.scale_probes", *args],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(child)
        return child

    try:
        yield start
    finally:
        for child in started:
            if child.poll() is None:
                child.kill()
                child.wait()


def _finish(children: list[subprocess.Popen[str]], timeout: float = 300) -> list[str]:
    outputs = []
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            out, _ = child.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            out, _ = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"probe child {child.args} exited {child.returncode}")
        outputs.append(out)
    return outputs


def measure_broker(
    name: str, broker_url: str, backend_url: str, server_pid: int, messages: int, workdir: Path
) -> dict[str, Any]:
    """Publish + deliver + ack `messages` task messages through the broker alone."""
    queue = f"scale-probe-{uuid.uuid4().hex[:8]}"
    readies = [workdir / f"probe-{queue}-{i}.ready" for i in range(CONSUMERS)]
    app = _app(broker_url, backend_url)
    with _children() as child:
        consumers = [child("consume", broker_url, backend_url, queue, str(r)) for r in readies]
        wait_for(lambda: all(r.exists() for r in readies), 60, "the probe consumers")
        server_before = cpu_seconds(server_pid)
        each = str(messages // PUBLISHERS)
        args = ("publish", broker_url, backend_url, queue, each)
        sent = [json.loads(out) for out in _finish([child(*args) for _ in range(PUBLISHERS)])]
        for _ in consumers:  # after every task message: FIFO, so each consumer drains first
            app.send_task(STOP_TASK, queue=queue, ignore_result=True)
        got = [json.loads(out) for out in _finish(consumers)]
    server_cpu = cpu_seconds(server_pid) - server_before
    received = sum(row["received"] for row in got)
    # From the first publish to the last delivery (the children's start-up excluded).
    seconds = max(row["last"] for row in got) - min(row["started"] for row in sent)
    with app.connection_for_write() as connection:
        connection.default_channel.queue_delete(queue)
    return {
        "broker": name,
        "messages": received,
        "seconds": seconds,
        "messages_per_s": received / seconds,
        "server_cpu_s": server_cpu,
        "server_ms_per_message": 1000 * server_cpu / max(received, 1),
        "one_core_messages_per_s": received / server_cpu if server_cpu > 0 else None,
        "how": f"{PUBLISHERS} publishers, {CONSUMERS} consumers (prefetch 2, ack each), "
        "16-text task bodies",
    }


def measure_backend(backend_url: str, server_pid: int, results: int) -> dict[str, Any]:
    """Store `results` results through Celery's Redis backend from two processes."""
    client = redis.Redis.from_url(backend_url)
    try:
        commands_before = int(client.info("stats")["total_commands_processed"])
        server_before = cpu_seconds(server_pid)
        per_writer = results // WRITERS
        with _children() as child:
            writers = [child("store", backend_url, str(per_writer)) for _ in range(WRITERS)]
            times = [json.loads(out) for out in _finish(writers)]
        seconds = max(t["ended"] for t in times) - min(t["started"] for t in times)
        server_cpu = cpu_seconds(server_pid) - server_before
        commands = int(client.info("stats")["total_commands_processed"]) - commands_before - 1
    finally:
        client.close()
    stored = per_writer * WRITERS
    return {
        "results": stored,
        "seconds": seconds,
        "results_per_s": stored / seconds,
        "commands": commands,
        "commands_per_result": commands / stored,
        "commands_per_s": commands / seconds,
        "server_cpu_s": server_cpu,
        "server_us_per_command": 1e6 * server_cpu / max(commands, 1),
        "one_core_results_per_s": stored / server_cpu if server_cpu > 0 else None,
        "one_core_commands_per_s": commands / server_cpu if server_cpu > 0 else None,
        "how": f"{WRITERS} processes, Celery's store_result of a 16-row outcome, no subscriber",
    }


def main(argv: list[str]) -> None:
    role, *args = argv
    if role == "publish":
        publish(args[0], args[1], args[2], int(args[3]))
    elif role == "consume":
        consume(args[0], args[1], args[2], Path(args[3]))
    elif role == "store":
        store(args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
