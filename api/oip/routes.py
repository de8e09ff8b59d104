"""Open Inference Protocol v2 (KServe V2) over REST: health, metadata and infer, beside /v1.

Every route answers errors as `{"error": "..."}` (api/edge/errors.py); infer goes
through the same predictor as POST /v1/predict (cache, batching, admission, the
prediction log), and the gate applies the same keys and limits to /v2/models.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from spectrum.api.app.resources import ResourcesDep
from spectrum.api.edge.access_log import current_request_id
from spectrum.api.observability.health_routes import readiness
from spectrum.api.oip import tensors
from spectrum.api.oip.schemas import (
    InferResponse,
    Live,
    ModelMetadata,
    ModelReady,
    OipError,
    Ready,
    ServerMetadata,
    oip_documented,
)
from spectrum.api.oip.served import resolve
from spectrum.shared import __version__, tracing
from spectrum.shared.errors import InferenceFailed

router = APIRouter(prefix="/v2", tags=["open inference protocol"])

# Extensions of the protocol this server speaks (Triton's names).
EXTENSIONS = ["binary_tensor_data"]
MODEL_ERRORS = oip_documented(401, 404, 429, 503)
INFER_ERRORS = oip_documented(400, 401, 404, 413, 429, 502, 503, 504)
INFER_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": tensors.InferRequest.model_json_schema()},
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary"},
                "description": "The binary tensor extension: JSON header, then tensor bytes.",
            },
        },
    }
}
INFER_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "model": InferResponse,
        "content": {
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary"},
            }
        },
        "description": "The outputs; binary ones follow the JSON header "
        "(Inference-Header-Content-Length says where it ends).",
    }
}


@router.get("", response_model=ServerMetadata)
async def server_metadata() -> ServerMetadata:
    """Name the server, its version and the protocol extensions it speaks."""
    return ServerMetadata(name="spectrum", version=__version__, extensions=EXTENSIONS)


@router.get("/health/live", response_model=Live)
async def server_live() -> Live:
    """Answer while the process is alive."""
    return Live(live=True)


@router.get("/health/ready", response_model=Ready, responses={400: {"model": OipError}})
async def server_ready(resources: ResourcesDep) -> JSONResponse:
    """Answer 200 when broker, backend and a worker for the default model are available."""
    checks = await readiness(resources)
    wrong = {name: value for name, value in checks.items() if value != "ok"}
    if wrong:
        detail = "; ".join(f"{name}: {value}" for name, value in wrong.items())
        return JSONResponse({"error": f"NotReady: {detail}"}, status_code=400)
    return JSONResponse({"ready": True})


@router.get("/models/{model_name}", response_model=ModelMetadata, responses=MODEL_ERRORS)
async def model_metadata(model_name: str, resources: ResourcesDep) -> ModelMetadata:
    """Describe a model or alias: its versions, input, outputs and label order."""
    return (await resolve(resources, model_name, None)).metadata()


@router.get(
    "/models/{model_name}/versions/{model_version}",
    response_model=ModelMetadata,
    responses=MODEL_ERRORS,
)
async def model_version_metadata(
    model_name: str, model_version: str, resources: ResourcesDep
) -> ModelMetadata:
    """Describe one version of a model, or the model of an alias with that version."""
    return (await resolve(resources, model_name, model_version)).metadata()


READY_ERRORS = {**MODEL_ERRORS, 400: {"model": OipError, "description": "Not ready."}}


@router.get("/models/{model_name}/ready", response_model=ModelReady, responses=READY_ERRORS)
async def model_ready(model_name: str, resources: ResourcesDep) -> JSONResponse:
    """Answer 200 when a live worker serves the model (every model of an alias), else 400."""
    return await _ready(resources, model_name, None)


@router.get(
    "/models/{model_name}/versions/{model_version}/ready",
    response_model=ModelReady,
    responses=READY_ERRORS,
)
async def model_version_ready(
    model_name: str, model_version: str, resources: ResourcesDep
) -> JSONResponse:
    """Answer 200 when a live worker serves this version, else 400."""
    return await _ready(resources, model_name, model_version)


async def _ready(resources: ResourcesDep, name: str, version: str | None) -> JSONResponse:
    served = await resolve(resources, name, version)
    if not served.ready():
        return JSONResponse(
            {"error": f"NotReady: no live worker serves every model of {name!r}"},
            status_code=400,
        )
    return JSONResponse({"name": name, "ready": True})


@router.post(
    "/models/{model_name}/infer",
    response_model=InferResponse,
    responses={**INFER_OK, **INFER_ERRORS},
    openapi_extra=INFER_BODY,
)
async def model_infer(model_name: str, request: Request, resources: ResourcesDep) -> Response:
    """Classify a BYTES tensor of texts: labels and every label's probability."""
    return await _infer(resources, request, model_name, None)


@router.post(
    "/models/{model_name}/versions/{model_version}/infer",
    response_model=InferResponse,
    responses={**INFER_OK, **INFER_ERRORS},
    openapi_extra=INFER_BODY,
)
async def model_version_infer(
    model_name: str, model_version: str, request: Request, resources: ResourcesDep
) -> Response:
    """Classify with one version of a model, or the model of an alias with that version."""
    return await _infer(resources, request, model_name, model_version)


async def _infer(
    resources: ResourcesDep, request: Request, name: str, version: str | None
) -> Response:
    body = await request.body()
    with tracing.span("decode"):
        call = tensors.parse_request(body, request.headers.get(tensors.HEADER_LENGTH))
        served = await resolve(resources, name, version)
        labels = served.labels
    answer = await resources.predictor.predict(call.texts, current_request_id(), served.target)
    try:
        rows = [[p.probabilities[label] for label in labels] for p in answer.predictions]
    except KeyError as exc:
        raise InferenceFailed(
            f"{name!r} answered a label outside its metadata's labels: {exc.args[0]!r}"
        ) from None
    versions = {p.model.version for p in answer.predictions if p.model is not None}
    content, header_length = tensors.encode_response(
        call,
        model_name=name,
        model_version=versions.pop() if len(versions) == 1 else None,
        labels=labels,
        predicted=[p.label for p in answer.predictions],
        probabilities=rows,
    )
    if header_length is None:
        return Response(content, media_type="application/json")
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(header_length)},
    )
