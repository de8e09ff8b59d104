"""Rate limits per API key (or client address), shared by every gateway through Redis.

The rule is GCRA (the generic cell rate algorithm): each caller has a
theoretical arrival time (TAT) stored in Redis; a request is allowed while the
TAT is at most `burst` emission intervals ahead of now, and each allowed request
pushes the TAT one interval further. One key per caller, one atomic Lua call per
request, no background refill. `gcra` below is the same arithmetic in Python,
with the clock a parameter, for the unit tests and for reading the script.

When Redis cannot be reached the limiter lets the request through (fails open):
a cache outage must not become an API outage; it is logged and counted.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from api.observability import metrics

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


def gcra(
    tat_ms: float | None, now_ms: float, interval_ms: float, burst: int
) -> tuple[Decision, float]:
    """One request at `now_ms`: the decision and the TAT to store (unchanged when refused)."""
    tat = max(tat_ms if tat_ms is not None else now_ms, now_ms)
    new_tat = tat + interval_ms
    allow_at = new_tat - burst * interval_ms
    if now_ms < allow_at:
        decision = Decision(
            allowed=False,
            limit=burst,
            remaining=0,
            reset_ms=math.ceil(tat - now_ms),
            retry_after_ms=math.ceil(allow_at - now_ms),
        )
        return decision, tat
    remaining = int((now_ms - allow_at) // interval_ms)
    decision = Decision(
        allowed=True,
        limit=burst,
        remaining=remaining,
        reset_ms=math.ceil(new_tat - now_ms),
        retry_after_ms=0,
    )
    return decision, new_tat


# The same arithmetic as `gcra`, atomically in Redis. Numbers travel as strings:
# Redis turns a Lua number reply into an integer, truncating the fraction.
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

    def __init__(self, client: aioredis.Redis, *, per_s: float, burst: int) -> None:
        self._client = client
        self.per_s = per_s
        self.burst = burst
        self._interval_ms = 1000.0 / per_s
        self._script = client.register_script(_SCRIPT)

    async def check(self, caller: str) -> Decision | None:
        """The decision for one request of `caller`, or None when Redis could not say."""
        now_ms = time.time() * 1000  # wall clock: shared by every replica (NTP)
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
