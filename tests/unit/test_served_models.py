"""The registry read behind every request: cached, and read once however many wait."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from api.models.served import ServedModels
from shared.contracts import ModelCard
from shared.errors import BackendUnavailable, NoWorkerAvailable

CARD = ModelCard(
    name="m",
    version="v1",
    labels=["NEGATIVE", "POSITIVE"],
    runtime="lexicon",
    source="test",
    max_tokens=64,
)


class FakeBackend:
    """Answers the pipeline of HGET + ZCOUNT x2; each execute waits for `gate` if set."""

    def __init__(self, live: int, bulk: int = 0) -> None:
        self.live = live
        self.bulk = bulk
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None

    def pipeline(self, transaction: bool) -> FakeBackend:
        return self

    async def __aenter__(self) -> FakeBackend:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def hget(self, *_: Any) -> None:
        pass

    def zcount(self, *_: Any) -> None:
        pass

    async def execute(self) -> list[Any]:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return [CARD.model_dump_json(), self.live, self.bulk]


def served(backend: FakeBackend, clock: list[float]) -> ServedModels:
    return ServedModels(
        backend,  # type: ignore[arg-type]
        name="m",
        queue="m.interactive",
        bulk_queue="m.bulk",
        stale_after_s=3,
        refresh_s=1.0,
        clock=lambda: clock[0],
    )


def test_concurrent_requests_share_one_read() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(live=2), [100.0]
        models = served(backend, clock)
        backend.gate = asyncio.Event()
        waiting = [asyncio.create_task(models.require()) for _ in range(32)]
        await asyncio.sleep(0)
        backend.gate.set()
        statuses = await asyncio.gather(*waiting)
        assert backend.reads == 1
        assert {s.live_workers for s in statuses} == {2}
        assert statuses[0].card == CARD
        # Cached for refresh_s, then read again.
        await models.require()
        assert backend.reads == 1
        clock[0] += 1.0
        await models.require()
        assert backend.reads == 2

    asyncio.run(run())


def test_a_caller_that_leaves_does_not_cancel_the_others_read() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(live=1), [100.0]
        models = served(backend, clock)
        backend.gate = asyncio.Event()
        leaving = asyncio.create_task(models.status())
        staying = asyncio.create_task(models.status())
        await asyncio.sleep(0)
        leaving.cancel()
        await asyncio.sleep(0)
        backend.gate.set()
        assert (await staying).live_workers == 1
        assert backend.reads == 1

    asyncio.run(run())


def test_a_failed_read_reaches_every_caller_and_is_not_cached() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(live=1), [100.0]
        models = served(backend, clock)
        backend.fail = RedisConnectionError("down")
        results = await asyncio.gather(models.require(), models.require(), return_exceptions=True)
        assert all(isinstance(r, BackendUnavailable) for r in results)
        backend.fail = None
        assert (await models.require()).live_workers == 1

    asyncio.run(run())


def test_no_live_worker_is_never_cached() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(live=0), [100.0]
        models = served(backend, clock)
        with pytest.raises(NoWorkerAvailable):
            await models.require()
        reads = backend.reads
        backend.live = 1  # a worker starts: seen at once, not after refresh_s
        assert (await models.require()).live_workers == 1
        assert backend.reads == reads + 1

    asyncio.run(run())


def test_each_lane_needs_its_own_live_worker() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(live=1, bulk=0), [100.0]
        models = served(backend, clock)
        assert (await models.require()).live_workers == 1
        with pytest.raises(NoWorkerAvailable, match=r"'m\.bulk'"):
            await models.require(lane="bulk")
        backend.bulk = 1  # a bulk worker starts: seen at once
        assert (await models.require(lane="bulk")).bulk_workers == 1

    asyncio.run(run())
