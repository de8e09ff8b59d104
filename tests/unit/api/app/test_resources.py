"""The gateway's resources: opened by one function into one AsyncExitStack, closed in reverse.

The real `open_resources` against a real Redis (no worker, Celery's in-memory broker);
the closes are watched by wrapping each resource class's own close.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from celery import Celery

from spectrum.api.app.factory import create_app
from spectrum.api.app.resources import open_resources
from spectrum.api.edge.admission import QueueDepth
from spectrum.api.predict.batcher import MicroBatcher
from spectrum.api.predict.waiter import RedisSubscriber, ResultWaiter
from spectrum.shared.config import Settings

# Each resource's close, by the name the tests expect it under.
CLOSES: dict[str, tuple[type, str]] = {
    "batcher": (MicroBatcher, "close"),
    "queue depth": (QueueDepth, "close"),
    "waiter": (ResultWaiter, "close"),
    "subscriber": (RedisSubscriber, "close"),
    "redis": (aioredis.Redis, "aclose"),
    "celery": (Celery, "close"),
}
# The subscriber closes its own Redis client; then the cache's and the backend's close.
IN_REVERSE = [
    "batcher", "queue depth", "waiter", "subscriber", "redis", "redis", "redis", "celery"
]  # fmt: skip


def settings(redis_url: str, **overrides: Any) -> Settings:
    return Settings(
        log_json=True,
        model_name=f"resources-{uuid.uuid4().hex[:12]}",
        broker_url="memory://",
        result_backend_url=redis_url,
        cache_url=redis_url,
        **overrides,
    )


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the resources closed, in order (each close still runs)."""
    seen: list[str] = []
    for name, (cls, method) in CLOSES.items():
        monkeypatch.setattr(cls, method, _recorded(name, getattr(cls, method), seen))
    return seen


def _recorded(name: str, close: Callable[..., Any], seen: list[str]) -> Callable[..., Any]:
    if name == "celery":

        def close_sync(self: Any) -> None:
            seen.append(name)
            close(self)

        return close_sync

    async def close_async(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(name)
        await close(self, *args, **kwargs)

    return close_async


async def test_resources_close_in_the_reverse_order_of_their_opening(
    redis_url: str, closed: list[str]
) -> None:
    async with AsyncExitStack() as stack:
        resources = await open_resources(settings(redis_url, rate_limit_anonymous_per_s=5), stack)
        assert resources.limiter is not None
        assert (resources.limiter.per_s, resources.limiter.burst) == (5, 100)
        assert closed == []

    assert closed == IN_REVERSE


async def test_a_close_that_fails_does_not_skip_the_others(
    redis_url: str, closed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fails(self: Any) -> None:
        closed.append("waiter")
        raise RuntimeError("waiter close failed")

    monkeypatch.setattr(ResultWaiter, "close", fails)
    with pytest.raises(RuntimeError, match="waiter close failed"):
        async with AsyncExitStack() as stack:
            await open_resources(settings(redis_url), stack)

    assert closed == IN_REVERSE


async def test_an_open_that_fails_closes_what_was_opened_before_it(
    redis_url: str, closed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuses(self: Any, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker URL refused")

    monkeypatch.setattr(QueueDepth, "__init__", refuses)
    with pytest.raises(ConnectionError):
        async with AsyncExitStack() as stack:
            await open_resources(settings(redis_url), stack)

    assert closed == ["waiter", "subscriber", "redis", "redis", "redis", "celery"]


async def test_without_a_rate_limit_there_is_no_limiter(redis_url: str) -> None:
    async with AsyncExitStack() as stack:
        resources = await open_resources(settings(redis_url, rate_limit_anonymous_per_s=0), stack)
    assert resources.limiter is None


async def test_the_app_opens_the_real_resources_in_its_lifespan_and_closes_them(
    redis_url: str, closed: list[str]
) -> None:
    # No worker serves this model: the routes that need one say so, the others answer.
    app = create_app(settings(redis_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://spectrum") as client:
            models = await client.get("/v1/models")
            ready = await client.get("/readyz")
            predict = await client.post("/v1/predict", json={"text": "hello"})
        assert closed == []

    assert models.status_code == 200
    assert models.json()["models"][0]["live_workers"] == 0
    assert ready.status_code == 503
    assert ready.json()["checks"]["broker"] == ready.json()["checks"]["backend"] == "ok"
    assert predict.status_code == 503
    assert predict.json()["error"] == "NoWorkerAvailable"
    assert closed == IN_REVERSE
