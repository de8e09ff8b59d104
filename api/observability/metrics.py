"""The gateway's Prometheus metrics, served at GET /metrics.

Request counts and latency are labelled by route *template* (`/v1/jobs/{job_id}`),
never by raw path, so the number of series stays bounded; requests no route
matched share the label `unmatched`. Queue depth and live workers are read at
scrape time (`ScrapeProbe.refresh`), so they are as fresh as the scrape and cost
nothing between scrapes; results pending in the waiter are set as they change.

Several gateway processes (SPECTRUM_API_PROCESSES, api/__main__.py) write their
values into one directory (prometheus_client's multiprocess mode), and a scrape of
any of them reports all: counters and histograms summed over every process that
has run since the supervisor started, in-flight requests and pending results summed
over the live ones, queue depth and live workers as last read (the same for all).
The process_* metrics are absent then: they would describe only the process that
happened to answer.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spectrum.api.edge.admission import QueueDepth
from spectrum.api.models.catalog import LANES, Catalog
from spectrum.api.predict.waiter import ResultWaiter
from spectrum.shared.errors import (
    DeadlineExceeded,
    HTTPError,
    InferenceFailed,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PoisonMessage,
)
from spectrum.shared.registry import model_queue

log = structlog.get_logger(__name__)

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
CONTENT_TYPE = CONTENT_TYPE_LATEST
METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"

REQUESTS = Counter(
    "spectrum_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "spectrum_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route template.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "spectrum_http_requests_in_flight",
    "HTTP requests being served right now.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
CACHE_HITS = Counter(
    "spectrum_cache_hits",
    "Distinct texts of a request answered from the prediction cache.",
    registry=REGISTRY,
)
CACHE_MISSES = Counter(
    "spectrum_cache_misses",
    "Distinct texts of a request not in the cache (sent to a worker).",
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "spectrum_batch_size",
    "Texts in each task the gateway sends to the workers.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
    registry=REGISTRY,
)
REJECTED = Counter(
    "spectrum_requests_rejected",
    "Requests refused without an answer, by reason (the error's name).",
    ["reason"],
    registry=REGISTRY,
)
EXPIRED = Counter(
    "spectrum_requests_expired",
    "Requests whose deadline passed before their result arrived (answered 504).",
    registry=REGISTRY,
)
WAITER_PENDING = Gauge(
    "spectrum_waiter_pending_results",
    "Results the gateway is waiting for.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "spectrum_queue_depth",
    "Messages waiting in the broker queue of each model's lane (at scrape time).",
    ["queue", "model", "lane"],
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)
WORKERS_LIVE = Gauge(
    "spectrum_workers_live",
    "Workers with a fresh heartbeat on each model's lane (at scrape time).",
    ["model", "lane"],
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)
MODEL_PREDICTIONS = Counter(
    "spectrum_model_predictions",
    "Texts answered by POST /v1/predict, per model and version, cached or computed.",
    ["model", "version", "cached"],
    registry=REGISTRY,
)
MODEL_REQUEST_SECONDS = Histogram(
    "spectrum_model_request_duration_seconds",
    "Time to answer a predict request, per model that answered part of it.",
    ["model"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
MODEL_ERRORS = Counter(
    "spectrum_model_errors",
    "Predict, compare and job requests for a model (or alias) answered with an error, "
    "by the error's name; a name nothing has is counted as model `unknown`.",
    ["model", "error"],
    registry=REGISTRY,
)
ALIAS_ROUTED = Counter(
    "spectrum_alias_routed",
    "Texts an alias sent to each of its models.",
    ["alias", "model"],
    registry=REGISTRY,
)
SHADOW_COMPARED = Counter(
    "spectrum_shadow_compared",
    "Texts answered by an alias's model and also by its shadow candidate, by whether "
    "the two labels agreed; the candidate's answer is never returned.",
    ["alias", "primary", "candidate", "agree"],
    registry=REGISTRY,
)
SHADOW_SECONDS = Histogram(
    "spectrum_shadow_duration_seconds",
    "Time the shadow candidate took to answer a shadowed request's texts.",
    ["candidate"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
SHADOW_SKIPPED = Counter(
    "spectrum_shadow_skipped",
    "Requests not shadowed although picked: the candidate had no live worker "
    "(no_worker), too many shadow calls were in flight (busy), or the call failed "
    "(the error's name).",
    ["alias", "candidate", "reason"],
    registry=REGISTRY,
)
DRIFT_PSI = Gauge(
    "spectrum_drift_psi",
    "Population stability index of each model's label shares, last hour against the "
    "7 days before it (from the prediction log; refreshed at most once a minute).",
    ["model"],
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)
SCRAPE_ERRORS = Counter(
    "spectrum_metrics_probe_errors",
    "Scrape-time reads (broker queue depth, worker registry) that failed, by source.",
    ["source"],
    registry=REGISTRY,
)


INTERNAL_ERRORS = Counter(
    "spectrum_internal_errors",
    "Exceptions no handler took (answered 500 InternalError, logged with a traceback), "
    "by route template.",
    ["route"],
    registry=REGISTRY,
)

PREDICTION_LOG_DROPPED = Counter(
    "spectrum_prediction_log_send_dropped_rows",
    "Prediction log rows the gateway could not hand to the stream (Redis down, or its "
    "process buffer full); the answers themselves were not affected.",
    registry=REGISTRY,
)

RATE_LIMIT_ERRORS = Counter(
    "spectrum_rate_limiter_errors",
    "Rate-limit checks Redis could not answer; those requests were let through.",
    registry=REGISTRY,
)


# Reasons exported from the start (at 0), so a dashboard's rate() has a series to read.
for _reason in (
    "InvalidInput",
    "UnreadableBody",
    "NoWorkerAvailable",
    "BrokerUnavailable",
    "BackendUnavailable",
    "Unauthorized",
    "PayloadTooLarge",
    "RateLimited",
    "Overloaded",
):
    REJECTED.labels(reason=_reason)


@lru_cache(maxsize=4096)
def model_predictions(model: str, version: str, cached: bool) -> Counter:
    """The child counter of one (model, version, cached): looked up once, not per request
    (labels() takes a lock and builds its key every call). Labels are bounded: announced
    models and their versions."""
    return MODEL_PREDICTIONS.labels(model=model, version=version, cached=str(cached).lower())


@lru_cache(maxsize=1024)
def model_request_seconds(model: str) -> Histogram:
    """The latency histogram of one model, looked up once (see model_predictions)."""
    return MODEL_REQUEST_SECONDS.labels(model=model)


def record_cache(*, hits: int, misses: int) -> None:
    CACHE_HITS.inc(hits)
    CACHE_MISSES.inc(misses)


# Answered, but not a refusal of the request's work: a worker's failure, a bug (counted
# in INTERNAL_ERRORS, per route), a path or method no route has.
NOT_REFUSALS = (
    InferenceFailed,
    PoisonMessage,
    InternalError,
    NotFound,
    MethodNotAllowed,
    HTTPError,
)


def record_error(error: Exception) -> None:
    """Count an error answered to a client: expired (504) or rejected (everything else
    the gateway refuses: invalid input, no worker, broker or backend down, no key)."""
    if isinstance(error, DeadlineExceeded):
        EXPIRED.inc()
    elif not isinstance(error, NOT_REFUSALS):
        REJECTED.labels(reason=type(error).__name__).inc()


class RequestMetrics:
    """Pure ASGI middleware: in-flight gauge, count and latency by route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == METRICS_PATH:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_see(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_and_see)
        finally:
            IN_FLIGHT.dec()
            route = getattr(scope.get("route"), "path", UNMATCHED)
            method = scope["method"]
            REQUESTS.labels(route=route, method=method, status=str(status)).inc()
            REQUEST_SECONDS.labels(route=route, method=method).observe(
                time.perf_counter() - started
            )


