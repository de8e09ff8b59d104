"""POST /v1/predict in-process: the real app and its middlewares, a fake predictor.

Error bodies are checked loosely (status, `error`): their shape is being extended.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from spectrum.api.edge.keys import new_key
from spectrum.api.edge.ratelimit import RateLimiter
from spectrum.shared.config import Settings
from spectrum.shared.errors import NoWorkerAvailable
from tests.unit.inprocess import FakePredictor, resources, serve

SETTINGS = Settings(log_json=True)


async def test_one_text_is_answered_in_the_documented_shape() -> None:
    predictor = FakePredictor()
    async with serve(resources(SETTINGS, predictor=predictor)) as client:
        answer = await client.post(
            "/v1/predict", json={"text": "lovely"}, headers={"X-Request-ID": "req-7"}
        )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "model": {"name": "m", "version": "v1"},
        "alias": None,
        "predictions": [
            {
                "label": "POSITIVE",
                "score": 0.75,
                "probabilities": {"NEGATIVE": 0.25, "POSITIVE": 0.75},
                "cached": False,
                "truncated": False,
                "model": {"name": "m", "version": "v1"},
            }
        ],
    }
    assert answer.headers["x-request-id"] == "req-7"
    # The access log's request id reaches the predictor (and through it the task).
    assert predictor.calls == [(["lovely"], "req-7")]


async def test_a_list_of_texts_is_passed_on_in_order() -> None:
    predictor = FakePredictor()
    async with serve(resources(SETTINGS, predictor=predictor)) as client:
        answer = await client.post("/v1/predict", json={"texts": ["b", "a", "b"]})

    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 3
    assert predictor.calls[0][0] == ["b", "a", "b"]


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"text": "a", "texts": ["b"]}',
        b'{"text": 5}',
        b'{"texts": "not a list"}',
        b'{"text": "a", "modle": "other"}',
        b'{"text": "a", "model": ""}',
        b'{"text": "a", "model": 7}',
        b'{"text": "a", "model": "' + b"x" * 129 + b'"}',
        b'{"text": "a"',
        b'["a"]',
    ],
    ids=[
        "neither",
        "both",
        "not-a-string",
        "not-a-list",
        "unknown-field",
        "empty-model",
        "model-not-a-string",
        "model-too-long",
        "broken-json",
        "list",
    ],
)
async def test_a_body_outside_the_contract_is_a_422_that_never_reaches_the_predictor(
    body: bytes,
) -> None:
    predictor = FakePredictor()
    async with serve(resources(SETTINGS, predictor=predictor)) as client:
        answer = await client.post(
            "/v1/predict", content=body, headers={"Content-Type": "application/json"}
        )

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "InvalidInput"
    assert answer.json()["detail"]
    assert predictor.calls == []


async def test_no_worker_is_a_503_with_retry_after() -> None:
    predictor = FakePredictor(error=NoWorkerAvailable("no worker is consuming queue 'm'"))
    async with serve(resources(SETTINGS, predictor=predictor)) as client:
        answer = await client.post("/v1/predict", json={"text": "x"})

    assert answer.status_code == 503
    assert answer.json()["error"] == "NoWorkerAvailable"
    assert answer.headers["retry-after"] == "1"


async def test_a_body_over_the_limit_is_a_413_before_the_predictor() -> None:
    predictor = FakePredictor()
    settings = Settings(log_json=True, max_body_bytes=1024)
    async with serve(resources(settings, predictor=predictor)) as client:
        answer = await client.post("/v1/predict", json={"text": "x" * 2000})

    assert answer.status_code == 413
    assert answer.json()["error"] == "PayloadTooLarge"
    assert predictor.calls == []


async def test_with_keys_on_only_a_known_key_gets_through() -> None:
    key, hashed = new_key()
    predictor = FakePredictor()
    settings = Settings(log_json=True, api_key_hashes=hashed, key_id_secret="s")
    async with serve(resources(settings, predictor=predictor)) as client:
        anonymous = await client.post("/v1/predict", json={"text": "x"})
        wrong = await client.post("/v1/predict", json={"text": "x"}, headers={"X-API-Key": "no"})
        known = await client.post(
            "/v1/predict", json={"text": "x"}, headers={"Authorization": f"Bearer {key}"}
        )

    assert [anonymous.status_code, wrong.status_code, known.status_code] == [401, 401, 200]
    assert anonymous.json()["error"] == "Unauthorized"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert len(predictor.calls) == 1


@pytest.fixture
async def cache(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_past_its_burst_a_caller_gets_429_with_retry_after_and_ratelimit_headers(
    cache: aioredis.Redis,
) -> None:
    # The real limiter (Lua in a real Redis) in the gate: one request a minute, burst 2,
    # on a clock that stands still.
    limiter = RateLimiter(cache, per_s=1 / 60, burst=2, clock=lambda: 1_700_000_000.0)
    predictor = FakePredictor()
    # Keys are off: callers are told apart by address; this one no other run uses.
    address = f"test-{uuid.uuid4().hex}"
    given = resources(SETTINGS, predictor=predictor, limiter=limiter)
    async with serve(given, address=address) as client:
        answers = [await client.post("/v1/predict", json={"text": "x"}) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["ratelimit-limit"] == "2"
    assert answers[0].headers["ratelimit-remaining"] == "1"
    refused = answers[-1]
    assert refused.json()["error"] == "RateLimited"
    assert refused.headers["retry-after"] == "60"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert len(predictor.calls) == 2


async def test_the_model_named_reaches_the_predictor() -> None:
    predictor = FakePredictor()
    async with serve(resources(SETTINGS, predictor=predictor)) as client:
        named = await client.post("/v1/predict", json={"text": "a", "model": "emotion"})
        plain = await client.post("/v1/predict", json={"text": "a"})

    assert (named.status_code, plain.status_code) == (200, 200)
    assert predictor.models == ["emotion", None]
