"""POST /v1/predict: classify texts and wait for the answer."""

from __future__ import annotations

from fastapi import APIRouter

from spectrum.api.app.resources import ResourcesDep
from spectrum.api.edge.access_log import current_request_id
from spectrum.api.edge.errors import documented
from spectrum.api.predict.schemas import PredictRequest, PredictResponse

router = APIRouter(prefix="/v1", tags=["predict"])

ERRORS = documented(400, 401, 404, 413, 422, 429, 502, 503, 504)
# An answer as /docs shows it (a unit test checks that it parses as a PredictResponse).
EXAMPLE = {
    "model": {"name": "sentiment-minilm", "version": "fcb097adfb45"},
    "alias": None,
    "predictions": [
        {
            "label": "POSITIVE",
            "score": 0.9878,
            "probabilities": {"NEGATIVE": 0.0122, "POSITIVE": 0.9878},
            "cached": False,
            "truncated": False,
            "model": {"name": "sentiment-minilm", "version": "fcb097adfb45"},
        }
    ],
}


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={200: {"content": {"application/json": {"example": EXAMPLE}}}, **ERRORS},
)
async def predict(body: PredictRequest, resources: ResourcesDep) -> PredictResponse:
    """Classify one text or a list of texts with a model or alias; cached answers skip workers."""
    return await resources.predictor.predict(body.items, current_request_id(), body.model)
