"""Admission control: shed what cannot be served in time, at once, with a Retry-After.

Three caps, answered before any work is queued:

- `InFlightPerKey` (keys on): requests one API key has in flight; beyond its cap
  that key is answered 429 `KeyBusy`, so that its slow or greedy requests cannot
  take the slots every other key needs.

The other two are answered 503 `Overloaded`:

- `InFlight`: requests this gateway is serving right now. Beyond the cap a new
  request is refused instead of waiting without bound (each waiting request
  holds memory and, later, a worker's time that its caller may no longer want).
- `LaneAdmission`: messages waiting in a lane's broker queue (`<model>.<lane>`).
  Each model's lanes have their own cap, so one model's full lane never refuses
  another model's work. The queues watched are the default model's (`lane_queues`)
  and those of every model asked for since the gateway started: the first request
  for a new model adds its queue and reads again. Depth is read for all watched
  lanes in one broker round trip and reused for `ttl_s`, so a burst of requests
  costs one read, not one per request. An unreadable depth admits: the send that
  follows answers for a broker that is really down.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
import structlog
from kombu import Connection

from spectrum.shared.config import Settings
from spectrum.shared.errors import RETRY_AFTER_S, KeyBusy, Overloaded
from spectrum.shared.registry import model_queue

log = structlog.get_logger(__name__)

Clock = Callable[[], float]

# kombu's Redis transport keeps a message with priority p > 0 in "<queue>\x06\x16<p>".
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


class InFlight:
    """A counter with a cap; `enter` refuses beyond it, `leave` must follow every `enter`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.current = 0

    def enter(self) -> None:
        if self.current >= self.limit:
            raise Overloaded(
                f"the gateway is serving its limit of {self.limit} requests; "
                f"retry in {RETRY_AFTER_S} s"
            )
        self.current += 1

    def leave(self) -> None:
        self.current -= 1


