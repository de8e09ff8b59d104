"""Chaos drills: a network partition, Redis killed, the API killed, a worker killed under RabbitMQ.

Each ends with the same check: every job the API accepted (202) succeeds, every text
answered exactly once (indexes 0..n-1, each once, with the model's own answer), and
its counts add up. A chunk computed twice (a redelivery after a crash or a partition)
is fine; one counted twice, or one never counted, is the failure these drills look for.
Two more tests run drill 2 with RabbitMQ as the broker, where it found two bugs (a chunk
acked uncounted, a worker stopped by its result backend's death); both are fixed. Drill 1
found a third, about one run in eight on a busy machine: the cut-off worker's ack timed
out, kombu kept its prefetch slot, and the worker never took another message
(shared/redis_transport.py).

"Mid-job" and "mid-chunk" are made reliable with the worker's fault hooks: a marker
text opening chosen chunks makes each of them sleep a known time, and the drills wait
on the worker's log lines and on the job's own progress counts, not on guessed delays.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from spectrum.shared.jobs import JobSummary, chunks_done_key, job_key
from spectrum.worker.runtimes.lexicon import load_lexicon
from spectrum_dev import rabbitmq_node
from spectrum_dev.harness import Process, wait_for
from spectrum_dev.netns import NetnsLink, NetnsUnavailable
from spectrum_dev.private_redis import PrivateRedis
from tests.integration.stack import Stack

CHUNK = 25
# Marker texts the fault hooks act on: each worker is told which one makes it sleep.
SLOW = "slow chunk marker"
STALL = "stalling chunk marker"
UNACKED = "recorded, not yet acked marker"
ENDED = ("succeeded", "failed", "cancelled")


def texts(count: int, *, markers: tuple[str, ...] = (), chunks: range | None = None) -> list[str]:
    """Distinct texts, alternately positive and negative; the markers open each of `chunks`
    (every chunk by default)."""
    run = uuid.uuid4().hex[:8]
    words = ("a wonderful, brilliant film", "an awful, boring mess")
    batch = [f"{words[i % 2]} {run} {i}" for i in range(count)]
    for chunk in chunks if chunks is not None else range(-(-count // CHUNK)):
        for offset, marker in enumerate(markers):
            batch[chunk * CHUNK + offset] = marker
    return batch


def submit(client: httpx.Client, batch: list[str]) -> str:
    created = client.post("/v1/jobs", json={"texts": batch})
    assert created.status_code == 202, created.text
    job_id: str = created.json()["id"]
    return job_id


def record(store_url: str, job_id: str) -> JobSummary:
    """The job as Redis holds it: readable while the API is dead or the worker cut off."""
    client = redis.Redis.from_url(store_url, socket_timeout=5)
    try:
        return JobSummary.from_hash(client.hgetall(job_key(job_id)))
    finally:
        client.close()


def unacked(store_url: str) -> int:
    """Messages the Redis broker holds as delivered and not yet acked (kombu's hash)."""
    client = redis.Redis.from_url(store_url, socket_timeout=5)
    try:
        return int(client.hlen("unacked"))
    finally:
        client.close()


def count(proc: Process, event: str) -> int:
    return proc.log().count(f'"event": "{event}')


def inside_a_chunk(proc: Process) -> bool:
    """The worker has started a chunk's sleep and not yet finished that chunk."""
    log = proc.log()
    return log.rfind('"event": "fault hook: sleeping') > log.rfind('"event": "chunk done"')


def hit_by_the_outage(proc: Process) -> bool:
    """The worker ran into the outage: its chunk in hand could not be recorded (retried or
    given back to the broker) or acked, or (had it just finished one) its consumer lost
    the broker."""
    log = proc.log()
    seen = ("chunk failed", "chunk given back", "Couldn't ack", "Connection to broker lost")
    return any(line in log for line in seen)


def assert_answered_exactly_once(
    client: httpx.Client, store_url: str, job_id: str, batch: list[str], timeout: float = 120
) -> None:
    """The job succeeded; each index 0..n-1 once, with the lexicon's answer; counts agree."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(f"/v1/jobs/{job_id}")
        # A 503 BackendUnavailable is an answer too: a Redis just restarted (drill 2).
        assert answer.status_code in (200, 503), answer.text
        job = answer.json()
        if answer.status_code == 200 and job["state"] in ENDED:
            break
        assert time.monotonic() < deadline, f"job {job_id} not ended in {timeout} s: {job}"
        time.sleep(0.1)
    chunks = -(-len(batch) // CHUNK)
    assert job["state"] == "succeeded", job
    progress = job["progress"]
    assert progress["total"] == progress["done"] == len(batch), progress
    assert (progress["failed"], progress["skipped"]) == (0, 0), progress
    assert progress["chunks"] == progress["chunks_finished"] == chunks, progress
    store = redis.Redis.from_url(store_url)
    try:  # each chunk counted once, even one that was computed twice
        assert store.scard(chunks_done_key(job_id)) == chunks
    finally:
        store.close()
    streamed = client.get(f"/v1/jobs/{job_id}/results")
    assert streamed.status_code == 200, streamed.text
    items = [json.loads(line) for line in streamed.text.splitlines()]
    assert [item["index"] for item in items] == list(range(len(batch)))
    assert progress["cached"] == sum(item["cached"] for item in items)
    runtime, card = load_lexicon("lexicon")
    for item, row in zip(items, runtime.predict(batch), strict=True):
        assert "error" not in item, item
        assert [item["probabilities"][label] for label in card.labels] == pytest.approx(row)


def redis_settings(url: str) -> dict[str, str]:
    return {"broker_url": url, "result_backend_url": url, "cache_url": url}


# --- 1. A worker's network to Redis cut for 10 s -------------------------------------


@pytest.fixture
def netns() -> Iterator[NetnsLink]:
    """A fresh network namespace and veth pair, removed after the test even when it fails."""
    link = NetnsLink()
    try:
        link.create()
    except NetnsUnavailable as exc:
        link.remove()
        reason = f"the partition drill needs a network namespace: {exc}"
        # Root with iproute2 is how CI runs; there a missing namespace is a broken machine.
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield link
    finally:
        link.remove()


@pytest.fixture
def veth_redis(netns: NetnsLink, tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private Redis on loopback and on the host's end of the veth pair."""
    server = PrivateRedis(tmp_path / "redis", extra_bind=(netns.host_address,)).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_worker_cut_off_from_redis_for_10_s_mid_job_loses_and_repeats_nothing(
    netns: NetnsLink, veth_redis: PrivateRedis, make_stack: type[Stack]
) -> None:
    """Drill 1: one worker's link to Redis goes dead for 10 s while it holds a chunk.

    Two workers: `cut_off` in the namespace (reaching Redis over the veth pair) and
    `helper` on loopback. Two, because that proves more than one: the job keeps
    moving while a worker is partitioned; the partitioned worker's chunk, never
    acked, comes back after the visibility timeout and is finished by the helper;
    the partitioned worker's own late answer for it is not counted a second time;
    and at the end the partitioned worker, alone, runs a new job: it reconnected
    on its own.
    """
    stack = make_stack(
        **redis_settings(veth_redis.url),
        job_chunk_size=CHUNK,
        broker_visibility_timeout_s=4,
    )
    inside = f"redis://{netns.host_address}:{veth_redis.port}/0"
    cut_off = stack.start_worker(
        prefix=netns.prefix, **redis_settings(inside), fault_sleep_text=STALL, fault_sleep_s=1.5
    )
    helper = stack.start_worker(fault_sleep_text=SLOW, fault_sleep_s=0.2)
    stack.start_api()
    batch = texts(2000, markers=(STALL, SLOW))

    with stack.client() as client:
        job_id = submit(client, batch)

        def mid_job_with_a_chunk_in_hand() -> bool:
            job = record(veth_redis.url, job_id)
            # It has finished a chunk over the veth pair, and is inside the next one.
            return (
                job.progress.chunks_finished >= 16
                and count(cut_off, "chunk done") >= 1
                and inside_a_chunk(cut_off)
            )

        wait_for(mid_job_with_a_chunk_in_hand, 90, "the cut-off worker to be inside a chunk")
        before = record(veth_redis.url, job_id).progress
        netns.cut()
        cut_at = time.monotonic()
        try:
            assert 0 < before.done < len(batch), before
            # The helper goes on while the other worker is partitioned.
            wait_for(
                lambda: record(veth_redis.url, job_id).progress.done > before.done + 5 * CHUNK,
                9,
                "the job to move on without the cut-off worker",
            )
            assert cut_off.alive()
            time.sleep(max(0.0, 10 - (time.monotonic() - cut_at)))
        finally:
            netns.restore()
        assert_answered_exactly_once(client, veth_redis.url, job_id, batch)

        # The cut was real: the worker saw its Redis go away (its heartbeat failed).
        assert "heartbeat failed" in cut_off.log()
        # Its unacked chunk came back and ran a second time, counted once all the same.
        assert "task delivered again" in cut_off.log() + helper.log()

        # With the helper gone, only the cut-off worker can run this job.
        helper.stop()
        later = texts(4 * CHUNK)
        assert_answered_exactly_once(client, veth_redis.url, submit(client, later), later, 90)
    assert cut_off.alive()


def test_a_worker_cut_off_between_recording_a_chunk_and_its_ack_takes_work_again(
    netns: NetnsLink, veth_redis: PrivateRedis, make_stack: type[Stack]
) -> None:
    """Drill 1, the moment it once hit by chance: the link dies after a chunk is recorded
    and before its message is acked.

    The ack times out. kombu alone then kept the worker's one prefetch slot for the
    message it could not ack, and the worker, alive and reconnected, never took another
    (drill 1 failed so about one run in eight on a busy machine). With
    shared/redis_transport.py the slot is freed: this worker, the only one, runs the rest
    of the job, every chunk counted once, and no message is left unacked.
    """
    stack = make_stack(
        **redis_settings(veth_redis.url), job_chunk_size=CHUNK, broker_visibility_timeout_s=4
    )
    inside = f"redis://{netns.host_address}:{veth_redis.port}/0"
    worker = stack.start_worker(
        prefix=netns.prefix,
        **redis_settings(inside),
        fault_sleep_before_ack_text=UNACKED,
        fault_sleep_s=3.0,  # time to cut the link before the ack, on a busy machine too
    )
    stack.start_api()
    batch = texts(8 * CHUNK, markers=(UNACKED,), chunks=range(1, 2))

    with stack.client() as client:
        job_id = submit(client, batch)
        wait_for(
            lambda: count(worker, "fault hook: sleeping before the ack") == 1,
            60,
            "the worker to hold a recorded chunk",
        )
        netns.cut()
        try:
            wait_for(lambda: "Couldn't ack" in worker.log(), 30, "the ack to fail")
            # Recorded before the cut: counted, though its message is still unacked.
            store = redis.Redis.from_url(veth_redis.url)
            try:
                assert store.sismember(chunks_done_key(job_id), "1")
            finally:
                store.close()
        finally:
            netns.restore()
        assert_answered_exactly_once(client, veth_redis.url, job_id, batch, 60)
        # Nothing stays unacked: the failed ack's commands reach Redis once the link is
        # back (the kernel still delivers what the client gave up on), or the message
        # comes back after the visibility timeout and runs again, changing nothing.
        wait_for(lambda: unacked(veth_redis.url) == 0, 30, "no message left unacked")
        assert_answered_exactly_once(client, veth_redis.url, job_id, batch)
    assert worker.alive()


# --- 2. Redis killed with kill -9, append-only persistence on ------------------------


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private Redis that fsyncs its append-only file on every write."""
    server = PrivateRedis(tmp_path / "aof", append_only=True).start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_killed_with_kill_9_mid_job_loses_and_repeats_nothing(
    aof_redis: PrivateRedis, make_stack: type[Stack]
) -> None:
    """Drill 2: Redis (broker, job store and cache in one) dies by SIGKILL while a worker is
    inside a chunk, and comes back on the same port from its append-only file.

    What it had acknowledged is on disk (appendfsync always): the queued chunks, the
    job's counts, the chunk the worker held (kombu keeps it in its `unacked` hash until
    the ack). That held chunk comes back after the visibility timeout (3 s here).
    """
    stack = make_stack(
        **redis_settings(aof_redis.url),
        job_chunk_size=CHUNK,
        broker_visibility_timeout_s=3,
        fault_sleep_text=SLOW,
        fault_sleep_s=0.3,
    )
    worker = stack.start_worker()
    stack.start_api()
    # Chunks 8 to 23 are slow: the worker is inside one when Redis dies, the rest is quick.
    batch = texts(2000, markers=(SLOW,), chunks=range(8, 24))

    with stack.client() as client:
        job_id = submit(client, batch)
        wait_for(
            lambda: (
                record(aof_redis.url, job_id).progress.chunks_finished >= 10
                and inside_a_chunk(worker)
            ),
            90,
            "the worker to be inside a chunk, mid-job",
        )
        before = record(aof_redis.url, job_id).progress
        aof_redis.kill()
        # Down until the chunk in the worker's hands has run into it.
        wait_for(lambda: hit_by_the_outage(worker), 30, "the chunk to fail on Redis")
        aof_redis.start()
        # Nothing acknowledged before the kill was lost with it.
        after = record(aof_redis.url, job_id).progress
        assert after.chunks_finished >= before.chunks_finished, (before, after)
        assert 0 < before.done < len(batch), before
        assert_answered_exactly_once(client, aof_redis.url, job_id, batch)
    assert worker.alive()


def test_the_job_store_killed_mid_chunk_gives_the_chunk_back_to_the_broker(
    rabbitmq: rabbitmq_node.PrivateRabbitMQ, aof_redis: PrivateRedis, make_stack: type[Stack]
) -> None:
    """Drill 2 with RabbitMQ as the broker: Redis (job store, cache) killed -9 mid-chunk.

    The broker stays up while nothing can be recorded. Before the fix in worker/tasks.py
    this lost the chunk two ways: its retries ran at once against the dead store and the
    last one, unable to record its failure, was acked uncounted (its job `running` for
    ever); or, earlier, Celery failed to store the retry's state in the dead result
    backend and the solo worker stopped. Now the chunk goes back to the broker until the
    store answers, and stores nothing in Celery's result backend.
    """
    stack = make_stack(
        broker_url=rabbitmq.url,
        result_backend_url=aof_redis.url,
        cache_url=aof_redis.url,
        job_chunk_size=CHUNK,
        job_chunk_retry_s=0.1,
        fault_sleep_text=SLOW,
        fault_sleep_s=0.3,
    )
    worker = stack.start_worker()
    stack.start_api()
    batch = texts(500, markers=(SLOW,), chunks=range(4, 12))

    with stack.client() as client:
        job_id = submit(client, batch)
        wait_for(
            lambda: (
                record(aof_redis.url, job_id).progress.chunks_finished >= 4
                and inside_a_chunk(worker)
            ),
            90,
            "the worker to be inside a chunk, mid-job",
        )
        aof_redis.kill()
        # Down until the chunk was retried out (the old way) or went back twice.
        wait_for(
            lambda: (
                '"event": "chunk failed"' in worker.log() or count(worker, "chunk given back") >= 2
            ),
            30,
            "the chunk to be retried out or given back",
        )
        aof_redis.start()
        assert_answered_exactly_once(client, aof_redis.url, job_id, batch, timeout=60)
    assert worker.alive()
    # Chunks store nothing in Celery's result backend: a store there during an outage
    # is unretried in Celery 5.7 and stops a solo worker ("Unrecoverable error").
    store = redis.Redis.from_url(aof_redis.url)
    try:
        assert not list(store.scan_iter("celery-task-meta-*"))
    finally:
        store.close()


# --- 3. The API killed with kill -9 under load, jobs in flight -----------------------

# What a client may see from an API that dies and starts again: an answer (a correct
# one, or a documented refusal), or a broken connection. Never a timeout (a hang).
BROKEN_CONNECTION = {"ConnectError", "RemoteProtocolError", "ReadError", "WriteError"}
REFUSALS = {"NoWorkerAvailable", "Overloaded", "BrokerUnavailable", "BackendUnavailable"}


class Load:
    """Sync predictions on `clients` threads and small jobs on one more, until stopped.

    Every request's outcome is kept: (sent at, text or job texts, status or exception name,
    body). Checked afterwards, so a wrong answer fails the test even under load.
    """

    def __init__(self, base_url: str, clients: int = 4) -> None:
        self.base_url = base_url
        self.predictions: list[tuple[float, str, int | str, Any]] = []
        self.jobs: list[tuple[float, list[str], int | str, Any]] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._predict, args=(n,), daemon=True) for n in range(clients)
        ]
        self._threads.append(threading.Thread(target=self._submit, daemon=True))
        for thread in self._threads:
            thread.start()

    def _predict(self, n: int) -> None:
        words = ("what a lovely, charming day", "a dreadful, miserable day")
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                text = f"{words[i % 2]} {n} {i} {uuid.uuid4().hex[:6]}"
                sent = time.monotonic()
                try:
                    answer = client.post("/v1/predict", json={"text": text})
                except httpx.HTTPError as exc:
                    self.predictions.append((sent, text, type(exc).__name__, None))
                    time.sleep(0.05)
                    continue
                self.predictions.append((sent, text, answer.status_code, answer.json()))

    def _submit(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while not self._stop.is_set():
                batch = texts(2 * CHUNK)
                sent = time.monotonic()
                try:
                    answer = client.post("/v1/jobs", json={"texts": batch})
                except httpx.HTTPError as exc:
                    self.jobs.append((sent, batch, type(exc).__name__, None))
                else:
                    self.jobs.append((sent, batch, answer.status_code, answer.json()))
                time.sleep(0.2)

    def answered_since(self, moment: float) -> int:
        return sum(1 for sent, _, status, _ in self.predictions if sent > moment and status == 200)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=40)


def test_the_api_killed_with_kill_9_under_load_loses_no_job(make_stack: type[Stack]) -> None:
    """Drill 3: SIGKILL the API while sync requests and jobs are in flight, start a new one.

    The jobs live in Redis and the broker, not in the API: every job that got its 202
    (before the kill, or from either process) finishes and is read whole from the new
    API. Sync requests see an answer or a broken connection; every 200 is the model's
    answer to that very text.
    """
    stack = make_stack(job_chunk_size=CHUNK, fault_sleep_text=SLOW, fault_sleep_s=0.1)
    stack.start_worker()
    api = stack.start_api()
    port = int(stack.base_url.rsplit(":", 1)[1])
    store_url = stack.settings["result_backend_url"]

    with stack.client() as client:
        # 48 slow chunks, about 5 s of work: running when the API dies, and after.
        batches = [texts(400, markers=(SLOW,)) for _ in range(3)]
        in_flight = {submit(client, batch): batch for batch in batches}
        load = Load(stack.base_url)
        try:
            started = time.monotonic()
            wait_for(
                lambda: load.answered_since(started) >= 20 and len(load.jobs) >= 2,
                60,
                "load on the API",
            )
            api.stop(signal.SIGKILL)
            killed_at = time.monotonic()
            assert api.popen.returncode == -signal.SIGKILL
            unfinished = [j for j in in_flight if record(store_url, j).state not in ENDED]
            assert unfinished, "every job had ended before the kill: nothing was in flight"

            stack.start_api(port=port)
            restarted_at = time.monotonic()
            wait_for(lambda: load.answered_since(restarted_at) >= 20, 60, "the new API's answers")
        finally:
            load.stop()

        # Sync requests: an answer, a documented refusal or a broken connection, and a
        # broken connection only around the kill.
        runtime, card = load_lexicon("lexicon")
        outcomes: Counter[int | str] = Counter()
        answered = []
        for sent, text, status, body in load.predictions:
            outcomes[status] += 1
            if status == 200:
                answered.append((text, body))
            elif isinstance(status, int):
                assert status in (503, 504), (status, body)
                assert body["error"] in REFUSALS | {"DeadlineExceeded"}, body
            else:
                assert status in BROKEN_CONNECTION, status
                assert killed_at - 30 < sent < restarted_at, (status, sent - killed_at)
        assert any(isinstance(status, str) for status in outcomes), outcomes  # the kill was felt
        rows = runtime.predict([text for text, _ in answered])
        for (text, body), row in zip(answered, rows, strict=True):
            assert body["model"]["name"] == stack.model_name
            (prediction,) = body["predictions"]
            expected = dict(zip(card.labels, row, strict=True))
            assert prediction["probabilities"] == pytest.approx(expected), text

        # Jobs: those accepted before the kill and those the load got a 202 for.
        accepted = dict(in_flight)
        for _, batch, status, body in load.jobs:
            if status == 202:
                accepted[body["id"]] = batch
            else:
                assert status in BROKEN_CONNECTION or body["error"] in REFUSALS, (status, body)
        assert len(accepted) > len(in_flight)
        for job_id, batch in accepted.items():
            assert_answered_exactly_once(client, store_url, job_id, batch)
    print(f"sync outcomes: {dict(outcomes)}; jobs accepted: {len(accepted)}")


# --- 4. RabbitMQ as broker, a worker killed mid-chunk --------------------------------


@pytest.fixture
def rabbitmq(tmp_path: Path) -> Iterator[rabbitmq_node.PrivateRabbitMQ]:
    """A private RabbitMQ node (never the machine's own, which other tests share)."""
    if not rabbitmq_node.available():
        reason = "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
        if os.environ.get("CI"):  # .ci/run installs it
            pytest.fail(reason)
        pytest.skip(reason)
    node = rabbitmq_node.PrivateRabbitMQ(tmp_path / "rabbitmq").start()
    try:
        yield node
    finally:
        node.stop()


def test_a_worker_killed_mid_chunk_under_rabbitmq_loses_and_repeats_nothing(
    rabbitmq: rabbitmq_node.PrivateRabbitMQ, make_stack: type[Stack]
) -> None:
    """Drill 4: SIGKILL a worker inside a chunk with RabbitMQ as the broker.

    The chunk was delivered but never acked: RabbitMQ gives it back the moment the
    dead worker's connection drops (no visibility timeout, unlike Redis), and the
    other worker, already running, takes it.
    """
    stack = make_stack(broker_url=rabbitmq.url, job_chunk_size=CHUNK)
    victim = stack.start_worker(fault_sleep_text=STALL, fault_sleep_s=120)
    stack.start_api()
    # Chunks 0-39 are quick; chunk 40 stalls the victim, which alone consumes till then.
    batch = texts(2000, markers=(STALL,), chunks=range(40, 41))

    with stack.client() as client:
        job_id = submit(client, batch)
        wait_for(lambda: inside_a_chunk(victim), 60, "the victim to be inside chunk 40")
        survivor = stack.start_worker(fault_sleep_text="")
        # The survivor takes the chunks after 40; 40 stays in the victim's hands.
        wait_for(
            lambda: (
                record(stack.settings["result_backend_url"], job_id).progress.chunks_finished >= 50
            ),
            60,
            "the survivor to run chunks",
        )
        before = record(stack.settings["result_backend_url"], job_id).progress
        assert before.chunks_finished < before.chunks, before
        victim.stop(signal.SIGKILL)
        assert victim.popen.returncode == -signal.SIGKILL
        assert_answered_exactly_once(client, stack.settings["result_backend_url"], job_id, batch)

    # The stalled chunk's second delivery, on the survivor, was the one counted.
    assert "task delivered again" in survivor.log()
    assert survivor.alive()


def test_a_worker_outlives_its_result_backend_dying_under_a_sync_batch(
    rabbitmq: rabbitmq_node.PrivateRabbitMQ, aof_redis: PrivateRedis, make_stack: type[Stack]
) -> None:
    """Redis (result backend) killed -9 while a worker computes a sync batch, RabbitMQ up.

    The batch's result cannot be stored. The worker must wait for the backend, not stop
    (Celery 5.7 reads the stored state back unretried before it stores; with the solo
    pool that error stops the worker), and serve again once Redis is back.
    """
    stack = make_stack(
        broker_url=rabbitmq.url,
        result_backend_url=aof_redis.url,
        cache_url=aof_redis.url,
        request_timeout_s=30,
        fault_sleep_text=SLOW,
        fault_sleep_s=1,
    )
    worker = stack.start_worker()
    stack.start_api()
    outcome: list[int | str] = []

    def post() -> None:  # its answer is whatever Redis allows; the worker is the point
        with httpx.Client(base_url=stack.base_url, timeout=60) as own:
            try:
                outcome.append(own.post("/v1/predict", json={"texts": [SLOW]}).status_code)
            except httpx.HTTPError as exc:
                outcome.append(type(exc).__name__)

    call = threading.Thread(target=post, daemon=True)
    call.start()
    with httpx.Client(base_url=stack.base_url, timeout=60) as client:
        wait_for(lambda: inside_a_chunk(worker), 30, "the worker to be inside the batch")
        aof_redis.kill()
        # Past the batch's end: its result has had to be stored into a dead Redis.
        wait_for(lambda: '"event": "task done"' in worker.log(), 30, "the batch to end")
        time.sleep(2)
        assert worker.alive(), worker.log()[-3000:]
        aof_redis.start()
        call.join(timeout=60)
        assert outcome, "the sync request never ended"

        def answers() -> bool:
            text = f"a fine day {uuid.uuid4().hex}"
            return client.post("/v1/predict", json={"text": text}).status_code == 200

        wait_for(answers, 60, "the worker to answer again")
    assert worker.alive()
