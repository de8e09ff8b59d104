"""Delivery with real workers: a killed worker's task is redone, a poison message is dropped
after its delivery limit, and a warm shutdown finishes the batch in hand."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import redis

from spectrum.worker.delivery import KEY_PREFIX
from spectrum_dev.harness import Process, wait_for
from tests.integration.stack import Stack

CRASH = "this text kills its worker"
SLOW = "this text takes a while"


class Background:
    """One POST /v1/predict on a thread, so the test can hurt workers meanwhile."""

    def __init__(self, stack: Stack, texts: list[str]) -> None:
        self.answer: httpx.Response | None = None
        self.elapsed = 0.0

        def run() -> None:
            started = time.monotonic()
            with httpx.Client(base_url=stack.base_url, timeout=120) as client:
                self.answer = client.post("/v1/predict", json={"texts": texts})
            self.elapsed = time.monotonic() - started

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self, timeout: float) -> httpx.Response:
        self._thread.join(timeout)
        assert self.answer is not None, "no answer in time"
        return self.answer


def saw(proc: Process, text: str) -> bool:
    return text in proc.log()


def test_a_task_whose_worker_was_killed_is_run_again_by_another(make_stack: type[Stack]) -> None:
    stack = make_stack(
        request_timeout_s=60, broker_visibility_timeout_s=2, fault_sleep_text=SLOW, fault_sleep_s=30
    )
    first = stack.start_worker()
    stack.start_api()
    call = Background(stack, ["a good day", SLOW, "a bad day"])
    wait_for(lambda: saw(first, "fault hook: sleeping"), 30, "the first worker to start the task")
    first.stop(signal.SIGKILL)

    # The new worker has no sleep hook; it takes the message once its visibility timeout passes.
    second = stack.start_worker(fault_sleep_text="")
    answer = call.result(timeout=60)

    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions) == 3
    assert (predictions[0]["label"], predictions[2]["label"]) == ("POSITIVE", "NEGATIVE")
    assert second.alive()
    assert "task delivered again" in second.log()


def test_a_message_that_keeps_killing_workers_is_failed_after_its_limit(
    make_stack: type[Stack],
) -> None:
    limit = 2
    stack = make_stack(
        request_timeout_s=60,
        broker_visibility_timeout_s=2,
        task_max_deliveries=limit,
        fault_crash_text=CRASH,
    )
    worker = stack.start_worker()
    stack.start_api()
    call = Background(stack, ["harmless", CRASH])
    deaths = 0
    deadline = time.monotonic() + 60
    while call.answer is None and time.monotonic() < deadline:
        if not worker.alive():
            deaths += 1
            worker = stack.start_worker()
        time.sleep(0.1)
    answer = call.result(timeout=5)

    assert answer.status_code == 502, answer.text
    body = answer.json()
    assert body["error"] == "InferenceFailed"
    assert "dropped" in body["detail"]
    assert deaths == limit  # killed by each allowed delivery, and then no more
    assert worker.alive()
    assert "poison message dropped" in worker.log()
    # The same worker goes on serving other work.
    with stack.client() as client:
        assert client.post("/v1/predict", json={"text": "still here"}).status_code == 200


def test_a_warm_shutdown_finishes_the_batch_in_hand(make_stack: type[Stack]) -> None:
    stack = make_stack(request_timeout_s=30, fault_sleep_text=SLOW, fault_sleep_s=3)
    worker = stack.start_worker()
    stack.start_api()
    call = Background(stack, ["one", SLOW, "three"])
    wait_for(lambda: saw(worker, "fault hook: sleeping"), 30, "the worker to start the task")

    worker.popen.send_signal(signal.SIGTERM)  # warm shutdown, mid-task
    answer = call.result(timeout=30)
    code = worker.popen.wait(timeout=30)

    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 3
    assert code == 0


def test_the_delivery_count_expires(make_stack: type[Stack]) -> None:
    stack = make_stack()
    stack.start_worker()
    stack.start_api()
    with stack.client() as client:
        assert client.post("/v1/predict", json={"text": "counted once"}).status_code == 200
    client_ = redis.Redis.from_url(stack.settings["result_backend_url"])
    try:
        keys = list(client_.scan_iter(f"{KEY_PREFIX}:*", count=1000))
        assert keys
        assert all(0 < client_.ttl(key) <= 3600 for key in keys[:20])
    finally:
        client_.close()
