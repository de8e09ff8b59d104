"""The gateway: settings, routes and middlewares; a lifespan that holds its resources open."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import structlog
from fastapi import FastAPI

from spectrum.api.analytics import routes as analytics
from spectrum.api.app.openapi import install_openapi, operation_id
from spectrum.api.app.resources import Resources, open_resources
from spectrum.api.edge.access_log import AccessLog
from spectrum.api.edge.admission import InFlight, InFlightPerKey
from spectrum.api.edge.body_limit import BodyLimit, BodyLimits
from spectrum.api.edge.cors import Cors
from spectrum.api.edge.deadlines import Deadlines
from spectrum.api.edge.errors import install_error_handlers
from spectrum.api.edge.guard import Gate, GateMiddleware
from spectrum.api.edge.keys import KeyIds, KeyRing
from spectrum.api.edge.last_resort import LastResort
from spectrum.api.jobs import routes as jobs
from spectrum.api.models import admin_routes as admin
from spectrum.api.models import routes as models
from spectrum.api.observability import health_routes as health
from spectrum.api.observability import metrics_routes as metrics
from spectrum.api.observability.metrics import RequestMetrics
from spectrum.api.observability.tracing import Tracing
from spectrum.api.oip import routes as oip
from spectrum.api.predict import bench_routes as bench
from spectrum.api.predict import compare_routes as compare
from spectrum.api.predict import routes as predict
from spectrum.api.ui import routes as ui
from spectrum.shared import __version__, tracing
from spectrum.shared.config import Settings, get_settings
from spectrum.shared.logs import configure_logging

log = structlog.get_logger(__name__)


class MissingApiKeys(RuntimeError):
    """Production without API keys: the gateway refuses to start."""


OpenResources = Callable[[Settings, AsyncExitStack], Awaitable[Resources]]


def create_app(
    settings: Settings | None = None, *, open_resources: OpenResources = open_resources
) -> FastAPI:
    """The gateway; `open_resources` opens its resources into the lifespan's exit stack
    (tests pass one that returns fakes)."""
    settings = settings or get_settings()
    configure_logging(settings, "api")
    keys = _key_ring(settings)
    gate = Gate(
        keys,
        InFlight(settings.max_in_flight),
        per_key=InFlightPerKey(settings.max_in_flight_per_key),
        metrics_public=settings.metrics_public,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if settings.tracing and not tracing.on():  # a test may have turned it on already
                stack.callback(tracing.configure(settings, "spectrum-api"))
            resources = await open_resources(settings, stack)
            app.state.resources = resources
            limiter = gate.limiter = resources.limiter
            if keys.enabled:
                gate.key_ids = KeyIds.from_settings(settings, resources.backend)
            rate = None if limiter is None else f"{limiter.per_s:g}/s burst {limiter.burst}"
            log.info(
                "api ready",
                default_model=settings.default_model_name,
                api_keys=len(keys),
                rate_limit=rate,
            )
            yield

    app = FastAPI(
        title="Spectrum",
        summary="Queue-backed text classification: every label's probability, fast.",
        version=__version__,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    install_openapi(app, keys_on=keys.enabled)
    _add_routes(app, settings)
    _add_middlewares(app, settings, gate)
    return app


def _key_ring(settings: Settings) -> KeyRing:
    keys = KeyRing.from_settings(settings)
    if not keys.enabled:
        if settings.env == "production":
            raise MissingApiKeys(
                "SPECTRUM_ENV=production needs API keys: set SPECTRUM_API_KEY_HASHES "
                "(python -m spectrum.api.edge.keys makes a key and its hash)"
            )
        log.warning("API keys are off: anyone who reaches this port can use the API")
    return keys


def _add_routes(app: FastAPI, settings: Settings) -> None:
    app.include_router(predict.router)
    app.include_router(oip.router)
    app.include_router(jobs.router)
    app.include_router(models.router)
    app.include_router(compare.router)
    app.include_router(admin.router)
    app.include_router(analytics.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(ui.router)
    app.mount("/static", ui.WholeStaticFiles(directory=ui.STATIC_DIR), name="static")
    if settings.bench_routes:
        app.include_router(bench.router)


def _add_middlewares(app: FastAPI, settings: Settings, gate: Gate) -> None:
    # Outermost last: Tracing (when on), AccessLog, RequestMetrics, CORS, LastResort, the
    # gate, the deadlines, the body limit, the app. The deadlines sit inside the gate, so
    # that a request past one gives its in-flight slots back at once. LastResort sits
    # inside AccessLog, RequestMetrics and CORS so that its JSON 500 is logged, counted
    # per route and carries CORS headers.
    # CORS sits outside the gate so that preflights and refusals carry its headers.
    app.add_middleware(BodyLimit, limits=BodyLimits.from_settings(settings))
    app.add_middleware(
        Deadlines,
        body_timeout_s=settings.body_timeout_s,
        response_timeout_s=settings.response_timeout_s,
    )
    app.add_middleware(GateMiddleware, gate=gate)
    app.add_middleware(LastResort)
    if settings.cors_origin_list:
        app.add_middleware(
            Cors,
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
    if settings.tracing:  # off: requests never pass through it
        app.add_middleware(Tracing)
