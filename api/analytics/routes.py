"""/v1/analytics: figures over the prediction log, and its export.

Every query runs in a thread of the analytics pool (the engine is synchronous): its
own few threads, never the default pool that publishing predictions uses, so the
event loop and the predictions go on while the database counts, however slow it is.
The gate (api/edge/guard.py) asks for an API key here whenever keys are on, as for
every /v1 route. With keys on, a client key's figures and export hold its own rows
only; an admin key's hold every key's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from spectrum.api.analytics import export, queries, schemas
from spectrum.api.analytics.figures import shares
from spectrum.api.analytics.pool import in_analytics_thread
from spectrum.api.analytics.window import Bucket, Window
from spectrum.api.app.resources import ResourcesDep
from spectrum.api.edge.errors import documented
from spectrum.api.edge.guard import current_caller
from spectrum.api.models.schemas import MAX_MODEL_CHARS
from spectrum.shared.errors import DatabaseUnavailable, PredictionLogOff

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1/analytics", tags=["analytics"])
ERRORS = documented(401, 404, 422, 429, 503)
T = TypeVar("T")

# A drift request without a reference: the week before the recent window.
DEFAULT_REFERENCE = timedelta(days=7)


async def log_engine(resources: ResourcesDep) -> Engine:
    if resources.log_db is None:
        raise PredictionLogOff(
            "the prediction log is off (SPECTRUM_PREDICTION_LOG=false): nothing to analyse"
        )
    return resources.log_db


EngineDep = Annotated[Engine, Depends(log_engine)]
Since = Annotated[
    datetime | None, Query(description="Window start (ISO 8601); default: until - 1 day.")
]
Until = Annotated[
    datetime | None, Query(description="Window end (ISO 8601, excluded); default: now.")
]
ModelQuery = Annotated[str | None, Query(max_length=MAX_MODEL_CHARS, description="One model only.")]
BucketQuery = Annotated[Bucket, Query(description="Bucket width; at most 1,500 buckets.")]


async def in_thread(call: Callable[..., T], *args: Any) -> T:
    """`call(*args)` in the analytics pool; a database that cannot answer is a 503."""
    try:
        return await in_analytics_thread(call, *args)
    except DBAPIError as exc:
        log.warning("prediction log unreadable", error=type(exc.orig).__name__)
        raise DatabaseUnavailable(
            f"the prediction log's database did not answer: {type(exc.orig).__name__} "
            "(a database that is down, or without its table yet: `make migrate`, or the "
            "writer at its start, creates it)"
        ) from exc


def now() -> datetime:
    return datetime.now(UTC)


def own_rows() -> str | None:
    """The key id whose rows the caller may read; None: every key's (an admin key, or
    keys off)."""
    caller = current_caller()
    return None if caller is None or caller.admin else caller.key_id


@router.get("/volume", response_model=schemas.VolumeResponse, responses=ERRORS)
async def get_volume(
    engine: EngineDep,
    since: Since = None,
    until: Until = None,
    bucket: BucketQuery = "hour",
    model: ModelQuery = None,
) -> schemas.VolumeResponse:
    """Texts answered per model and version in time buckets: label shares and cache hits."""
    window = Window.of(since, until, now=now(), key_id=own_rows())
    window.check_buckets(bucket)
    found = await in_thread(queries.volume, engine, window, bucket, model)
    return schemas.VolumeResponse(
        since=window.since,
        until=window.until,
        bucket=bucket,
        series=[
            schemas.VolumeSeries(
                model=s.model,
                version=s.version,
                total=s.total,
                cached=s.cached,
                cache_hit_share=s.cached / s.total,
                labels=s.labels,
                shares=shares(s.labels),
                points=[
                    schemas.VolumePoint(
                        start=p.start, total=p.total, cached=p.cached, labels=p.labels
                    )
                    for _, p in sorted(s.points.items())
                ],
            )
            for s in found
        ],
    )


@router.get("/latency", response_model=schemas.LatencyResponse, responses=ERRORS)
async def get_latency(
    engine: EngineDep,
    since: Since = None,
    until: Until = None,
    bucket: BucketQuery = "hour",
    model: ModelQuery = None,
) -> schemas.LatencyResponse:
    """Latency percentiles (p50, p90, p99, max) per model and version in time buckets."""
    window = Window.of(since, until, now=now(), key_id=own_rows())
    window.check_buckets(bucket)
    found = await in_thread(queries.latency, engine, window, bucket, model)
    return schemas.LatencyResponse(
        since=window.since,
        until=window.until,
        bucket=bucket,
        method=f"exact nearest-rank over the window's rows (at most {queries.MAX_LATENCY_ROWS})",
        series=[
            schemas.LatencySeries(
                model=s.model,
                version=s.version,
                count=s.count,
                percentiles=s.percentiles,
                points=[
                    schemas.LatencyPoint(start=p.start, count=p.count, percentiles=p.percentiles)
                    for p in s.points
                ],
            )
            for s in found
        ],
    )


@router.get("/keys", response_model=schemas.KeysResponse, responses=ERRORS)
async def get_key_volume(
    engine: EngineDep, since: Since = None, until: Until = None, model: ModelQuery = None
) -> schemas.KeysResponse:
    """Texts answered per API key id, busiest first (a client key: its own only)."""
    window = Window.of(since, until, now=now(), key_id=own_rows())
    found = await in_thread(queries.key_volume, engine, window, model)
    return schemas.KeysResponse(
        since=window.since,
        until=window.until,
        keys=[schemas.KeyVolume(key_id=k.key_id, total=k.total, models=k.models) for k in found],
    )


@router.get("/agreement", response_model=schemas.AgreementResponse, responses=ERRORS)
async def get_agreement(
    engine: EngineDep,
    a: Annotated[str, Query(max_length=MAX_MODEL_CHARS, description="Model A.")],
    b: Annotated[str, Query(max_length=MAX_MODEL_CHARS, description="Model B (may be A).")],
    a_version: Annotated[str | None, Query(max_length=64)] = None,
    b_version: Annotated[str | None, Query(max_length=64)] = None,
    since: Since = None,
    until: Until = None,
) -> schemas.AgreementResponse:
    """How often two models (or versions) gave the same label to the same texts."""
    window = Window.of(since, until, now=now(), key_id=own_rows())
    found = await in_thread(
        queries.agreement, engine, window, queries.Side(a, a_version), queries.Side(b, b_version)
    )
    return schemas.AgreementResponse(
        since=window.since,
        until=window.until,
        a=a,
        b=b,
        texts=found.texts,
        agreed=found.agreed,
        agreement=found.agreed / found.texts if found.texts else None,
        versions=[
            schemas.VersionAgreement(
                a_version=p.a_version,
                b_version=p.b_version,
                texts=p.texts,
                agreed=p.agreed,
                agreement=p.agreed / p.texts if p.texts else None,
            )
            for p in found.pairs
        ],
        confusion=found.confusion,
    )


@router.get("/drift", response_model=schemas.DriftResponse, responses=ERRORS)
async def get_drift(
    engine: EngineDep,
    model: Annotated[str, Query(max_length=MAX_MODEL_CHARS)],
    version: Annotated[str | None, Query(max_length=64)] = None,
    since: Since = None,
    until: Until = None,
    reference_since: Annotated[
        datetime | None, Query(description="Default: since - 7 days.")
    ] = None,
    reference_until: Annotated[datetime | None, Query(description="Default: since.")] = None,
) -> schemas.DriftResponse:
    """Label shares and mean confidence of a recent window against a reference, with PSI."""
    recent = Window.of(since, until, now=now(), key_id=own_rows())
    reference = Window.of(
        reference_since,
        reference_until if reference_until is not None else recent.since,
        now=now(),
        default_span=DEFAULT_REFERENCE,
        name="reference_since",
        key_id=recent.key_id,
    )
    found = await in_thread(queries.drift, engine, model, version, reference, recent)
    return schemas.DriftResponse(
        model=model,
        version=version,
        reference=_distribution(reference, found.reference),
        recent=_distribution(recent, found.recent),
        psi=found.psi,
    )


def _distribution(window: Window, found: queries.Distribution) -> schemas.Distribution:
    return schemas.Distribution(
        since=window.since,
        until=window.until,
        total=found.total,
        labels=found.labels,
        shares=found.shares,
        mean_confidence=found.mean_confidence,
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        **ERRORS,
        200: {"content": {m: {} for m in export.MEDIA_TYPES.values()}, "description": "Rows."},
    },
)
async def export_log(
    engine: EngineDep,
    since: Since = None,
    until: Until = None,
    model: ModelQuery = None,
    format: export.ExportFormat = "csv",
) -> StreamingResponse:
    """The log's rows in the window, in id order, as CSV (with a header) or NDJSON."""
    window = Window.of(since, until, now=now(), key_id=own_rows())
    # The first page is read before the answer starts, so an unreachable database is a 503.
    first = await in_thread(export.read_page, engine, window, model, 0, export.PAGE_ROWS)

    async def body() -> AsyncIterator[bytes]:
        page = first
        yield export.header(format)
        while page:
            yield export.encode(page, format)
            if len(page) < export.PAGE_ROWS:
                return
            after = page[-1].id
            page = await in_thread(export.read_page, engine, window, model, after, export.PAGE_ROWS)

    name = f"prediction-log.{format}"
    return StreamingResponse(
        body(),
        media_type=export.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
