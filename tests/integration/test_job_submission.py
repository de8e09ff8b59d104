"""Atomic job submission and the bulk lane's admission, with real workers, Redis and HTTP.

A job's chunks are computed only once its gateway has sealed it (every chunk
queued): a submit that fails midway, or whose gateway dies midway, leaves no
chunk computed, and the dropped chunks are counted. A job nobody would run (no
live worker takes the bulk lane) is refused like a synchronous request.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from spectrum.shared.jobs import (
    ABORT,
    SEAL,
    START_CHUNK,
    chunk_key,
    chunks_done_key,
    job_key,
    known_key,
    new_job_id,
    new_record,
)
from spectrum.worker.runtimes.lexicon import load_lexicon
from spectrum_dev.harness import Process, wait_for
from spectrum_dev.private_redis import free_port
from tests.integration.job_runs import texts, wait_until_ended
from tests.integration.metrics_scrape import scrape, total
from tests.integration.stack import Stack

CHUNK = 5
DROPPED = "spectrum_worker_job_chunks_dropped_total"
# Texts the worker's model has classified (one observation per runtime call).
COMPUTED = "spectrum_worker_task_texts_sum"


def aborted_job_id(api: Process) -> str:
    """The id of the job the gateway aborted, from its log (the client never got one)."""
    for line in api.log().splitlines():
        if line.startswith("{") and "job aborted" in line:
            job_id: str = json.loads(line)["job_id"]
            return job_id
    raise AssertionError(f"the gateway logged no aborted job:\n{api.log()[-3000:]}")


def dropped(port: int, reason: str = "aborted") -> float:
    return total(scrape(f"http://127.0.0.1:{port}/metrics"), DROPPED, reason=reason)


def nothing_stored(stack: Stack, job_id: str, chunks: int) -> None:
    store = redis.Redis.from_url(stack.settings["result_backend_url"])
    try:
        assert store.exists(*(chunk_key(job_id, n) for n in range(chunks))) == 0
        assert store.scard(chunks_done_key(job_id)) == 0
        assert store.hget(job_key(job_id), "chunks_finished") in (None, b"0")
    finally:
        store.close()


def test_a_submit_failing_midway_computes_no_chunk_and_a_normal_job_completes(
    make_stack: type[Stack],
) -> None:
    stack = make_stack(job_chunk_size=CHUNK)
    port = free_port()
    stack.start_worker(worker_metrics_port=port)
    # The gateway publishes 3 chunks, stalls 2 s (the worker takes them), then fails.
    api = stack.start_api(fault_publish_fail_after=3, fault_sleep_s=2)

    with stack.client() as client:
        refused = client.post("/v1/jobs", json={"texts": texts(4 * CHUNK)})

        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "BrokerUnavailable"
        job_id = aborted_job_id(api)
        wait_for(lambda: dropped(port) == 3, 30, "the 3 queued chunks to be dropped")
        assert total(scrape(f"http://127.0.0.1:{port}/metrics"), COMPUTED) == 0
        nothing_stored(stack, job_id, 4)
        assert client.get(f"/v1/jobs/{job_id}").status_code == 404  # it was never accepted

        # A job of fewer chunks than the fault's threshold: sealed, computed, in order.
        batch = texts(3 * CHUNK)
        created = client.post("/v1/jobs", json={"texts": batch})
        assert created.status_code == 202, created.text
        job = wait_until_ended(client, created.json()["id"])
        listed = client.get("/v1/models").json()["models"]  # every model on this Redis
        (model,) = [m for m in listed if m["name"] == stack.model_name]

    assert job["state"] == "succeeded", job
    assert job["progress"]["done"] == len(batch)
    assert [item["index"] for item in job["results"]] == list(range(len(batch)))
    runtime, card = load_lexicon(stack.model_name)
    for item, row in zip(job["results"], runtime.predict(batch), strict=True):
        assert [item["probabilities"][label] for label in card.labels] == pytest.approx(row)
    # One set of labels everywhere: the model's, the job's, and each answer's.
    assert job["labels"] == model["labels"] == card.labels
    assert all(list(item["probabilities"]) == card.labels for item in job["results"])
    assert dropped(port) == 3  # the normal job dropped nothing


def test_a_gateway_killed_mid_submit_leaves_no_chunk_computed(make_stack: type[Stack]) -> None:
    """Its retry, with the same Idempotency-Key, is a new job that runs in full."""
    # Unsealed 2 s after submission: the chunks it had queued are dropped then.
    stack = make_stack(job_chunk_size=CHUNK, job_seal_timeout_s=2)
    port = free_port()
    stack.start_worker(worker_metrics_port=port)
    api = stack.start_api(fault_publish_fail_after=2, fault_publish_exit="true")
    batch, key = texts(4 * CHUNK), {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}

    with stack.client() as client, pytest.raises(httpx.HTTPError):
        client.post("/v1/jobs", json={"texts": batch}, headers=key)

    wait_for(lambda: not api.alive(), 10, "the gateway to die mid-submit")
    wait_for(lambda: dropped(port) == 2, 30, "the 2 queued chunks to be dropped")
    assert total(scrape(f"http://127.0.0.1:{port}/metrics"), COMPUTED) == 0

    stack.start_api()
    with stack.client() as client:
        retried = client.post("/v1/jobs", json={"texts": batch}, headers=key)
        assert retried.status_code == 409, retried.text  # frees the aborted job's key
        assert "never accepted" in retried.json()["detail"]
        retried = client.post("/v1/jobs", json={"texts": batch}, headers=key)
        assert retried.status_code == 202, retried.text
        job = wait_until_ended(client, retried.json()["id"])

    assert job["state"] == "succeeded", job
    assert job["progress"]["done"] == len(batch)
    assert total(scrape(f"http://127.0.0.1:{port}/metrics"), COMPUTED) == len(batch)


def test_a_job_needs_a_live_bulk_worker(make_stack: type[Stack]) -> None:
    """503 NoWorkerAvailable while only an interactive worker runs; accepted once one takes jobs."""
    stack = make_stack(job_chunk_size=CHUNK)
    stack.start_worker(worker_lanes="interactive")
    stack.start_api()
    batch = texts(2 * CHUNK)

    with stack.client() as client:
        refused = client.post("/v1/jobs", json={"texts": batch})
        answered = client.post("/v1/predict", json={"text": batch[0]})

        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "NoWorkerAvailable"
        assert stack.bulk_queue in refused.json()["detail"]
        assert answered.status_code == 200, answered.text

        stack.start_worker()  # both lanes
        created = client.post("/v1/jobs", json={"texts": batch})
        assert created.status_code == 202, created.text
        job = wait_until_ended(client, created.json()["id"])

    assert job["state"] == "succeeded", job
    assert job["progress"]["done"] == len(batch)


def test_a_job_has_the_models_labels_from_queued_to_finished(make_stack: type[Stack]) -> None:
    """The labels a queued job reports are those its results carry once a worker ran it."""
    stack = make_stack(job_chunk_size=CHUNK)
    stack.start_worker(worker_lanes="interactive")
    stack.announce_busy_bulk_worker()  # accepted, but nobody takes its chunks yet
    stack.start_api()
    batch = texts(2 * CHUNK)

    with stack.client() as client:
        listed = client.get("/v1/models").json()["models"]  # every model on this Redis
        (model,) = [m for m in listed if m["name"] == stack.model_name]
        predicted = client.post("/v1/predict", json={"text": batch[0]}).json()["predictions"][0]
        created = client.post("/v1/jobs", json={"texts": batch})
        assert created.status_code == 202, created.text
        queued = client.get(f"/v1/jobs/{created.json()['id']}").json()
        stack.start_worker()
        job = wait_until_ended(client, created.json()["id"])
        csv_header = client.get(f"/v1/jobs/{job['id']}/results?format=csv").text.split("\n")[0]

    _, card = load_lexicon(stack.model_name)
    assert queued["state"] == "queued"
    assert queued["labels"] == job["labels"] == model["labels"] == card.labels
    assert list(predicted["probabilities"]) == card.labels
    assert all(list(item["probabilities"]) == card.labels for item in job["results"])
    assert csv_header.split(",")[3:5] == [f"p_{label}" for label in card.labels]


@pytest.fixture
def store(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


def _record(store: redis.Redis, *, seal_by: float | None) -> str:
    job_id = new_job_id()
    record = new_record(
        job_id=job_id,
        model="m",
        labels=["NEGATIVE", "POSITIVE"],
        total=10,
        chunk_size=CHUNK,
        fingerprint="f",
        callback_url=None,
        now=100.0,
        seal_by=seal_by,
    )
    store.hset(job_key(job_id), mapping=record)  # type: ignore[arg-type]
    store.expire(job_key(job_id), 60)
    store.set(known_key(job_id), "1", ex=60)
    return job_id


def test_seal_and_abort_exclude_each_other(store: redis.Redis) -> None:
    """The scripts' contract: chunks run only after SEAL; once aborted, never sealed."""
    start, seal, abort = (store.register_script(s) for s in (START_CHUNK, SEAL, ABORT))

    def keys(job_id: str) -> list[str]:
        return [job_key(job_id), known_key(job_id)]

    sealed = _record(store, seal_by=200.0)
    assert start(keys=keys(sealed), args=["150"]) == b"unsealed"  # publishing goes on: wait
    assert seal(keys=[job_key(sealed)], args=["160"]) == b"sealed"
    assert abort(keys=keys(sealed)) == b"sealed"  # too late to abort: the job stands
    assert start(keys=keys(sealed), args=["300"]) == b"running"  # past seal_by, but sealed

    given_up = _record(store, seal_by=200.0)
    assert abort(keys=keys(given_up)) == b"aborted"
    assert seal(keys=[job_key(given_up)], args=["160"]) == b"aborted"
    assert start(keys=keys(given_up), args=["170"]) == b"aborted"
    assert store.exists(known_key(given_up)) == 0  # its id reads as unknown

    orphan = _record(store, seal_by=200.0)  # its gateway died before sealing
    assert start(keys=keys(orphan), args=["201"]) == b"aborted"
    assert seal(keys=[job_key(orphan)], args=["199"]) == b"aborted"  # the first word wins
    assert store.hget(job_key(orphan), "state") == b"queued"  # no chunk ever started

    late = _record(store, seal_by=200.0)  # sealing after seal_by fails, whoever asks first
    assert seal(keys=[job_key(late)], args=["201"]) == b"aborted"

    older = _record(store, seal_by=None)  # a record from before sealing: sealed
    assert start(keys=keys(older), args=["150"]) == b"running"
    assert abort(keys=keys(older)) == b"sealed"

    store.delete(*(key for job in (sealed, given_up, orphan, late, older) for key in keys(job)))