class InFlightPerKey:
    """In-flight requests per API key, each key capped at `limit`: one key's slow or
    greedy requests take at most its share of the gateway's SPECTRUM_MAX_IN_FLIGHT."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._current: dict[str, int] = {}

    def enter(self, key_id: str) -> None:
        held = self._current.get(key_id, 0)
        if held >= self.limit:
            raise KeyBusy(
                f"this API key has its limit of {self.limit} requests in flight "
                f"(SPECTRUM_MAX_IN_FLIGHT_PER_KEY); retry in {RETRY_AFTER_S} s"
            )
        self._current[key_id] = held + 1

    def leave(self, key_id: str) -> None:
        held = self._current[key_id] - 1
        if held:
            self._current[key_id] = held
        else:
            del self._current[key_id]  # idle keys leave nothing behind

    def held(self, key_id: str) -> int:
        return self._current.get(key_id, 0)


class LaneAdmission:
    """Refuses new work for a lane whose queue is at its cap; depths are cached briefly."""

    def __init__(
        self,
        read_depths: Callable[[Sequence[str]], Awaitable[dict[str, int]]],
        *,
        queues: Sequence[str] = (),
        max_depth: int,
        ttl_s: float,
        clock: Clock,
    ) -> None:
        self._read = read_depths
        self._queues: dict[str, None] = dict.fromkeys(queues)  # watched, in first-seen order
        self._max_depth = max_depth
        self._ttl_s = ttl_s
        self._clock = clock
        self._depths: dict[str, int] = {}
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None

    async def admit(self, queue: str, limit: int | None = None) -> None:
        """Return when `queue` may take more messages; raise Overloaded otherwise.

        `limit` overrides the cap for lanes whose messages are counted differently
        (the bulk lane's are job chunks, queued by the thousand).
        """
        cap = self._max_depth if limit is None else limit
        if queue not in self._queues:  # a model not asked for before: read its depth now
            self._queues[queue] = None
            self._read_at = float("-inf")
        depth = (await self.depths()).get(queue, 0)
        if depth >= cap:
            raise Overloaded(
                f"queue {queue!r} holds {depth} messages, its limit is {cap}; "
                f"retry in {RETRY_AFTER_S} s"
            )

    async def depths(self) -> dict[str, int]:
        """The depths read last. Only the first read is waited for; after it, a stale
        answer is served while one refresh runs in the background, so no request waits
        on the broker: a read on AMQP (a thread and a few broker round trips) would hold
        up every request arriving during it, enough to leave RabbitMQ workers idle
        (docs/scaling.md, "Scaling curve"). Served depths are at most `ttl_s` + one read old.
        With `ttl_s` 0 every call waits for a read of its own: the exact cap asked for."""
        if self._clock() - self._read_at < self._ttl_s:
            return self._depths
        if self._read_at == float("-inf") or self._ttl_s <= 0:
            await self._refresh()
        elif self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._refresh())
        return self._depths

    async def _refresh(self) -> None:
        async with self._lock:  # one read at a time; the others reuse its answer
            if self._clock() - self._read_at < self._ttl_s:
                return
            try:
                self._depths = await self._read(list(self._queues))
            except Exception as exc:  # any transport's outage: admit, the send will tell
                log.debug("queue depth unreadable", error=type(exc).__name__)
                self._depths = {}
            self._read_at = self._clock()


def lane_queues(settings: Settings) -> list[str]:
    """The default model's queues: interactive (sync predict) and bulk (job chunks)."""
    name = settings.default_model_name
    return [model_queue(name, "interactive"), model_queue(name, "bulk")]


class QueueDepth:
    """Messages waiting in broker queues: LLEN on Redis, a passive declare on AMQP."""

    def __init__(self, broker_url: str, *, timeout: float) -> None:
        self._url = broker_url
        self._timeout = timeout
        self._redis: aioredis.Redis | None = None
        # AMQP: one connection, kept between reads. A new one per read (every
        # SPECTRUM_QUEUE_DEPTH_TTL_MS) would cost a TCP and AMQP handshake each time,
        # and a request may wait for a read: on a busy machine that stalls the
        # gateway often enough to leave RabbitMQ workers idle (make scale;
        # docs/scaling.md, "Scaling curve").
        self._amqp: Any = None
        # Reads run in a worker thread and may outlive their timeout: one at a time.
        self._amqp_busy = threading.Lock()
        if broker_url.startswith(("redis://", "rediss://", "unix://")):
            self._redis = aioredis.Redis.from_url(
                broker_url, socket_timeout=timeout, socket_connect_timeout=timeout
            )

    async def read(self, queues: Sequence[str]) -> dict[str, int]:
        """The depth of each of `queues`, in one round trip (Redis) or one connection (AMQP)."""
        queues = list(queues)
        if self._redis is not None:
            return await self._read_redis(self._redis, queues)
        return await asyncio.wait_for(
            asyncio.to_thread(self._read_amqp, queues), self._timeout + 0.5
        )

    async def ping(self) -> None:
        """One round trip to the broker on the connection kept for depth reads (never a
        new one: /readyz calls this, and a probe must stay cheap however often it comes)."""
        if self._redis is not None:
            await self._redis.ping()
            return
        await asyncio.wait_for(asyncio.to_thread(self._ping_amqp), self._timeout + 0.5)

    def _ping_amqp(self) -> None:
        if not self._amqp_busy.acquire(blocking=False):
            raise TimeoutError("the previous broker read has not finished")
        try:
            if self._amqp is None:
                self._amqp = Connection(self._url, connect_timeout=self._timeout)
            self._amqp.channel().close()  # a channel on the kept connection: one round trip
        except BaseException:
            self._drop_amqp()
            raise
        finally:
            self._amqp_busy.release()

    async def _read_redis(self, client: aioredis.Redis, queues: list[str]) -> dict[str, int]:
        async with client.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.llen(queue)
                for step in _PRIORITY_STEPS:
                    pipe.llen(f"{queue}{_PRIORITY_SEP}{step}")
            lengths = await pipe.execute()
        per_queue = len(_PRIORITY_STEPS) + 1
        return {
            queue: sum(int(n) for n in lengths[i * per_queue : (i + 1) * per_queue])
            for i, queue in enumerate(queues)
        }

    def _read_amqp(self, queues: list[str]) -> dict[str, int]:
        if not self._amqp_busy.acquire(blocking=False):
            # The last read is still stuck on a slow broker: this one is unreadable too.
            raise TimeoutError("the previous queue-depth read has not finished")
        try:
            if self._amqp is None:
                self._amqp = Connection(self._url, connect_timeout=self._timeout)
            connection = self._amqp
            depths = {}
            for queue in queues:
                channel: Any = connection.channel()  # the stubs miss queue_declare
                try:
                    # passive: report the queue, never create it; a missing queue holds nothing.
                    _, count, _ = channel.queue_declare(queue=queue, passive=True)
                    depths[queue] = int(count)
                except connection.channel_errors:
                    depths[queue] = 0
                finally:
                    channel.close()
            return depths
        except BaseException:
            self._drop_amqp()  # a broken connection is opened afresh by the next read
            raise
        finally:
            self._amqp_busy.release()

    def _drop_amqp(self) -> None:
        connection, self._amqp = self._amqp, None
        if connection is not None:
            connection.release()

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
        if self._amqp is not None:
            await asyncio.to_thread(self._drop_amqp)
