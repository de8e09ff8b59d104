"""Wait for Celery results without blocking the event loop.

Celery's Redis result backend stores a finished task's document under
`celery-task-meta-<id>` and publishes the same document on a channel of that
name. The gateway keeps one pub/sub connection to the backend and resolves a
future per task id from what arrives there; it never calls `AsyncResult.get()`.

Invariants:
- the channel is subscribed, and Redis has confirmed it, before the task is
  sent, so a result is never published before someone listens;
- after the pub/sub connection is (re)established, every pending channel is
  subscribed again and its key read once, so results stored while the
  connection was down are still delivered;
- every wait has a deadline, and the future is dropped and its channel
  unsubscribed when the waiter leaves, whatever the outcome.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import redis.asyncio as aioredis
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

# The pub/sub reader and the commands share one connection. When the reader's
# reconnect closes it under a command in flight, the command fails with the
# transport's own error (RuntimeError "handler is closed" under uvloop,
# AttributeError on a writer already dropped) rather than a ConnectionError.
# Both mean the same thing: the connection was lost (the Redis restart test raises both).
TRANSPORT_LOST = (RuntimeError, AttributeError)

READY_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})
RECOVERY_STEP_S = 2.0


class ResultDocument(dict[str, Any]):
    """Celery's stored result: status, result (or exception info), task_id."""

    @property
    def status(self) -> str:
        return str(self.get("status", ""))


class Subscriber(Protocol):
    """The pub/sub side the waiter needs; RedisSubscriber is the real one."""

    async def subscribe(self, channel: str) -> None:
        """Return once the server has confirmed the subscription."""

    async def unsubscribe(self, channel: str) -> None: ...

    async def get(self, key: str) -> bytes | str | None: ...


