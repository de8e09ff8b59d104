"""POST /_bench/static: the bare-framework yardstick for the cached path (off by default).

The benchmark compares `POST /v1/predict` answered from the cache with this
route, served by the same process in the same run: same body parsing and
validation, same response model, no Redis and no batching. Mounted only when
`SPECTRUM_BENCH_ROUTES=true`; hidden from the OpenAPI schema.
"""

from __future__ import annotations

from fastapi import APIRouter

from spectrum.api.models.schemas import ServedModel
from spectrum.api.predict.schemas import Prediction, PredictRequest, PredictResponse

router = APIRouter(include_in_schema=False)

_ANSWER = PredictResponse(
    model=ServedModel(name="static", version="0"),
    predictions=[
        Prediction(
            label="POSITIVE",
            score=0.9,
            probabilities={"NEGATIVE": 0.1, "POSITIVE": 0.9},
            cached=True,
        )
    ],
)


@router.post("/_bench/static", response_model=PredictResponse)
async def static(body: PredictRequest) -> PredictResponse:
    """Answer a fixed prediction after validating the body like /v1/predict."""
    return _ANSWER
