"""Rate limits per API key (or client address), shared by every gateway through Redis.

The rule is GCRA (the generic cell rate algorithm): each caller has a
theoretical arrival time (TAT) stored in Redis; a request is allowed while the
TAT is at most `burst` emission intervals ahead of now, and each allowed request
pushes the TAT one interval further; a refused request leaves it where it is.
One key per caller, one atomic Lua call per request, no background refill. The
caller's clock is an argument of the script (wall clock: shared by every replica
through NTP), so the tests drive the script that runs with a clock of their own.

When Redis cannot be reached the limiter lets the request through (fails open):
a cache outage must not become an API outage; it is logged and counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from spectrum.api.observability import metrics

log = structlog.get_logger(__name__)

KEY_PREFIX = "spectrum:ratelimit"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int  # the burst: requests allowed at once from rest
    remaining: int  # requests allowed right now after this one
    reset_ms: int  # until the caller is back to a full burst
    retry_after_ms: int  # until the next request is allowed (0 when allowed)

    @property
    def retry_after_s(self) -> int:
        """Whole seconds to wait, at least 1 (Retry-After has no fractions)."""
        return max(1, math.ceil(self.retry_after_ms / 1000))

    def headers(self) -> list[tuple[bytes, bytes]]:
        """RateLimit-* (IETF draft names), in whole seconds."""
        return [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(math.ceil(self.reset_ms / 1000)).encode()),
        ]


# ARGV: now, interval (ms), burst. Returns allowed (0/1), remaining, reset and
# retry-after (ms). Numbers travel as strings: Redis turns a Lua number reply into
# an integer, truncating the fraction. The key expires once the caller is back to a
# full burst (plus a second), so idle callers leave nothing behind.
_SCRIPT = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local stored = redis.call('GET', KEYS[1])
local tat = now
if stored then tat = math.max(tonumber(stored), now) end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, 0, tostring(tat - now), tostring(allow_at - now)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, math.floor((now - allow_at) / interval), tostring(new_tat - now), '0'}
"""


class RateLimiter:
    """GCRA per caller in Redis; `check` never raises for a Redis outage."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        per_s: float,
        burst: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._clock = clock
        self.per_s = per_s
        self.burst = burst
        self._interval_ms = 1000.0 / per_s
        self._script = client.register_script(_SCRIPT)

    async def check(self, caller: str) -> Decision | None:
        """The decision for one request of `caller`, or None when Redis could not say."""
        now_ms = self._clock() * 1000
        try:
            allowed, remaining, reset, retry = await self._script(
                keys=[f"{KEY_PREFIX}:{caller}"], args=[now_ms, self._interval_ms, self.burst]
            )
        except (RedisError, OSError, TimeoutError) as exc:
            metrics.RATE_LIMIT_ERRORS.inc()
            log.warning("rate limiter unavailable, request let through", error=type(exc).__name__)
            return None
        return Decision(
            allowed=bool(int(allowed)),
            limit=self.burst,
            remaining=int(remaining),
            reset_ms=math.ceil(float(reset)),
            retry_after_ms=math.ceil(float(retry)),
        )