class ResultWaiter:
    """Matches result documents to the callers waiting for them."""

    def __init__(
        self,
        subscriber: Subscriber,
        channel_for: Callable[[str], str],
        *,
        observe_pending: Callable[[int], None] = lambda _count: None,
    ) -> None:
        self._subscriber = subscriber
        self._channel_for = channel_for
        # Told the count whenever it changes: a gauge that several gateway processes
        # sum must be current in each, not only in the one a scrape reaches.
        self._observe_pending = observe_pending
        self._pending: dict[str, asyncio.Future[ResultDocument]] = {}
        self._cleanups: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def wait(
        self, task_id: str, send: Callable[[], Awaitable[None]], limit_s: float
    ) -> ResultDocument:
        """Subscribe to the task's channel, call `send`, and return its final document.

        Raises TimeoutError when the result has not arrived `limit_s` seconds
        after the call; errors from subscribing or sending pass through.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        channel = self._channel_for(task_id)
        future: asyncio.Future[ResultDocument] = loop.create_future()
        self._pending[channel] = future
        self._observe_pending(len(self._pending))
        try:
            async with asyncio.timeout_at(deadline):
                await self._subscriber.subscribe(channel)
            await send()
            async with asyncio.timeout_at(deadline):
                return await future
        finally:
            self._pending.pop(channel, None)
            self._observe_pending(len(self._pending))
            future.cancel()
            # Unsubscribing must not delay the answer (nor hang while Redis is away).
            cleanup = asyncio.create_task(self._forget(channel))
            self._cleanups.add(cleanup)
            cleanup.add_done_callback(self._cleanups.discard)

    async def close(self) -> None:
        """Let pending unsubscribes finish (briefly); the connection closes after."""
        if self._cleanups:
            await asyncio.wait(self._cleanups, timeout=1.0)
        for cleanup in self._cleanups:
            cleanup.cancel()

    def deliver(self, channel: str, raw: bytes | str) -> None:
        """Resolve the waiter of `channel` if `raw` is a final result document."""
        future = self._pending.get(channel)
        if future is None or future.done():
            return
        try:
            document = ResultDocument(json.loads(raw))
        except (ValueError, TypeError):
            log.warning("unreadable result document", channel=channel)
            return
        if document.status in READY_STATES:
            future.set_result(document)

    async def recover(self) -> None:
        """After a (re)connection: subscribe every pending channel again and read its key."""
        for channel in list(self._pending):
            try:
                # Bounded: a connection lost again mid-recovery must not wedge it.
                async with asyncio.timeout(RECOVERY_STEP_S):
                    await self._subscriber.subscribe(channel)
                    raw = await self._subscriber.get(channel)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("result recovery failed", error=type(exc).__name__)
                return
            if raw is not None:
                self.deliver(channel, raw)

    async def _forget(self, channel: str) -> None:
        try:
            await self._subscriber.unsubscribe(channel)
        except (RedisError, OSError, TimeoutError) as exc:
            # The subscription dies with the connection; nothing is left to clean up.
            log.debug("unsubscribe failed", error=type(exc).__name__)


class RedisSubscriber:
    """One pub/sub connection to the result backend, read by one background task."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self._client = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self._pubsub = self._client.pubsub()
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._on_message: Callable[[str, bytes], None] = lambda _c, _d: None
        self._on_reconnect: Callable[[], Coroutine[Any, Any, None]] | None = None
        self._watching: object | None = None
        # redis-py's PubSub is not safe for concurrent commands: two coroutines
        # subscribing before it is connected each open a connection of their own,
        # and only one of them is ever read. One command at a time, on one connection.
        self._lock = asyncio.Lock()

    def bind(
        self,
        on_message: Callable[[str, bytes], None],
        on_reconnect: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        self._on_message = on_message
        self._on_reconnect = on_reconnect

    async def subscribe(self, channel: str) -> None:
        confirmed = self._confirmations.get(channel)
        if confirmed is None or confirmed.done():
            confirmed = asyncio.get_running_loop().create_future()
            self._confirmations[channel] = confirmed
        async with self._lock:
            await self._command(self._pubsub.subscribe, channel)
            self._watch_connection()
            if self._reader is None or self._reader.done():
                # A fresh context: the reader outlives the request that started it.
                self._reader = asyncio.create_task(
                    self._read(), name="result-waiter-reader", context=contextvars.Context()
                )
        await asyncio.shield(confirmed)

    async def unsubscribe(self, channel: str) -> None:
        self._confirmations.pop(channel, None)
        async with self._lock:
            await self._command(self._pubsub.unsubscribe, channel)

    @staticmethod
    async def _command(command: Callable[[str], Awaitable[Any]], channel: str) -> None:
        try:
            await command(channel)
        except TRANSPORT_LOST as exc:
            raise RedisConnectionError(f"result channel lost mid-command: {exc}") from exc

    async def get(self, key: str) -> bytes | str | None:
        value: bytes | str | None = await self._client.get(key)
        return value

    def _watch_connection(self) -> None:
        """Run recovery after every reconnection, however redis-py got there.

        The connection re-subscribes its channels itself when it reconnects (also
        inside its own retries); this hook adds the GET of every pending key.
        """
        connection = self._pubsub.connection
        if connection is None or connection is self._watching:
            return
        self._watching = connection
        connection.register_connect_callback(self._connected)

    async def _connected(self, _connection: object) -> None:
        if self._on_reconnect is not None and (self._recovery is None or self._recovery.done()):
            # Not awaited here: recovery waits for confirmations only the reader delivers.
            self._recovery = asyncio.create_task(
                self._on_reconnect(), name="result-recovery", context=contextvars.Context()
            )

    async def _read(self) -> None:
        backoff = 0.05
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except (RedisError, OSError, *TRANSPORT_LOST) as exc:
                log.warning("result channel lost", error=type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            backoff = 0.05
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = _text(message.get("channel"))
        if kind == "message":
            self._on_message(channel, message["data"])
        elif kind == "subscribe":
            confirmed = self._confirmations.get(channel)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)

    async def close(self) -> None:
        for task in (self._reader, self._recovery):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for confirmed in self._confirmations.values():
            confirmed.cancel()
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._client.aclose()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
