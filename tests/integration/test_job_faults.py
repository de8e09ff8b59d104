"""Fault tests for jobs: a worker killed mid-job, and RabbitMQ restarted with jobs queued.

Both end the same way: every text of every accepted job is answered exactly once,
in order, with the model's own answer.
"""

from __future__ import annotations

import json
import signal
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from spectrum.shared.jobs import chunks_done_key
from spectrum.worker.runtimes.lexicon import load_lexicon
from spectrum_dev import rabbitmq_node
from spectrum_dev.harness import Process, wait_for
from tests.integration.job_runs import submit, texts, wait_until_ended
from tests.integration.stack import Stack

CHUNK = 25
STALL = "this text stalls its worker"


def assert_answered_once_in_order(
    client: httpx.Client, stack: Stack, job_id: str, batch: list[str]
) -> None:
    job = wait_until_ended(client, job_id, timeout=120)
    chunks = -(-len(batch) // CHUNK)
    assert job["state"] == "succeeded", job
    assert job["progress"]["done"] == len(batch)
    assert job["progress"]["failed"] == 0
    assert job["progress"]["chunks_finished"] == chunks
    store = redis.Redis.from_url(stack.settings["result_backend_url"])
    try:  # each chunk counted once, even one that was computed twice
        assert store.scard(chunks_done_key(job_id)) == chunks
    finally:
        store.close()
    answer = client.get(f"/v1/jobs/{job_id}/results")
    assert answer.status_code == 200, answer.text
    items = [json.loads(line) for line in answer.text.splitlines()]
    assert [item["index"] for item in items] == list(range(len(batch)))
    runtime, card = load_lexicon(stack.model_name)
    for item, row in zip(items, runtime.predict(batch), strict=True):
        assert "error" not in item, item
        assert [item["probabilities"][label] for label in card.labels] == pytest.approx(row)


def test_a_worker_killed_mid_job_loses_no_text(make_stack: type[Stack]) -> None:
    """Fault 1: kill -9 the worker in the middle of a 2,000-text job; a new worker finishes it.

    The killed worker's chunk was taken but never acked: with the Redis broker it
    comes back once its visibility timeout (3 s here, 300 s by default) has passed.
    """
    stack = make_stack(
        job_chunk_size=CHUNK,
        broker_visibility_timeout_s=3,
        fault_sleep_text=STALL,
        fault_sleep_s=60,
    )
    first = stack.start_worker()
    stack.start_api()
    batch = texts(2000)
    batch[1010] = STALL  # chunk 40 of 80: the worker stalls there, half the job done

    with stack.client() as client:
        job_id = submit(client, batch)
        wait_for(lambda: "fault hook: sleeping" in first.log(), 60, "the worker to reach the stall")
        done_before = client.get(f"/v1/jobs/{job_id}").json()["progress"]["done"]
        first.stop(signal.SIGKILL)
        assert first.popen.returncode == -signal.SIGKILL
        assert 0 < done_before < len(batch)  # killed in the middle, not before or after

        second = stack.start_worker(fault_sleep_text="")
        assert_answered_once_in_order(client, stack, job_id, batch)

    # The stalled chunk ran to completion on the second worker, its second delivery.
    assert "task delivered again" in second.log()


def test_rabbitmq_restarted_with_jobs_queued_loses_no_job(
    make_stack: type[Stack], tmp_path: Path
) -> None:
    """Fault 3: jobs accepted and queued on durable RabbitMQ queues survive a broker restart."""
    if not rabbitmq_node.available():
        pytest.skip("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    node = rabbitmq_node.PrivateRabbitMQ(tmp_path / "rabbitmq").start()
    try:
        stack = make_stack(broker_url=node.url, job_chunk_size=CHUNK)
        # Only an interactive worker runs, and a bulk worker that is live but busy
        # elsewhere (a registry entry alone): the API accepts jobs, their chunks wait.
        stack.start_worker(worker_lanes="interactive")
        stack.announce_busy_bulk_worker()
        stack.start_api()
        with stack.client() as client:
            batches = [texts(500), texts(300)]
            job_ids = [submit(client, batch) for batch in batches]
            for job_id in job_ids:
                assert client.get(f"/v1/jobs/{job_id}").json()["state"] == "queued"

            node.stop()
            node.start()

            # The API and the interactive worker reconnect on their own.
            def predict_works() -> bool:
                answer = client.post("/v1/predict", json={"text": f"fine {uuid.uuid4().hex}"})
                return answer.status_code == 200

            wait_for(predict_works, 60, "sync predict through the restarted broker")
            later = texts(100)
            job_ids.append(submit(client, later))
            batches.append(later)

            bulk: Process = stack.start_worker()
            for job_id, batch in zip(job_ids, batches, strict=True):
                assert_answered_once_in_order(client, stack, job_id, batch)
        assert bulk.alive()
    finally:
        node.stop()
