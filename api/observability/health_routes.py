"""Probes: /healthz (the process is alive) and /readyz (it can serve predictions)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from spectrum.api.app.resources import Resources, ResourcesDep
from spectrum.api.observability.schemas import HealthBody, ReadinessBody
from spectrum.shared.errors import SpectrumError

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthBody)
async def healthz() -> HealthBody:
    """Answer while the process is alive."""
    return HealthBody(status="ok")


@router.get("/readyz", response_model=ReadinessBody, responses={503: {"model": ReadinessBody}})
async def readyz(resources: ResourcesDep) -> JSONResponse:
    """Answer 200 when broker, backend and a worker for the model are all available."""
    checks = await readiness(resources)
    ready = all(value == "ok" for value in checks.values())
    body = ReadinessBody(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def readiness(resources: Resources) -> dict[str, str]:
    """Each check of readiness (broker, backend, workers): `ok` or what is wrong.
    /readyz and the Open Inference Protocol's /v2/health/ready both answer from it."""
    checks = {
        "broker": await _check_broker(resources),
        "backend": await _check_backend(resources),
    }
    checks["workers"] = await _check_workers(resources) if checks["backend"] == "ok" else "unknown"
    return checks


async def _check_broker(resources: Resources) -> str:
    # A ping on the connection the gateway keeps for queue depths: a probe opens none.
    timeout = resources.settings.broker_timeout_s
    try:
        await asyncio.wait_for(resources.broker.ping(), timeout + 0.5)
    except TimeoutError:
        return f"unreachable: no answer within {timeout:g} s"
    except Exception as exc:  # kombu raises a different class per transport for one outage
        return f"unreachable: {type(exc).__name__}"
    return "ok"


async def _check_backend(resources: Resources) -> str:
    try:
        await resources.backend.ping()
    except Exception as exc:  # redis raises ConnectionError, TimeoutError or OSError
        return f"unreachable: {type(exc).__name__}"
    return "ok"


async def _check_workers(resources: Resources) -> str:
    try:
        await resources.models.require(fresh=True)
    except SpectrumError as exc:
        return exc.detail
    return "ok"
