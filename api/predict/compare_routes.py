"""POST /v1/compare: the same texts through two to four models, side by side."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter

from spectrum.api.app.resources import ResourcesDep
from spectrum.api.edge.access_log import current_request_id
from spectrum.api.edge.errors import documented
from spectrum.api.observability import metrics
from spectrum.api.predict.predictor import Predictor, predictions_of
from spectrum.api.predict.schemas import (
    CompareAnswer,
    CompareRequest,
    CompareResponse,
    CompareResult,
    Prediction,
)
from spectrum.shared.errors import SpectrumError
from spectrum.shared.text import request_texts

router = APIRouter(prefix="/v1", tags=["predict"])


@router.post(
    "/compare",
    response_model=CompareResponse,
    responses={**documented(400, 401, 404, 413, 422, 429, 502, 503, 504)},
)
async def compare(body: CompareRequest, resources: ResourcesDep) -> CompareResponse:
    """Classify the same texts with 2 to 4 models; answers side by side, with agreement."""
    per_model = await compare_models(resources.predictor, body.items, body.models)
    return compared(per_model)


async def compare_models(
    predictor: Predictor, texts: list[str], models: list[str]
) -> list[list[Prediction]]:
    """Each model's predictions of `texts` (in order), the models answering concurrently."""
    settings = predictor.settings
    deadline = asyncio.get_running_loop().time() + settings.request_timeout_s
    normalized = request_texts(texts, settings)
    routes = [await predictor.route(model) for model in models]
    request_id = current_request_id()

    started = time.perf_counter()

    async def one(index: int) -> list[Prediction]:
        route = routes[index]
        try:
            parts = await predictor.answer(route, normalized, deadline, request_id)
        except SpectrumError as exc:
            metrics.MODEL_ERRORS.labels(model=route.name, error=type(exc).__name__).inc()
            raise
        # Each model's own latency: the models answer concurrently, not one after another.
        elapsed = time.perf_counter() - started
        predictor.log_parts(parts, normalized, "compare", route.alias, request_id, elapsed)
        return predictions_of(normalized, parts)

    return list(await asyncio.gather(*(one(i) for i in range(len(routes)))))


def compared(per_model: list[list[Prediction]]) -> CompareResponse:
    """Side by side per text; agreement only where every model has the same label set."""
    results = []
    for index, row in enumerate(zip(*per_model, strict=True)):
        answers = [
            CompareAnswer(
                model=p.model,
                label=p.label,
                score=p.score,
                probabilities=p.probabilities,
                cached=p.cached,
            )
            for p in row
            if p.model is not None
        ]
        same_labels = len({frozenset(p.probabilities) for p in row}) == 1
        agree = len({p.label for p in row}) == 1 if same_labels else None
        results.append(CompareResult(index=index, answers=answers, agree=agree))
    verdicts = [r.agree for r in results]
    agreement = None
    if verdicts and all(v is not None for v in verdicts):
        agreement = sum(1 for v in verdicts if v) / len(verdicts)
    models = [preds[0].model for preds in per_model if preds and preds[0].model is not None]
    return CompareResponse(models=models, results=results, agreement=agreement)
