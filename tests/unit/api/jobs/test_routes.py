"""/v1/jobs in-process: the real JobService on a real Redis, Celery's in-memory broker.

A job's record is Redis state kept by Lua scripts on both sides (shared/jobs.py), so
faking the store would test nothing; the broker is not the point here, so chunks go
to Celery's in-memory transport, where the test reads them back. The test plays the
worker with the worker's own JobStore. The model's card and heartbeats are written
as a worker writes them, under a model name no other test uses.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from celery import Celery
from pydantic import SecretStr

from spectrum.api.edge.admission import LaneAdmission
from spectrum.api.jobs.service import JobService
from spectrum.api.models.catalog import Catalog
from spectrum.shared.celery_app import create_celery
from spectrum.shared.config import Settings
from spectrum.shared.contracts import JOB_CHUNK_TASK, JobChunkPayload
from spectrum.shared.jobs import answered
from spectrum.shared.predictions import Answer
from spectrum.shared.registry import MODELS_KEY, workers_key
from spectrum.worker.jobs import JobStore
from tests.unit.inprocess import CARD, resources, serve

CHUNK = 2  # texts per chunk task


@dataclass
class Gateway:
    client: httpx.AsyncClient
    settings: Settings
    celery: Celery

    def published(self) -> list[JobChunkPayload]:
        """The chunk tasks queued on the bulk lane since the last call, in order."""
        payloads = []
        with self.celery.connection_for_read() as connection:
            queue = connection.SimpleQueue(self.settings.bulk_queue, no_ack=True)
            try:
                while True:
                    try:
                        message = queue.get(block=False)
                    except queue.Empty:
                        break
                    assert message.headers["task"] == JOB_CHUNK_TASK
                    args, _kwargs, _embed = message.decode()
                    payloads.append(JobChunkPayload.model_validate(args[0]))
            finally:
                queue.close()
        return payloads

    def work(self, chunks: list[JobChunkPayload]) -> None:
        """Answer each chunk as a worker would: every text POSITIVE."""
        store = JobStore(self.settings)
        try:
            for chunk in chunks:
                assert store.start(chunk.job_id) == "running"
                answer = Answer(
                    label="POSITIVE",
                    score=0.75,
                    probabilities={"NEGATIVE": 0.25, "POSITIVE": 0.75},
                    cached=False,
                    truncated=False,
                )
                items = [answered(chunk.start + i, answer) for i in range(len(chunk.texts))]
                store.finish(chunk, items, done=len(items))
        finally:
            store.close()


async def no_depths(_queues: Sequence[str]) -> dict[str, int]:
    return {}


def gateway_settings(redis_url: str) -> Settings:
    return Settings(
        log_json=True,
        model_name=f"jobs-{uuid.uuid4().hex[:12]}",
        broker_url="memory://",
        result_backend_url=redis_url,
        cache_url=redis_url,
        job_chunk_size=CHUNK,
        job_ttl_s=60,  # what the tests leave in a shared Redis goes within minutes
        job_tombstone_s=60,
    )


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def open_gateway(
    stack: AsyncExitStack,
    redis: aioredis.Redis,
    settings: Settings,
    *,
    bulk_workers: int,
    interactive_workers: int = 0,
) -> Gateway:
    name, queue, bulk = settings.served_model_name, settings.interactive_queue, settings.bulk_queue
    await redis.hset(MODELS_KEY, name, CARD.model_copy(update={"name": name}).model_dump_json())
    stack.push_async_callback(redis.hdel, MODELS_KEY, name)
    for lane_queue, count in ((bulk, bulk_workers), (queue, interactive_workers)):
        if count:
            now = time.time()
            await redis.zadd(workers_key(lane_queue), {f"test:{i}": now for i in range(count)})
            stack.push_async_callback(redis.delete, workers_key(lane_queue))
    celery = create_celery(settings)
    stack.callback(celery.close)
    served = Catalog(redis, default=name, stale_after_s=settings.worker_stale_s)
    lanes = LaneAdmission(no_depths, max_depth=100, ttl_s=0.0, clock=time.monotonic)
    jobs = JobService(settings, celery, redis, served, lanes)
    client = await stack.enter_async_context(serve(resources(settings, jobs=jobs)))
    return Gateway(client, settings, celery)


@pytest.fixture
async def gateway(redis_url: str, redis: aioredis.Redis) -> AsyncIterator[Gateway]:
    async with AsyncExitStack() as stack:
        yield await open_gateway(stack, redis, gateway_settings(redis_url), bulk_workers=1)


TEXTS = ["first", "second", "third"]


async def submit(gateway: Gateway, **request: Any) -> dict[str, Any]:
    answer = await gateway.client.post("/v1/jobs", **request)
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    assert answer.headers["location"] == body["status_url"] == f"/v1/jobs/{body['id']}"
    return body


async def test_a_json_job_is_accepted_and_cut_into_chunk_tasks(gateway: Gateway) -> None:
    created = await submit(gateway, json={"texts": TEXTS})

    assert created["state"] == "queued"
    assert created["results_url"] == f"/v1/jobs/{created['id']}/results"
    chunks = gateway.published()
    assert [(c.job_id, c.chunk, c.start, c.texts) for c in chunks] == [
        (created["id"], 0, 0, ["first", "second"]),
        (created["id"], 1, 2, ["third"]),
    ]
    status = (await gateway.client.get(created["status_url"])).json()
    assert status["state"] == "queued"
    assert status["progress"]["total"] == 3
    assert status["progress"]["chunks"] == 2
    assert status["results"] is None


async def test_a_csv_file_upload_is_read_by_its_text_column(gateway: Gateway) -> None:
    csv = b'id,review\n1,good film\n2,"long, dull"\n'
    created = await submit(
        gateway,
        params={"text_column": "review"},
        files={"file": ("reviews.csv", csv, "text/csv")},
    )

    assert [c.texts for c in gateway.published()] == [["good film", "long, dull"]]
    assert created["state"] == "queued"


async def test_a_jsonl_body_is_a_job_too(gateway: Gateway) -> None:
    body = b'{"text": "one"}\n{"text": "two"}\n{"text": "three"}\n'
    await submit(gateway, content=body, headers={"Content-Type": "application/x-ndjson"})

    assert [c.texts for c in gateway.published()] == [["one", "two"], ["three"]]


async def test_a_finished_job_shows_its_results_inline_and_streams_them(
    gateway: Gateway,
) -> None:
    created = await submit(gateway, json={"texts": TEXTS})
    gateway.work(gateway.published())

    status = (await gateway.client.get(created["status_url"])).json()
    assert status["state"] == "succeeded"
    assert status["progress"]["done"] == 3
    assert [item["index"] for item in status["results"]] == [0, 1, 2]

    ndjson = await gateway.client.get(created["results_url"])
    assert ndjson.status_code == 200
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    assert ndjson.headers["x-job-state"] == "succeeded"
    rows = [json.loads(line) for line in ndjson.text.splitlines()]
    assert [(row["index"], row["label"]) for row in rows] == [(i, "POSITIVE") for i in range(3)]

    csv = await gateway.client.get(created["results_url"], params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert f'filename="{created["id"]}.csv"' in csv.headers["content-disposition"]
    assert len(csv.text.strip().splitlines()) == 1 + 3  # a header, then one row per text


async def test_results_of_a_running_job_hold_only_its_finished_chunks(gateway: Gateway) -> None:
    created = await submit(gateway, json={"texts": TEXTS})
    first, _second = gateway.published()
    gateway.work([first])

    answer = await gateway.client.get(created["results_url"])
    assert answer.headers["x-job-state"] == "running"
    assert [json.loads(line)["index"] for line in answer.text.splitlines()] == [0, 1]


async def test_a_cancel_is_answered_again_but_a_finished_job_cannot_be_cancelled(
    gateway: Gateway,
) -> None:
    running = await submit(gateway, json={"texts": TEXTS})
    cancelled = await gateway.client.delete(running["status_url"])
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert (await gateway.client.get(running["status_url"])).json()["state"] == "cancelled"
    again = await gateway.client.delete(running["status_url"])
    assert again.status_code == 200
    assert again.json()["state"] == "cancelled"

    gateway.published()  # the cancelled job's chunks, never computed
    done = await submit(gateway, json={"texts": ["only"]})
    gateway.work(gateway.published())
    late = await gateway.client.delete(done["status_url"])
    assert late.status_code == 409
    assert late.json()["error"] == "JobConflict"


@pytest.mark.parametrize("job_id", [f"{uuid.uuid4().hex}", "not-a-job-id"])
@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("GET", "/results"), ("DELETE", "")])
async def test_an_unknown_job_is_a_404(
    gateway: Gateway, job_id: str, method: str, suffix: str
) -> None:
    answer = await gateway.client.request(method, f"/v1/jobs/{job_id}{suffix}")

    assert answer.status_code == 404
    assert answer.json()["error"] == "JobNotFound"


async def test_the_same_idempotency_key_and_body_replays_the_job(gateway: Gateway) -> None:
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = await gateway.client.post("/v1/jobs", json={"texts": TEXTS}, headers=headers)
    again = await gateway.client.post("/v1/jobs", json={"texts": TEXTS}, headers=headers)
    other = await gateway.client.post("/v1/jobs", json={"texts": ["else"]}, headers=headers)

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(gateway.published()) == 2  # the replay queued nothing
    assert other.status_code == 409


@pytest.mark.parametrize(
    ("request_args", "status"),
    [
        ({"json": {"texts": [1, 2]}}, 422),
        ({"json": {"texts": ["a"], "extra": 1}}, 422),
        ({"content": b"{", "headers": {"Content-Type": "application/json"}}, 422),
        ({"content": b"<a/>", "headers": {"Content-Type": "application/xml"}}, 415),
        ({"files": {"other": ("t.csv", b"text\na\n", "text/csv")}}, 422),
    ],
    ids=["not-strings", "unknown-field", "broken-json", "unsupported-type", "no-file-field"],
)
async def test_a_submission_outside_the_contract_is_refused_and_queues_nothing(
    gateway: Gateway, request_args: dict[str, Any], status: int
) -> None:
    answer = await gateway.client.post("/v1/jobs", **request_args)

    assert answer.status_code == status, answer.text
    assert answer.json()["error"]
    assert gateway.published() == []


async def test_a_job_without_a_bulk_worker_is_a_503(redis_url: str, redis: aioredis.Redis) -> None:
    async with AsyncExitStack() as stack:
        gateway = await open_gateway(stack, redis, gateway_settings(redis_url), bulk_workers=0)
        answer = await gateway.client.post("/v1/jobs", json={"texts": TEXTS})

        assert answer.status_code == 503
        assert answer.json()["error"] == "NoWorkerAvailable"
        assert "retry-after" in answer.headers
        assert gateway.published() == []


async def test_a_job_names_its_model_and_a_bad_or_unknown_one_is_refused(
    gateway: Gateway,
) -> None:
    name = gateway.settings.served_model_name
    created = await submit(gateway, json={"texts": TEXTS, "model": name})
    status = (await gateway.client.get(created["status_url"])).json()
    assert status["model"] == name
    assert {c.model for c in gateway.published()} == {name}
    upload = b'{"text": "one"}\n'
    await submit(
        gateway,
        content=upload,
        params={"model": name},
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert [c.model for c in gateway.published()] == [name]

    refusals = [
        await gateway.client.post("/v1/jobs", json={"texts": TEXTS, "model": ""}),
        await gateway.client.post("/v1/jobs", json={"texts": TEXTS, "model": 3}),
        await gateway.client.post(
            "/v1/jobs",
            content=upload,
            params={"model": "x" * 129},
            headers={"Content-Type": "application/x-ndjson"},
        ),
    ]
    assert [r.status_code for r in refusals] == [422, 422, 422]
    unknown = await gateway.client.post("/v1/jobs", json={"texts": TEXTS, "model": "no-such"})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "ModelNotFound"
    assert name in unknown.json()["detail"]
    assert gateway.published() == []


async def test_a_job_is_refused_without_a_bulk_worker_even_with_interactive_ones(
    redis_url: str, redis: aioredis.Redis
) -> None:
    async with AsyncExitStack() as stack:
        settings = gateway_settings(redis_url)
        gateway = await open_gateway(stack, redis, settings, bulk_workers=0, interactive_workers=1)
        answer = await gateway.client.post("/v1/jobs", json={"texts": TEXTS})

        assert answer.status_code == 503
        assert gateway.published() == []


async def test_a_bulk_lane_that_scales_from_zero_queues_a_job_with_no_bulk_worker(
    redis_url: str, redis: aioredis.Redis
) -> None:
    async with AsyncExitStack() as stack:
        settings = gateway_settings(redis_url).model_copy(update={"bulk_scales_to_zero": True})
        gateway = await open_gateway(stack, redis, settings, bulk_workers=0, interactive_workers=1)
        body = await submit(gateway, json={"texts": TEXTS})

        assert body["state"] == "queued"
        assert [(c.job_id, c.chunk) for c in gateway.published()] == [
            (body["id"], 0),
            (body["id"], 1),
        ]


async def test_a_bulk_lane_that_scales_from_zero_still_needs_a_worker_of_the_model(
    redis_url: str, redis: aioredis.Redis
) -> None:
    async with AsyncExitStack() as stack:
        settings = gateway_settings(redis_url).model_copy(update={"bulk_scales_to_zero": True})
        gateway = await open_gateway(stack, redis, settings, bulk_workers=0)
        answer = await gateway.client.post("/v1/jobs", json={"texts": TEXTS})

        assert answer.status_code == 503
        assert answer.json()["error"] == "NoWorkerAvailable"
        assert gateway.published() == []


ALICE, BOB = "alice-key", "bob-key"


@pytest.fixture
async def keyed(redis_url: str, redis: aioredis.Redis) -> AsyncIterator[Gateway]:
    settings = gateway_settings(redis_url).model_copy(
        update={"api_keys": SecretStr(f"{ALICE},{BOB}"), "key_id_secret": SecretStr("s")}
    )
    async with AsyncExitStack() as stack:
        yield await open_gateway(stack, redis, settings, bulk_workers=1)


def as_(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def test_a_job_belongs_to_its_key_and_is_a_404_to_any_other(keyed: Gateway) -> None:
    created = await keyed.client.post("/v1/jobs", json={"texts": TEXTS}, headers=as_(ALICE))
    assert created.status_code == 202, created.text
    status_url = created.json()["status_url"]
    keyed.work(keyed.published())

    for method, url in (
        ("GET", status_url),
        ("GET", f"{status_url}/results"),
        ("DELETE", status_url),
    ):
        answer = await keyed.client.request(method, url, headers=as_(BOB))
        assert answer.status_code == 404, (method, url, answer.text)
        assert answer.json()["error"] == "JobNotFound"
    mine = await keyed.client.get(status_url, headers=as_(ALICE))
    assert mine.status_code == 200
    assert mine.json()["state"] == "succeeded"
    assert (await keyed.client.get(f"{status_url}/results", headers=as_(ALICE))).status_code == 200


async def test_an_idempotency_key_is_scoped_to_the_api_key_that_sent_it(keyed: Gateway) -> None:
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    alice = await keyed.client.post(
        "/v1/jobs", json={"texts": TEXTS}, headers={**headers, **as_(ALICE)}
    )
    # Bob's same Idempotency-Key neither replays Alice's job nor conflicts with it.
    bob = await keyed.client.post(
        "/v1/jobs", json={"texts": ["else"]}, headers={**headers, **as_(BOB)}
    )
    bob_same = await keyed.client.post(
        "/v1/jobs", json={"texts": TEXTS}, headers={**headers, **as_(BOB)}
    )
    assert alice.status_code == bob.status_code == 202, bob.text
    assert bob.json()["id"] != alice.json()["id"]
    assert "idempotent-replayed" not in bob.headers
    assert bob_same.status_code == 409  # Bob's own key, reused with another body
    again = await keyed.client.post(
        "/v1/jobs", json={"texts": TEXTS}, headers={**headers, **as_(ALICE)}
    )
    assert again.json()["id"] == alice.json()["id"]


DEEP = b"[" * 100_000
HUGE = b"9" * 5000


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"texts": ' + DEEP + b"}", "application/json"),
        (b'{"texts": ["a"], "model": ' + HUGE + b"}", "application/json"),
        (b'{"texts": ["a"', "application/json"),
        (b'\xff\xfe{\x00"\x00', "application/json"),
        (b'{"text": "a"}\n' + DEEP + b"\n", "application/x-ndjson"),
        (b'{"text": "a", "n": ' + HUGE + b"}\n", "application/x-ndjson"),
        (b'{"text": "a"}\n{"text": "b', "application/x-ndjson"),
        ("\ufefftext\n\u00e9\n".encode("utf-16"), "text/csv"),
        (b'text\n"unterminated\n', "text/csv"),
        (b"text\n" + b"x" * (1024 * 1024 + 10) + b"\n", "text/csv"),
        (b'--b\r\nContent-Disposition: form-data; name="file"', "multipart/form-data; boundary=b"),
        (b"--b\r\n\r\n", "multipart/form-data; boundary=b"),
        (b"data", "multipart/form-data"),
    ],
)
async def test_every_job_parser_answers_a_bad_body_with_a_4xx(
    gateway: Gateway, content: bytes, content_type: str
) -> None:
    answer = await gateway.client.post(
        "/v1/jobs", content=content, headers={"Content-Type": content_type}
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert set(answer.json()) >= {"error", "detail"}
    assert gateway.published() == []
