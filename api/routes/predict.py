"""POST /v1/predict: classify texts and wait for the answer."""

from __future__ import annotations

from fastapi import APIRouter

from api.access_log import current_request_id
from api.deps import ResourcesDep
from api.schemas import ErrorBody, PredictRequest, PredictResponse

router = APIRouter(prefix="/v1", tags=["predict"])

ERRORS: dict[int | str, dict[str, object]] = {
    422: {"model": ErrorBody, "description": "The body breaks the contract or a limit."},
    502: {"model": ErrorBody, "description": "A worker took the task and failed it."},
    503: {"model": ErrorBody, "description": "No worker, broker or backend available."},
    504: {"model": ErrorBody, "description": "No result before the deadline."},
}


@router.post("/predict", response_model=PredictResponse, responses=ERRORS)
async def predict(body: PredictRequest, resources: ResourcesDep) -> PredictResponse:
    """Classify one text or a list of texts; cached answers skip the workers."""
    return await resources.predictor.predict(body.items, current_request_id())
