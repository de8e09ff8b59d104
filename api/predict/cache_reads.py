"""Cache reads of concurrent requests, coalesced into one MGET per turn of the event loop.

Most of a cached request's own work is redis-py's per-command cost (pool checkout,
retry wrapper, send, parse), not Redis's, so under load one MGET per request would be
the largest part of the gateway's CPU beyond the framework. Requests that read in the
same turn of the loop share one MGET, and each gets its own replies back, in order.
A request that finds no other read waiting or in flight sends its own MGET at once, so
a lone request pays nothing for the sharing (sharing always would cost it a turn of the
loop and a task). Figures: docs/performance.md, "What chose the defaults". A failed
read fails every request that shared it, with the error redis-py raised, so the
caller's rule stays the same (a cache outage is a miss).
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

Reply = bytes | str | None

# One MGET carries at most this many keys; a larger pile is read in several.
MAX_KEYS = 512


class CoalescedReads:
    """`mget(keys)` as a request sees it; underneath, one MGET for everyone waiting."""

    def __init__(self, redis: aioredis.Redis, max_keys: int = MAX_KEYS) -> None:
        self._redis = redis
        self._max_keys = max_keys
        self._waiting: list[tuple[list[str], asyncio.Future[list[Reply]]]] = []
        self._keys = 0
        self._flush: asyncio.Handle | None = None
        self._reads: set[asyncio.Task[None]] = set()
        self._alone = 0  # reads sent by a lone request, still in flight

    async def mget(self, keys: list[str]) -> list[Reply]:
        if not self._waiting and not self._reads and not self._alone:
            self._alone += 1
            try:
                return await self._redis.mget(keys)
            finally:
                self._alone -= 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Reply]] = loop.create_future()
        self._waiting.append((keys, future))
        self._keys += len(keys)
        if self._keys >= self._max_keys:
            self._send()
        elif self._flush is None:
            # After the requests already ready to run in this turn: they join this read.
            self._flush = loop.call_soon(self._send)
        return await future

    def _send(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        waiting, self._waiting, self._keys = self._waiting, [], 0
        if waiting:
            task = asyncio.get_running_loop().create_task(self._read(waiting))
            self._reads.add(task)
            task.add_done_callback(self._reads.discard)

    async def _read(self, waiting: list[tuple[list[str], asyncio.Future[list[Reply]]]]) -> None:
        keys = [key for own, _ in waiting for key in own]
        try:
            replies = await self._redis.mget(keys)
        except BaseException as exc:  # each request decides what an error means
            for _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        at = 0
        for own, future in waiting:
            if not future.done():  # a request that went away has cancelled its own
                future.set_result(replies[at : at + len(own)])
            at += len(own)
