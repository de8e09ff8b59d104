"""Coalesced cache reads, against the real Redis: one MGET per turn of the loop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from spectrum.api.predict.cache_reads import CoalescedReads


class CountingRedis:
    """The real client, counting the MGETs it is asked for."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self.calls: list[int] = []

    async def mget(self, keys: list[str]) -> list[bytes | None]:
        self.calls.append(len(keys))
        return await self.client.mget(keys)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_concurrent_reads_share_one_mget_and_get_their_own_replies(
    redis: aioredis.Redis,
) -> None:
    prefix = f"test:reads:{uuid.uuid4().hex}"
    await redis.mset({f"{prefix}:{i}": f"v{i}" for i in range(6)})
    counting = CountingRedis(redis)
    reads = CoalescedReads(counting)  # type: ignore[arg-type]
    asks = [[f"{prefix}:0", f"{prefix}:9"], [f"{prefix}:1"], [f"{prefix}:2", f"{prefix}:3"]]

    replies = await asyncio.gather(*(reads.mget(keys) for keys in asks))

    assert replies == [[b"v0", None], [b"v1"], [b"v2", b"v3"]]
    assert counting.calls == [2, 3]  # the first found nobody and went alone; the rest shared
    await redis.delete(*(f"{prefix}:{i}" for i in range(6)))


async def test_a_large_pile_is_read_in_several_mgets(redis: aioredis.Redis) -> None:
    counting = CountingRedis(redis)
    reads = CoalescedReads(counting, max_keys=4)  # type: ignore[arg-type]
    asks = [[f"test:reads:absent:{i}:{j}" for j in range(3)] for i in range(4)]

    replies = await asyncio.gather(*(reads.mget(keys) for keys in asks))

    assert replies == [[None] * 3] * 4
    assert counting.calls == [3, 6, 3]  # alone, then 4 keys or more close a read


async def test_a_lone_request_reads_at_once(redis: aioredis.Redis) -> None:
    counting = CountingRedis(redis)
    reads = CoalescedReads(counting)  # type: ignore[arg-type]

    assert await reads.mget(["test:reads:absent:a"]) == [None]
    assert await reads.mget(["test:reads:absent:b"]) == [None]
    assert counting.calls == [1, 1]


async def test_a_failed_read_fails_every_request_that_shared_it() -> None:
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    reads = CoalescedReads(dead)

    results = await asyncio.gather(reads.mget(["a"]), reads.mget(["b"]), return_exceptions=True)

    assert all(isinstance(r, aioredis.ConnectionError) for r in results)
    await dead.aclose()


async def test_a_request_that_went_away_leaves_the_others_their_replies(
    redis: aioredis.Redis,
) -> None:
    key = f"test:reads:{uuid.uuid4().hex}"
    await redis.set(key, "here")
    reads = CoalescedReads(redis)
    first = asyncio.ensure_future(reads.mget([key]))  # alone: its own MGET
    gone = asyncio.ensure_future(reads.mget([key]))  # these two share the next one
    kept = asyncio.ensure_future(reads.mget([key]))
    await asyncio.sleep(0)
    gone.cancel()

    assert await kept == [b"here"]
    assert await first == [b"here"]
    assert gone.cancelled()
    await redis.delete(key)
