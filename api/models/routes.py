"""GET /v1/models: every announced model, its versions' workers, and the aliases over them."""

from __future__ import annotations

from fastapi import APIRouter

from spectrum.api.app.resources import ResourcesDep
from spectrum.api.edge.errors import documented
from spectrum.api.models.catalog import CatalogView
from spectrum.api.models.schemas import AliasInfo, AliasTarget, ModelInfo, ModelList, ShadowInfo
from spectrum.shared.registry import model_queue

router = APIRouter(prefix="/v1", tags=["models"])


# An answer as /docs shows it (a unit test checks that it parses as a ModelList).
EXAMPLE = {
    "default": "sentiment-minilm",
    "models": [
        {
            "name": "sentiment-minilm",
            "family": "sentiment-minilm",
            "version": "fcb097adfb45",
            "labels": ["NEGATIVE", "POSITIVE"],
            "runtime": "openvino-bf16-cpu",
            "source": "models/sentiment-minilm",
            "description": "MiniLM-L6 fine-tuned for review sentiment",
            "metrics": {"tweets": 0.965, "amazon": 0.927},
            "queue": "sentiment-minilm.interactive",
            "bulk_queue": "sentiment-minilm.bulk",
            "live_workers": 1,
            "bulk_workers": 1,
            "aliases": ["sentiment"],
        }
    ],
    "aliases": [
        {
            "name": "sentiment",
            "targets": [
                {"model": "sentiment-minilm", "weight": 90},
                {"model": "sentiment-minilm-v2", "weight": 10},
            ],
            "shadow": None,
        }
    ],
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
    """List every announced model with its version, labels, live workers and aliases."""
    return model_list(await resources.models.view(fresh=True))


def model_list(view: CatalogView) -> ModelList:
    routed: dict[str, list[str]] = {}
    for alias in view.aliases.values():
        for model in alias.models:
            routed.setdefault(model, []).append(alias.name)
    models = []
    for name in view.models:
        status = view.status(name)
        card = status.card
        models.append(
            ModelInfo(
                name=name,
                family=(card.family if card and card.family else name),
                version=card.version if card else None,
                labels=card.labels if card else [],
                runtime=card.runtime if card else None,
                source=card.source if card else None,
                description=card.description if card else "no worker has announced this model yet",
                metrics=card.metrics if card else {},
                queue=model_queue(name, "interactive"),
                bulk_queue=model_queue(name, "bulk"),
                live_workers=status.live_workers,
                bulk_workers=status.bulk_workers,
                aliases=routed.get(name, []),
            )
        )
    aliases = [
        AliasInfo(
            name=alias.name,
            targets=[AliasTarget(model=m, weight=w) for m, w in alias.targets],
            shadow=(
                ShadowInfo(model=alias.shadow.model, share=alias.shadow.share)
                if alias.shadow
                else None
            ),
        )
        for alias in view.aliases.values()
    ]
    return ModelList(default=view.default, models=models, aliases=aliases)
