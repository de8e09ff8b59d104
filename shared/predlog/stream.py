"""The producers' side of the prediction log: XADD rows to the result-backend Redis stream.

The stream lives in the result-backend Redis, which must not evict keys: the stream
is the log's durable backlog while the writer or the database is down, and an
`allkeys-lru` cache could silently evict it. Each XADD trims it to about
SPECTRUM_PREDICTION_LOG_STREAM_MAX entries (`~`: trimming whole nodes is cheap).

The gateway never waits on the log: `StreamLog.append` puts rows in the process's
buffer and returns; a background task sends what gathered every
SPECTRUM_PREDICTION_LOG_FLUSH_MS in one pipeline (one round trip for many requests),
whole requests packed into entries of up to ENTRY_ROWS rows.
A Redis failure loses that flush's rows, counted and logged, never an answer's error.
Workers send one XADD per job chunk (`send_sync`), also swallowing failures.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import redis
import redis.asyncio as aioredis
import structlog

from spectrum.shared.config import Settings
from spectrum.shared.predlog.rows import ROWS_FIELD, Row, encode_rows

log = structlog.get_logger(__name__)

# Rows a gateway process holds between flushes at most: past it (Redis unreachable
# for long), new rows are dropped and counted rather than growing memory.
PENDING_ROWS_MAX = 50_000
# Rows per stream entry from the gateway, at most (a request is never split).
ENTRY_ROWS = 256


class StreamLog:
    """A gateway process's buffered, fire-and-forget sender of prediction log rows.

    Invariant: `append` never awaits, never raises and never blocks on Redis; every
    row appended is either sent in a later flush or counted in `on_dropped`.
    """

    def __init__(
        self,
        redis_client: aioredis.Redis,
        *,
        stream_max: int,
        flush_s: float,
        stream: str,
        on_dropped: Callable[[int], None] = lambda _n: None,
    ) -> None:
        self._redis = redis_client
        self._stream = stream
        self._stream_max = stream_max
        self._flush_s = flush_s
        self._on_dropped = on_dropped
        self._pending: list[list[Row]] = []
        self._pending_rows = 0
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        redis_client: aioredis.Redis,
        on_dropped: Callable[[int], None] = lambda _n: None,
    ) -> StreamLog:
        return cls(
            redis_client,
            stream_max=settings.prediction_log_stream_max,
            stream=settings.prediction_log_stream,
            flush_s=settings.prediction_log_flush_ms / 1000,
            on_dropped=on_dropped,
        )

    def append(self, rows: list[Row]) -> None:
        """Queue one request's rows (kept together in one entry); the flush task sends them."""
        if not rows:
            return
        if self._pending_rows + len(rows) > PENDING_ROWS_MAX:
            self._on_dropped(len(rows))
            return
        self._pending.append(rows)
        self._pending_rows += len(rows)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_s)
            await self.flush()

    async def flush(self) -> None:
        """Send every queued request's rows in one pipeline; a failure drops (and counts) them.

        Requests are packed whole into entries of up to ENTRY_ROWS rows: an XADD costs the
        gateway more CPU than encoding a row, so one entry per flush, not per request.
        """
        if not self._pending:
            return
        requests, self._pending, self._pending_rows = self._pending, [], 0
        entries: list[list[Row]] = [[]]
        for rows in requests:
            if entries[-1] and len(entries[-1]) + len(rows) > ENTRY_ROWS:
                entries.append([])
            entries[-1].extend(rows)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for rows in entries:
                    pipe.xadd(
                        self._stream,
                        {ROWS_FIELD: encode_rows(rows)},
                        maxlen=self._stream_max,
                        approximate=True,
                    )
                await pipe.execute()
        except (aioredis.RedisError, OSError) as exc:
            self._on_dropped(sum(len(rows) for rows in entries))
            log.warning("prediction log send failed", error=type(exc).__name__)

    async def close(self) -> None:
        """Stop the flush task, then send what is left (once, best effort)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


def send_sync(
    client: redis.Redis,
    rows: list[Row],
    *,
    stream_max: int,
    stream: str,
) -> bool:
    """One XADD of `rows` (a job chunk's); False when Redis refused it (logged, not raised)."""
    if not rows:
        return True
    try:
        client.xadd(stream, {ROWS_FIELD: encode_rows(rows)}, maxlen=stream_max, approximate=True)
    except (redis.RedisError, OSError) as exc:
        log.warning("prediction log send failed", error=type(exc).__name__)
        return False
    return True
