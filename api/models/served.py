"""What the workers serve, read from the registry they write (see shared/registry.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import redis.asyncio as aioredis
from pydantic import ValidationError

from shared.contracts import ModelCard
from shared.errors import START_A_WORKER, BackendUnavailable, NoWorkerAvailable
from shared.registry import MODELS_KEY, workers_key

Lane = Literal["interactive", "bulk"]


@dataclass(frozen=True)
class ModelStatus:
    card: ModelCard | None
    live_workers: int  # on the interactive lane: those that answer /v1/predict
    bulk_workers: int = 0  # on the bulk lane: those that run job chunks

    def live(self, lane: Lane) -> int:
        return self.live_workers if lane == "interactive" else self.bulk_workers


class ServedModels:
    """Reads the card and live workers per lane of one model, at most once per `refresh_s`."""

    def __init__(
        self,
        backend: aioredis.Redis,
        *,
        name: str,
        queue: str,
        bulk_queue: str,
        stale_after_s: float,
        refresh_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._backend = backend
        self.name = name
        self.queue = queue
        self.bulk_queue = bulk_queue
        self._stale_after_s = stale_after_s
        self._refresh_s = refresh_s
        self._clock = clock
        self._status: ModelStatus | None = None
        self._read_at = 0.0
        self._reading: asyncio.Task[ModelStatus] | None = None

    async def status(self, *, fresh: bool = False) -> ModelStatus:
        now = self._clock()
        if fresh or self._status is None or now - self._read_at >= self._refresh_s:
            # One read at a time: requests arriving while it runs share its answer
            # (at 32 connections each refresh was read by every request in flight).
            if self._reading is None:
                self._reading = asyncio.create_task(self._refresh(now))
                self._reading.add_done_callback(_retrieve)
            # Shielded: a caller that goes away must not cancel the others' read.
            return await asyncio.shield(self._reading)
        return self._status

    async def _refresh(self, now: float) -> ModelStatus:
        try:
            status = await self._read(now)
        finally:
            self._reading = None
        self._status, self._read_at = status, now
        return status

    async def require(self, *, fresh: bool = False, lane: Lane = "interactive") -> ModelStatus:
        """The status of a model that a live worker serves on `lane`, or NoWorkerAvailable."""
        status = await self.status(fresh=fresh)
        if status.live(lane) == 0 and not fresh:
            # Only good news is cached: a worker that just started is seen at once.
            status = await self.status(fresh=True)
        if status.live(lane) == 0 or status.card is None:
            queue = self.queue if lane == "interactive" else self.bulk_queue
            raise NoWorkerAvailable(
                f"no worker is consuming queue {queue!r} for model {self.name!r}; {START_A_WORKER}"
            )
        return status

    async def _read(self, now: float) -> ModelStatus:
        try:
            async with self._backend.pipeline(transaction=False) as pipe:
                pipe.hget(MODELS_KEY, self.name)
                fresh_since = now - self._stale_after_s
                pipe.zcount(workers_key(self.queue), fresh_since, "+inf")
                pipe.zcount(workers_key(self.bulk_queue), fresh_since, "+inf")
                raw_card, live, bulk = await pipe.execute()
        except (aioredis.RedisError, OSError) as exc:
            raise BackendUnavailable(f"result backend unreachable: {type(exc).__name__}") from exc
        card = None
        if raw_card is not None:
            try:
                card = ModelCard.model_validate_json(raw_card)
            except ValidationError:
                card = None
        return ModelStatus(card=card, live_workers=int(live), bulk_workers=int(bulk))


def _retrieve(task: asyncio.Task[ModelStatus]) -> None:
    """Mark a failed read's error as seen: its callers got it, or all went away."""
    if not task.cancelled():
        task.exception()
