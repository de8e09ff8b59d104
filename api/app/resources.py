"""The gateway's resources, opened into one AsyncExitStack, and the dependency routes ask for.

`open_resources` opens each resource after those it depends on and pushes its close
onto the stack as soon as it is open. The stack therefore closes them in reverse
order (the batcher before the waiter before the Redis clients before Celery), closes
whatever was opened when a later open fails, and runs every close even when one
raises (the stack re-raises at the end, after all of them ran). Opening connects
to nothing: connections are made on first use, so the gateway starts while Redis
or the broker is down, and /readyz says so.

Tests build the app with their own Resources (`create_app(open_resources=...)`),
which is how routes are tested in-process with fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Annotated, Any

import redis.asyncio as aioredis
from celery import Celery
from fastapi import Depends, Request
from sqlalchemy import Engine

from spectrum.api.analytics.drift_gauge import DriftGauge
from spectrum.api.edge.admission import LaneAdmission, QueueDepth, lane_queues
from spectrum.api.edge.keys import KeyRing
from spectrum.api.edge.ratelimit import RateLimiter
from spectrum.api.jobs.service import JobService
from spectrum.api.models.alias_sources import AliasSources
from spectrum.api.models.catalog import Catalog
from spectrum.api.observability.metrics import PREDICTION_LOG_DROPPED, WAITER_PENDING, ScrapeProbe
from spectrum.api.predict.predictor import Predictor
from spectrum.api.predict.waiter import RedisSubscriber, ResultWaiter
from spectrum.shared.celery_app import create_celery
from spectrum.shared.config import Settings
from spectrum.shared.predlog.db import engine_for
from spectrum.shared.predlog.stream import StreamLog


@dataclass
class Resources:
    settings: Settings
    celery: Celery
    backend: aioredis.Redis
    models: Catalog
    predictor: Predictor
    probe: ScrapeProbe
    jobs: JobService
    broker: QueueDepth  # the kept broker connection: queue depths and /readyz's ping
    limiter: RateLimiter | None = None  # None: no rate limit
    log_db: Engine | None = None  # the prediction log's database; None: the log is off
    drift: DriftGauge | None = None  # spectrum_drift_psi, refreshed by /metrics


async def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


# Connections per Redis client. Requests beyond it wait for a free connection (up to
# the client's timeout) instead of failing: redis-py's default pool raised
# MaxConnectionsError at 128 concurrent cached requests (503s in `make bench`).
REDIS_POOL_SIZE = 64


def redis_client(url: str, *, timeout: float) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=REDIS_POOL_SIZE,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    # from_pool: the client owns its pool, so closing the client closes its connections
    # (Redis(connection_pool=...) leaves them open).
    return aioredis.Redis.from_pool(pool)


async def open_resources(settings: Settings, stack: AsyncExitStack) -> Resources:
    """Open what the routes use, in dependency order; `stack` closes it in reverse."""
    celery = create_celery(settings)
    stack.callback(celery.close)
    # Short timeouts: a Redis outage must turn into a quick 503, not a hang.
    backend = redis_client(settings.result_backend_url, timeout=1.0)
    stack.push_async_callback(backend.aclose)
    cache = redis_client(settings.cache_url, timeout=0.5)
    stack.push_async_callback(cache.aclose)
    subscriber = RedisSubscriber(settings.result_backend_url, timeout=2.0)
    stack.push_async_callback(subscriber.close)
    waiter = ResultWaiter(subscriber, _result_channels(celery), observe_pending=WAITER_PENDING.set)
    subscriber.bind(waiter.deliver, waiter.recover)
    stack.push_async_callback(waiter.close)
    served = Catalog(
        backend,
        default=settings.default_model_name,
        stale_after_s=settings.worker_stale_s,
        aliases=AliasSources(inline=settings.aliases, path=settings.aliases_file),
    )
    depth = QueueDepth(settings.broker_url, timeout=1.0)
    stack.push_async_callback(depth.close)
    lanes = LaneAdmission(
        depth.read,
        queues=lane_queues(settings),
        max_depth=settings.max_queue_depth,
        ttl_s=settings.queue_depth_ttl_ms / 1000,
        clock=time.monotonic,
    )
    predlog = None
    if settings.prediction_log:
        predlog = StreamLog.from_settings(settings, backend, on_dropped=PREDICTION_LOG_DROPPED.inc)
        # Pushed before the predictor: closed after it, so the last answers' rows are sent.
        stack.push_async_callback(predlog.close)
    predictor = Predictor(settings, celery, waiter, served, cache, lanes, predlog)
    stack.push_async_callback(predictor.close)
    limit = settings.rate_limit(keys_on=KeyRing.from_settings(settings).enabled)
    log_db = None
    if settings.prediction_log:
        # Read by /v1/analytics and the drift gauge; the writer process owns the inserts.
        log_db = engine_for(settings.database_url)
        stack.callback(log_db.dispose)
    return Resources(
        settings=settings,
        celery=celery,
        backend=backend,
        models=served,
        predictor=predictor,
        probe=ScrapeProbe(waiter, served, depth),
        jobs=JobService(settings, celery, backend, served, lanes),
        broker=depth,
        # Kept in the cache Redis: losing counters to eviction only loosens a limit.
        limiter=None if limit is None else RateLimiter(cache, per_s=limit[0], burst=limit[1]),
        log_db=log_db,
        drift=None if log_db is None else DriftGauge(log_db, clock=time.monotonic),
    )


def _result_channels(celery: Celery) -> Callable[[str], str]:
    """The pub/sub channel on which the result backend announces a task's result."""
    backend: Any = celery.backend  # the stubs miss get_key_for_task

    def channel_for(task_id: str) -> str:
        key: bytes | str = backend.get_key_for_task(task_id)
        return key.decode() if isinstance(key, bytes) else key

    return channel_for