def scrape_registry() -> CollectorRegistry:
    """What a scrape renders: this process's registry, or with several gateway processes
    a fresh one that reads every process's values from their shared directory."""
    # prometheus_client's own switch (api/__main__.py sets it for several processes).
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


class ScrapeProbe:
    """Reads what is only known at scrape time into the gauges, then renders them all."""

    def __init__(self, waiter: ResultWaiter, models: Catalog, depth: QueueDepth) -> None:
        self._waiter = waiter
        self._models = models
        self._depth = depth

    async def render(self) -> bytes:
        await self.refresh()
        return generate_latest(scrape_registry())

    async def refresh(self) -> None:
        WAITER_PENDING.set(self._waiter.pending)
        try:
            view = await self._models.view(fresh=True)
        except Exception as exc:  # BackendUnavailable, or redis' own errors
            SCRAPE_ERRORS.labels(source="registry").inc()
            log.warning("worker registry unreadable", error=type(exc).__name__)
            names = [self._models.default]
        else:
            names = view.models
            for name in names:
                status = view.status(name)
                for lane in LANES:
                    WORKERS_LIVE.labels(model=name, lane=lane).set(status.live(lane))
        lanes = {model_queue(name, lane): (name, lane) for name in names for lane in LANES}
        try:
            depths = await self._depth.read(list(lanes))
        except Exception as exc:  # any transport's outage: the scrape still answers
            QUEUE_DEPTH.clear()  # no depth rather than a stale one
            SCRAPE_ERRORS.labels(source="broker").inc()
            log.warning("queue depth unreadable", error=type(exc).__name__)
            return
        for queue, depth in depths.items():
            name, lane = lanes[queue]
            QUEUE_DEPTH.labels(queue=queue, model=name, lane=lane).set(depth)
