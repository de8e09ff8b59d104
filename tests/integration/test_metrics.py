"""/metrics of the gateway and of a worker after real traffic through the shipped model.

A real worker process (OpenVINO, the shipped model), a real API, real Redis. One
stretch of the test freezes the worker (SIGSTOP) so that a request waits: the
scrape-time gauges (queue depth, pending results, requests in flight) are then
seen non-zero, the requests end in 504s, and the tasks the worker finds after
SIGCONT have expired and are dropped unrun. Two requests, because the frozen
worker's outstanding BRPOP takes the first message off the list into its socket.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from spectrum.shared.config import SHIPPED_MODEL_ID
from spectrum_dev.harness import wait_for
from spectrum_dev.private_redis import free_port
from tests.integration.metrics_scrape import Samples, label_values, scrape, total, value
from tests.integration.stack import Stack

MODEL_DIR = Path(__file__).resolve().parents[2] / SHIPPED_MODEL_ID
pytestmark = pytest.mark.skipif(not MODEL_DIR.is_dir(), reason=f"no model at {MODEL_DIR}")


JSON = "application/json"
FROZEN = 2  # requests sent while the worker is frozen


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        tmp_path_factory.mktemp("metrics"),
        redis_url,
        model_id=str(MODEL_DIR),
        runtime_threads=1,
        worker_metrics_port=free_port(),
        # Short, so the frozen-worker requests below end soon (the model answers in
        # ms), long enough to read the gauges while they wait on a busy machine.
        request_timeout_s=4,
        # A frozen worker must still count as live at that deadline (a 504, not a 503).
        worker_stale_s=10,
    )
    try:
        stack.start_worker()
        stack.start_api()
        yield stack
    finally:
        stack.stop()


def worker_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.settings['worker_metrics_port']}/metrics"


def test_metrics_after_real_traffic(stack: Stack) -> None:
    words = ("Wonderful", "Dull", "Fun", "Slow", "Fine", "Bad")
    texts = [unique(f"{word} film.") for word in words]
    with stack.client() as client:
        # Three tasks of 1, 2 and 3 texts; then three of those texts again, from the cache.
        for batch in (texts[:1], texts[1:3], texts[3:6]):
            answer = client.post("/v1/predict", json={"texts": batch})
            assert answer.status_code == 200, answer.text
        again = client.post("/v1/predict", json={"texts": [texts[0], texts[1], texts[5]]})
        assert [p["cached"] for p in again.json()["predictions"]] == [True, True, True]
        assert client.post("/v1/predict", json={"texts": []}).status_code == 422
        broken = client.post("/v1/predict", content=b"{", headers={"content-type": JSON})
        assert broken.status_code == 422
        assert client.get("/v1/jobs/some-raw-id-123").status_code == 404
        assert client.get("/v1/no-such-thing/123").status_code == 404
        assert client.get("/v1/models").status_code == 200
        during = frozen_worker_request(stack)
    after = scrape(f"{stack.base_url}/metrics")
    wait_for(
        lambda: (
            value(
                scrape(worker_url(stack)),
                "spectrum_worker_tasks_total",
                model=stack.model_name,
                state="EXPIRED",
            )
            >= FROZEN
        ),
        15,
        "the worker to drop the expired tasks",
    )
    worker = scrape(worker_url(stack))

    # Requests by route template, method and status; unmatched paths share one label.
    predict = {"route": "/v1/predict", "method": "POST"}
    assert value(after, "spectrum_http_requests_total", **predict, status="200") == 4
    assert value(after, "spectrum_http_requests_total", **predict, status="422") == 2
    assert value(after, "spectrum_http_requests_total", **predict, status="504") == FROZEN
    assert value(after, "spectrum_http_requests_total", route="unmatched", method="GET",
                 status="404") == 1  # fmt: skip
    # A job id is a path parameter: the label is the template, never the raw id.
    assert value(after, "spectrum_http_requests_total", route="/v1/jobs/{job_id}", method="GET",
                 status="404") == 1  # fmt: skip
    routes = label_values(after, "spectrum_http_requests_total", "route")
    allowed = {"/v1/predict", "/v1/models", "/v1/jobs/{job_id}", "/healthz", "/readyz"}
    assert routes <= {*allowed, "unmatched"}, routes
    assert "/metrics" not in routes  # scrapes are not traffic
    # Latency: every predict observed, the frozen ones took about the whole deadline.
    assert value(after, "spectrum_http_request_duration_seconds_count", **predict) == 6 + FROZEN
    seconds = value(after, "spectrum_http_request_duration_seconds_sum", **predict)
    assert FROZEN * 1.5 < seconds < (6 + FROZEN) * 2.5
    fast = value(after, "spectrum_http_request_duration_seconds_bucket", **predict, le="1.0")
    assert fast == 6  # all but the frozen ones answered within a second
    # In flight: the frozen requests were counted while they waited; none is left over.
    assert during["spectrum_http_requests_in_flight"] == FROZEN
    assert value(after, "spectrum_http_requests_in_flight") == 0
    # Cache: 1+2+3 misses computed, then 3 hits; the frozen requests' texts missed too.
    assert value(after, "spectrum_cache_misses_total") == 6 + FROZEN
    assert value(after, "spectrum_cache_hits_total") == 3
    # Micro-batch size: one observation per task sent (1, 2, 3 texts, then 1 per frozen one).
    assert value(after, "spectrum_batch_size_count") == 3 + FROZEN
    assert value(after, "spectrum_batch_size_sum") == 6 + FROZEN
    assert value(after, "spectrum_batch_size_bucket", le="2.0") == 2 + FROZEN
    # Scrape-time gauges: the frozen requests' results pending, a message still queued.
    assert during["spectrum_waiter_pending_results"] == FROZEN
    assert value(after, "spectrum_waiter_pending_results") == 0
    assert during["queue_depth"] >= 1
    name = stack.model_name
    assert (
        value(after, "spectrum_queue_depth", queue=stack.queue, model=name, lane="interactive") == 0
    )
    assert (
        value(after, "spectrum_queue_depth", queue=stack.bulk_queue, model=name, lane="bulk") == 0
    )
    assert value(after, "spectrum_workers_live", model=name, lane="interactive") == 1
    # Per model: every text answered, by version and cached or not.
    assert total(after, "spectrum_model_predictions_total", model=name, cached="false") == 6
    assert total(after, "spectrum_model_predictions_total", model=name, cached="true") == 3
    assert value(after, "spectrum_model_errors_total", model=name, error="DeadlineExceeded") == (
        FROZEN
    )
    # Rejected (the empty list and the broken body) and expired (the 504s).
    assert value(after, "spectrum_requests_rejected_total", reason="InvalidInput") == 2
    assert value(after, "spectrum_requests_rejected_total", reason="NoWorkerAvailable") == 0
    assert value(after, "spectrum_requests_expired_total") == FROZEN

    # The worker: outcomes by state, sizes, tokens, times, model; each sample names the
    # model its process serves.
    m = stack.model_name
    assert value(worker, "spectrum_worker_tasks_total", model=m, state="SUCCESS") == 3
    assert value(worker, "spectrum_worker_tasks_total", model=m, state="EXPIRED") == FROZEN
    assert value(worker, "spectrum_worker_tasks_total", model=m, state="FAILURE") == 0
    assert value(worker, "spectrum_worker_task_texts_count", model=m) == 3
    assert value(worker, "spectrum_worker_task_texts_sum", model=m) == 6
    assert value(worker, "spectrum_worker_task_duration_seconds_count", model=m) == 3
    inference = value(worker, "spectrum_worker_inference_seconds_sum", model=m)
    assert 0 < inference < value(worker, "spectrum_worker_task_duration_seconds_sum", model=m)
    assert value(worker, "spectrum_worker_inference_seconds_count", model=m) == 3
    # batch_size 32: each task is one forward pass here.
    assert value(worker, "spectrum_worker_forward_batch_texts_count", model=m) == 3
    assert value(worker, "spectrum_worker_forward_batch_texts_sum", model=m) == 6
    assert 0 < value(worker, "spectrum_worker_forward_seconds_sum", model=m) <= inference
    real = value(worker, "spectrum_worker_tokens_total", model=m, kind="real")
    padded = value(worker, "spectrum_worker_tokens_total", model=m, kind="padded")
    assert value(worker, "spectrum_worker_forward_batch_tokens_sum", model=m) == padded
    assert 6 * 3 <= real <= padded  # at least [CLS] word [SEP] per text
    assert 0.5 < real / padded <= 1  # padding efficiency of length-sorted batches
    assert 0 < value(worker, "spectrum_worker_model_load_seconds", model=m) < 120
    (info,) = [labels for (name, labels) in worker if name == "spectrum_worker_model_info"]
    assert dict(info)["model"] == stack.model_name
    assert dict(info)["runtime"].startswith("openvino")
    assert total(worker, "process_resident_memory_bytes") > 0


def frozen_worker_request(stack: Stack) -> dict[str, float]:
    """SIGSTOP the worker, send requests, read the gauges while they wait, SIGCONT."""
    worker = stack.procs[0]
    answers: list[httpx.Response] = []
    seen: dict[str, float] = {}

    def send() -> None:
        text = unique("frozen")
        answers.append(httpx.post(f"{stack.base_url}/v1/predict", json={"text": text}, timeout=10))

    def waiting(tasks: int) -> Callable[[], bool]:
        def check() -> bool:
            samples: Samples = scrape(f"{stack.base_url}/metrics")
            seen.update(
                spectrum_waiter_pending_results=value(samples, "spectrum_waiter_pending_results"),
                spectrum_http_requests_in_flight=value(samples, "spectrum_http_requests_in_flight"),
                queue_depth=value(
                    samples,
                    "spectrum_queue_depth",
                    queue=stack.queue,
                    model=stack.model_name,
                    lane="interactive",
                ),
            )
            # The frozen worker's BRPOP, issued before SIGSTOP, takes the first task off
            # the queue into its socket; the next one stays queued.
            queued = tasks < FROZEN or seen["queue_depth"] >= 1
            return queued and seen["spectrum_waiter_pending_results"] == tasks

        return check

    os.kill(worker.pid, signal.SIGSTOP)
    threads = [threading.Thread(target=send) for _ in range(FROZEN)]
    try:
        # One after the other, each once the one before waits on its task: sent
        # together, the micro-batcher would make them one task.
        for sent, thread in enumerate(threads, start=1):
            thread.start()
            wait_for(waiting(sent), 3, f"{sent} request(s) to wait on a queued task")
    finally:
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join(timeout=10)
        os.kill(worker.pid, signal.SIGCONT)
    # The worker still counts as live (its heartbeat is fresh enough): too slow, 504.
    assert [answer.status_code for answer in answers] == [504] * FROZEN, seen
    time.sleep(0.1)
    return seen
