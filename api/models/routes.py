"""GET /v1/models: what this gateway serves and who serves it."""

from __future__ import annotations

from fastapi import APIRouter

from api.app.resources import ResourcesDep
from api.edge.errors import documented
from api.models.schemas import ModelInfo, ModelList

router = APIRouter(prefix="/v1", tags=["models"])


# An answer as /docs shows it (a unit test checks that it parses as a ModelList).
EXAMPLE = {
    "models": [
        {
            "name": "sentiment-minilm",
            "version": "90611237ea62",
            "labels": ["NEGATIVE", "POSITIVE"],
            "runtime": "openvino-bf16-cpu",
            "source": "models/sentiment-minilm",
            "description": "MiniLM-L6 fine-tuned for review sentiment",
            "metrics": {"tweets": 0.959, "amazon": 0.936},
            "queue": "sentiment-minilm.interactive",
            "live_workers": 1,
        }
    ]
}


@router.get(
    "/models",
    response_model=ModelList,
    responses={
        200: {"content": {"application/json": {"example": EXAMPLE}}},
        **documented(401, 429, 503),
    },
)
async def list_models(resources: ResourcesDep) -> ModelList:
    """List the served model with its version, labels and live workers."""
    models = resources.models
    status = await models.status(fresh=True)
    card = status.card
    info = ModelInfo(
        name=models.name,
        version=card.version if card else None,
        labels=card.labels if card else [],
        runtime=card.runtime if card else None,
        source=card.source if card else None,
        description=card.description if card else "no worker has announced this model yet",
        metrics=card.metrics if card else {},
        queue=models.queue,
        live_workers=status.live_workers,
    )
    return ModelList(models=[info])
