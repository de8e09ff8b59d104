"""The gateway: FastAPI app factory and the lifespan that owns its connections."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.app.openapi import install_openapi, operation_id
from api.app.resources import Resources
from api.edge.access_log import AccessLog
from api.edge.admission import InFlight, LaneAdmission, QueueDepth, lane_queues
from api.edge.body_limit import BodyLimit, BodyLimits
from api.edge.errors import install_error_handlers
from api.edge.guard import Gate, GateMiddleware
from api.edge.keys import KeyRing
from api.edge.last_resort import LastResort
from api.edge.ratelimit import RateLimiter
from api.jobs import routes as jobs
from api.jobs.service import JobService
from api.models import routes as models
from api.models.served import ServedModels
from api.observability import health_routes as health
from api.observability import metrics_routes as metrics
from api.observability.metrics import RequestMetrics, ScrapeProbe
from api.predict import bench_routes as bench
from api.predict import routes as predict
from api.predict.predictor import Predictor
from api.predict.waiter import RedisSubscriber, ResultWaiter
from api.ui import routes as ui
from shared.celery_app import create_celery
from shared.config import Settings, get_settings
from shared.logs import configure_logging

log = structlog.get_logger(__name__)


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
    return aioredis.Redis(connection_pool=pool)


class MissingApiKeys(RuntimeError):
    """Production without API keys: the gateway refuses to start."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings, "api")
    keys = KeyRing.from_settings(settings)
    if not keys.enabled:
        if settings.env == "production":
            raise MissingApiKeys(
                "SPECTRUM_ENV=production needs API keys: set SPECTRUM_API_KEY_HASHES "
                "(python -m api.edge.keys makes a key and its hash)"
            )
        log.warning("API keys are off: anyone who reaches this port can use the API")
    gate = Gate(keys, InFlight(settings.max_in_flight), metrics_public=settings.metrics_public)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        celery = create_celery(settings)
        # Short timeouts: a Redis outage must turn into a quick 503, not a hang.
        backend = redis_client(settings.result_backend_url, timeout=1.0)
        cache = redis_client(settings.cache_url, timeout=0.5)
        subscriber = RedisSubscriber(settings.result_backend_url, timeout=2.0)

        result_backend: Any = celery.backend  # the stubs miss get_key_for_task

        def channel_for(task_id: str) -> str:
            key: bytes | str = result_backend.get_key_for_task(task_id)
            return key.decode() if isinstance(key, bytes) else key

        waiter = ResultWaiter(subscriber, channel_for)
        subscriber.bind(waiter.deliver, waiter.recover)
        served = ServedModels(
            backend,
            name=settings.served_model_name,
            queue=settings.interactive_queue,
            bulk_queue=settings.bulk_queue,
            stale_after_s=settings.worker_stale_s,
        )
        depth = QueueDepth(settings.broker_url, lane_queues(settings), timeout=1.0)
        lanes = LaneAdmission(
            depth.read,
            max_depth=settings.max_queue_depth,
            ttl_s=settings.queue_depth_ttl_ms / 1000,
            clock=time.monotonic,
        )
        predictor = Predictor(settings, celery, waiter, served, cache, lanes)
        limit = settings.rate_limit(keys_on=keys.enabled)
        if limit is not None:
            # Kept in the cache Redis: losing counters to eviction only loosens a limit.
            gate.limiter = RateLimiter(cache, per_s=limit[0], burst=limit[1])
        app.state.resources = Resources(
            settings=settings,
            celery=celery,
            backend=backend,
            models=served,
            predictor=predictor,
            probe=ScrapeProbe(waiter, served, depth),
            jobs=JobService(settings, celery, backend, served, lanes),
        )
        log.info(
            "api ready",
            model=settings.served_model_name,
            queue=settings.interactive_queue,
            api_keys=len(keys),
            rate_limit=None if limit is None else f"{limit[0]:g}/s burst {limit[1]}",
        )
        try:
            yield
        finally:
            await predictor.batcher.close()
            await app.state.resources.probe.close()
            await waiter.close()
            await subscriber.close()
            await cache.aclose()
            await backend.aclose()
            celery.close()

    app = FastAPI(
        title="Spectrum",
        summary="Queue-backed text classification: every label's probability, fast.",
        version="0.1.0",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    install_openapi(app, keys_on=keys.enabled)
    app.include_router(predict.router)
    app.include_router(jobs.router)
    app.include_router(models.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(ui.router)
    app.mount("/static", ui.WholeStaticFiles(directory=ui.STATIC_DIR), name="static")
    if settings.bench_routes:
        app.include_router(bench.router)
    # Outermost last: AccessLog, RequestMetrics, CORS, LastResort, the gate, the body limit,
    # the app. LastResort sits inside the first three so that its JSON 500 is logged,
    # counted per route and carries CORS headers.
    # CORS sits outside the gate so that preflights and refusals carry its headers.
    app.add_middleware(BodyLimit, limits=BodyLimits.from_settings(settings))
    app.add_middleware(GateMiddleware, gate=gate)
    app.add_middleware(LastResort)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=[
                "Authorization",
                "X-API-Key",
                "Content-Type",
                "X-Request-ID",
                "Idempotency-Key",
            ],
            expose_headers=[
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "X-Request-ID",
            ],
        )
    app.add_middleware(RequestMetrics)
    app.add_middleware(AccessLog)
    return app
