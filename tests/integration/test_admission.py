"""Admission control against a real gateway: a full lane and a full gateway answer 503 at once."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import redis

from spectrum_dev.harness import wait_for
from tests.integration.stack import Stack


def post_later(stack: Stack, text: str) -> threading.Thread:
    def run() -> None:
        with httpx.Client(base_url=stack.base_url, timeout=30) as client:
            client.post("/v1/predict", json={"text": text})

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def overloaded(metrics: str) -> float:
    line = 'spectrum_requests_rejected_total{reason="Overloaded"} '
    (value,) = [row[len(line) :] for row in metrics.splitlines() if row.startswith(line)]
    return float(value)


def queue_depth(stack: Stack) -> int:
    client = redis.Redis.from_url(stack.settings["broker_url"])
    try:
        return int(client.llen(stack.queue))
    finally:
        client.close()


def test_a_full_queue_sheds_new_work_but_answers_cached_texts(make_stack: type[Stack]) -> None:
    stack = make_stack(
        max_queue_depth=3, queue_depth_ttl_ms=0, request_timeout_s=6, worker_stale_s=60
    )
    worker = stack.start_worker(worker_prefetch=1)
    stack.start_api()
    with stack.client() as client:
        assert client.post("/v1/predict", json={"text": "cached already"}).status_code == 200
    worker.popen.send_signal(signal.SIGSTOP)  # alive by its heartbeat, taking nothing
    try:
        threads = []
        for i in range(4):  # one may sit unacked with the frozen worker, three in the queue
            threads.append(post_later(stack, f"queued {i}"))
            time.sleep(0.3)
        wait_for(lambda: queue_depth(stack) >= 3, 10, "three batches in the queue")
        with stack.client() as client:
            started = time.monotonic()
            shed = client.post("/v1/predict", json={"text": "one too many"})
            elapsed = time.monotonic() - started
            cached = client.post("/v1/predict", json={"text": "cached already"})
            metrics = client.get("/metrics").text
    finally:
        worker.popen.send_signal(signal.SIGCONT)
    assert shed.status_code == 503, shed.text
    assert shed.json()["error"] == "Overloaded"
    assert stack.queue in shed.json()["detail"]
    assert shed.headers["retry-after"] == "1"
    assert elapsed < 2  # at once, not at the deadline
    assert cached.status_code == 200
    assert overloaded(metrics) >= 1  # a background request may have been shed too
    for thread in threads:
        thread.join(timeout=30)


def test_a_full_gateway_sheds_at_once_and_probes_still_answer(make_stack: type[Stack]) -> None:
    stack = make_stack(max_in_flight=2, request_timeout_s=5, worker_stale_s=60)
    worker = stack.start_worker()
    stack.start_api()
    worker.popen.send_signal(signal.SIGSTOP)
    try:
        threads = [post_later(stack, f"held {i}") for i in range(2)]
        time.sleep(1.0)
        with stack.client() as client:
            started = time.monotonic()
            shed = client.post("/v1/predict", json={"text": "third"})
            elapsed = time.monotonic() - started
            health = client.get("/healthz")
        for thread in threads:
            thread.join(timeout=30)
        with stack.client() as client:
            metrics = client.get("/metrics").text
    finally:
        worker.popen.send_signal(signal.SIGCONT)
    assert shed.status_code == 503, shed.text
    assert shed.json()["error"] == "Overloaded"
    assert shed.headers["retry-after"] == "1"
    assert elapsed < 2
    assert health.status_code == 200
    assert overloaded(metrics) == 1
    # Places are given back: once the held requests ended, a new one is admitted.
    with stack.client() as client:
        assert client.post("/v1/predict", json={"text": "later"}).status_code == 200
