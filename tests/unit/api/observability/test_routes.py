"""/healthz, /readyz and /metrics in-process.

/readyz asks a real Celery (the in-memory broker, or one at a closed port) and a real
Redis client; the worker registry is a fake. /metrics renders the real ScrapeProbe
over fake sources.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
import redis.asyncio as aioredis

from spectrum.api.edge.admission import QueueDepth
from spectrum.api.edge.keys import new_key
from spectrum.api.observability.metrics import CONTENT_TYPE, ScrapeProbe
from spectrum.shared.config import Settings
from tests.unit.inprocess import FakeModels, resources, serve

SETTINGS = Settings(log_json=True)
CLOSED_PORT = "redis://127.0.0.1:1/0"  # nothing listens there: refused at once


@pytest.fixture
async def broker() -> AsyncIterator[QueueDepth]:
    kept = QueueDepth("memory://", timeout=1.0)
    yield kept
    await kept.close()


@pytest.fixture
async def broker_down() -> AsyncIterator[QueueDepth]:
    kept = QueueDepth(CLOSED_PORT, timeout=0.5)
    yield kept
    await kept.close()


@pytest.fixture
async def backend(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def backend_down() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(CLOSED_PORT, socket_connect_timeout=0.5)
    yield client
    await client.aclose()


async def test_healthz_answers_without_any_resource() -> None:
    async with serve(resources(SETTINGS)) as client:
        answer = await client.get("/healthz")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


async def test_readyz_is_200_when_broker_backend_and_a_worker_answer(
    broker: QueueDepth, backend: aioredis.Redis
) -> None:
    given = resources(SETTINGS, broker=broker, backend=backend, models=FakeModels())
    async with serve(given) as client:
        answer = await client.get("/readyz")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "status": "ready",
        "checks": {"broker": "ok", "backend": "ok", "workers": "ok"},
    }


async def test_readyz_is_503_and_names_the_missing_worker(
    broker: QueueDepth, backend: aioredis.Redis
) -> None:
    given = resources(SETTINGS, broker=broker, backend=backend, models=FakeModels(live=0))
    async with serve(given) as client:
        answer = await client.get("/readyz")

    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not ready"
    assert body["checks"]["broker"] == body["checks"]["backend"] == "ok"
    assert "no worker" in body["checks"]["workers"]


async def test_readyz_is_503_when_the_backend_is_down_and_does_not_ask_for_workers(
    broker: QueueDepth, backend_down: aioredis.Redis
) -> None:
    # The workers are only read through the backend: unknown, not "ok", while it is down.
    given = resources(SETTINGS, broker=broker, backend=backend_down, models=FakeModels())
    async with serve(given) as client:
        answer = await client.get("/readyz")

    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["backend"].startswith("unreachable")
    assert checks["workers"] == "unknown"
    assert checks["broker"] == "ok"


async def test_readyz_is_503_when_the_broker_is_down(
    broker_down: QueueDepth, backend: aioredis.Redis
) -> None:
    given = resources(SETTINGS, broker=broker_down, backend=backend, models=FakeModels())
    async with serve(given) as client:
        answer = await client.get("/readyz")

    assert answer.status_code == 503
    assert answer.json()["checks"]["broker"].startswith("unreachable")


async def test_readyz_opens_no_broker_connection_per_call(
    redis_url: str, backend: aioredis.Redis
) -> None:
    kept = QueueDepth(redis_url, timeout=1.0)
    given = resources(SETTINGS, broker=kept, backend=backend, models=FakeModels())
    try:
        async with serve(given) as client:
            assert (await client.get("/readyz")).status_code == 200  # connections made here
            before = (await backend.info("stats"))["total_connections_received"]
            answers = [(await client.get("/readyz")).status_code for _ in range(20)]
            after = (await backend.info("stats"))["total_connections_received"]
    finally:
        await kept.close()
    assert answers == [200] * 20
    assert after - before <= 1  # another test's client may connect meanwhile, not 20


class FakeWaiter:
    pending = 2


class FakeDepth:
    def __init__(self, depths: dict[str, int] | None) -> None:
        self._depths = depths

    async def read(self, queues: Sequence[str]) -> dict[str, int]:
        if self._depths is None:
            raise ConnectionError("broker down")
        return {queue: self._depths.get(queue, 0) for queue in queues}


def probe(depths: dict[str, int] | None) -> ScrapeProbe:
    return ScrapeProbe(FakeWaiter(), FakeModels(), FakeDepth(depths))


async def test_metrics_render_what_is_read_at_scrape_time() -> None:
    given = resources(SETTINGS, probe=probe({"m.interactive": 4, "m.bulk": 0}))
    async with serve(given) as client:
        answer = await client.get("/metrics")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == CONTENT_TYPE
    lines = answer.text.splitlines()
    assert 'spectrum_queue_depth{lane="interactive",model="m",queue="m.interactive"} 4.0' in lines
    assert "spectrum_waiter_pending_results 2.0" in lines
    assert 'spectrum_workers_live{lane="interactive",model="m"} 1.0' in lines


async def test_metrics_still_answer_without_a_broker_and_leave_no_stale_depth() -> None:
    async with serve(resources(SETTINGS, probe=probe({"m.interactive": 9}))) as client:
        await client.get("/metrics")
    async with serve(resources(SETTINGS, probe=probe(None))) as client:
        answer = await client.get("/metrics")

    assert answer.status_code == 200
    assert "spectrum_queue_depth{" not in answer.text
    assert 'spectrum_metrics_probe_errors_total{source="broker"}' in answer.text


async def test_private_metrics_need_a_key() -> None:
    key, hashed = new_key()
    settings = Settings(
        log_json=True, api_key_hashes=hashed, metrics_public=False, key_id_secret="s"
    )
    async with serve(resources(settings, probe=probe({}))) as client:
        anonymous = await client.get("/metrics")
        known = await client.get("/metrics", headers={"X-API-Key": key})
        health = await client.get("/healthz")

    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "Unauthorized"
    assert known.status_code == 200
    assert health.status_code == 200  # the probes stay open
