"""The GCRA Lua script that runs, in a real Redis, driven by a clock the test holds.

The script takes the caller's clock as an argument, so time moves only when the test
moves it: no sleeping, nothing timed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from spectrum.api.edge.ratelimit import KEY_PREFIX, Decision, RateLimiter
from spectrum.api.observability import metrics

PER_S = 10.0  # one request every 100 ms
BURST = 3


class Clock:
    """Seconds since the epoch, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance_ms(self, ms: float) -> None:
        self.now += ms / 1000


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(client: aioredis.Redis, clock: Clock) -> RateLimiter:
    return RateLimiter(client, per_s=PER_S, burst=BURST, clock=clock)


def limiter_errors() -> float:
    return metrics.REGISTRY.get_sample_value("spectrum_rate_limiter_errors_total") or 0.0


def caller() -> str:
    """A caller no other test (or test run sharing this Redis) uses."""
    return f"test:{uuid.uuid4().hex}"


async def decide(limiter: RateLimiter, who: str) -> Decision:
    decision = await limiter.check(who)
    assert decision is not None
    return decision


async def test_a_burst_is_allowed_then_refused(limiter: RateLimiter) -> None:
    who = caller()
    decisions = [await decide(limiter, who) for _ in range(BURST + 1)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    refused = decisions[-1]
    assert refused.limit == BURST
    assert refused.retry_after_ms == 100
    assert refused.reset_ms == 300
    assert refused.retry_after_s == 1  # whole seconds, at least one


async def test_the_rate_refills_one_request_per_interval(
    limiter: RateLimiter, clock: Clock
) -> None:
    # Epoch milliseconds are floats: the test steps 1 ms past each boundary, never onto it.
    who = caller()
    for _ in range(BURST):
        assert (await decide(limiter, who)).allowed
    clock.advance_ms(101)
    assert (await decide(limiter, who)).allowed
    clock.advance_ms(50)
    half_way = await decide(limiter, who)
    assert not half_way.allowed
    assert half_way.retry_after_ms == pytest.approx(49, abs=1)  # float ms, rounded up
    clock.advance_ms(50)
    assert (await decide(limiter, who)).allowed
    assert not (await decide(limiter, who)).allowed


async def test_a_refused_request_does_not_push_the_limit_further(
    limiter: RateLimiter, clock: Clock
) -> None:
    who = caller()
    for _ in range(BURST):
        await decide(limiter, who)
    clock.advance_ms(10)
    for _ in range(20):
        assert not (await decide(limiter, who)).allowed
    clock.advance_ms(91)  # just past 100 ms after the burst, as if nothing had been refused
    assert (await decide(limiter, who)).allowed


async def test_after_rest_the_full_burst_is_back(limiter: RateLimiter, clock: Clock) -> None:
    who = caller()
    for _ in range(BURST + 1):
        await decide(limiter, who)
    clock.advance_ms(10_000)
    rested = await decide(limiter, who)
    assert rested.allowed
    assert rested.remaining == BURST - 1


async def test_callers_are_limited_apart(limiter: RateLimiter) -> None:
    busy, quiet = caller(), caller()
    for _ in range(BURST + 1):
        await decide(limiter, busy)
    assert not (await decide(limiter, busy)).allowed

    fresh = await decide(limiter, quiet)
    assert fresh.allowed
    assert fresh.remaining == BURST - 1


async def test_gateways_sharing_redis_share_the_limit(
    client: aioredis.Redis, limiter: RateLimiter, clock: Clock
) -> None:
    other_gateway = RateLimiter(client, per_s=PER_S, burst=BURST, clock=clock)
    who = caller()
    for _ in range(BURST):
        assert (await decide(limiter, who)).allowed
    assert not (await decide(other_gateway, who)).allowed


async def test_a_long_wait_is_told_in_whole_seconds_rounded_up(
    client: aioredis.Redis, clock: Clock
) -> None:
    slow = RateLimiter(client, per_s=0.4, burst=1, clock=clock)  # one request every 2.5 s
    who = caller()
    assert (await decide(slow, who)).allowed
    clock.advance_ms(1_000)
    refused = await decide(slow, who)
    assert not refused.allowed
    assert refused.retry_after_ms == pytest.approx(1_500, abs=1)
    assert refused.retry_after_s == 2


async def test_an_idle_callers_key_expires_once_its_burst_is_back(
    client: aioredis.Redis, limiter: RateLimiter
) -> None:
    who = caller()
    for _ in range(BURST):
        await decide(limiter, who)
    ttl_ms = await client.pttl(f"{KEY_PREFIX}:{who}")
    # Back to a full burst after 3 intervals (300 ms), kept one second more.
    assert 1_000 < ttl_ms <= 1_300


async def test_without_redis_every_request_is_let_through_and_counted(clock: Clock) -> None:
    # Nothing listens on port 1: the connection is refused at once.
    down = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    limiter = RateLimiter(down, per_s=PER_S, burst=BURST, clock=clock)
    before = limiter_errors()
    try:
        decisions = [await limiter.check(caller()) for _ in range(BURST + 2)]
    finally:
        await down.aclose()
    assert decisions == [None] * (BURST + 2)
    assert limiter_errors() - before == BURST + 2


def test_headers_carry_the_draft_names_in_whole_seconds() -> None:
    refused = Decision(allowed=False, limit=3, remaining=0, reset_ms=250, retry_after_ms=1)
    headers = dict(refused.headers())
    assert headers[b"ratelimit-limit"] == b"3"
    assert headers[b"ratelimit-remaining"] == b"0"
    assert headers[b"ratelimit-reset"] == b"1"
    assert refused.retry_after_s == 1
    assert Decision(False, 3, 0, 2500, 1200).retry_after_s == 2
