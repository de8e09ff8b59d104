"""GET /metrics: the gateway's Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from spectrum.api.app.resources import ResourcesDep
from spectrum.api.observability.metrics import CONTENT_TYPE, METRICS_PATH

router = APIRouter(tags=["metrics"])


@router.get(METRICS_PATH, response_class=Response, include_in_schema=False)
async def metrics(resources: ResourcesDep) -> Response:
    """Serve the gateway's metrics in Prometheus' text format."""
    if resources.drift is not None:
        await resources.drift.refresh()
    return Response(await resources.probe.render(), media_type=CONTENT_TYPE)
