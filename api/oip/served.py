"""Which model a /v2 path names, its metadata and its readiness, from the catalog.

A model name serves the one version its workers announce; `/versions/{v}` must name
that version. An alias lists the versions of its models; `/versions/{v}` on an alias
pins the request to its model with that version (the alias's weighted choice is
skipped), so a client can ask for one version through the alias's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from spectrum.api.app.resources import Resources
from spectrum.api.models.aliases import Alias
from spectrum.api.models.catalog import CatalogView
from spectrum.api.oip.schemas import ModelMetadata, TensorMetadata
from spectrum.shared.contracts import ModelCard
from spectrum.shared.errors import START_A_WORKER, ModelNotFound, NoWorkerAvailable


@dataclass(frozen=True)
class Served:
    """What a /v2 model path resolved to."""

    name: str  # as asked
    target: str  # what the predictor is asked: the name, or an alias's model pinned by version
    models: list[str]  # the models behind it
    view: CatalogView
    alias: Alias | None = None

    @property
    def cards(self) -> list[ModelCard]:
        return [card for m in self.models if (card := self.view.status(m).card) is not None]

    @property
    def labels(self) -> list[str]:
        """The columns of `probabilities`: the labels of its first announced model."""
        cards = self.cards
        if not cards:
            raise NoWorkerAvailable(
                f"no worker has announced {self.name!r} yet, so its labels are unknown; "
                f"{START_A_WORKER}"
            )
        return cards[0].labels

    def ready(self) -> bool:
        return all(
            self.view.status(m).card is not None and self.view.status(m).live_workers > 0
            for m in self.models
        )

    def metadata(self) -> ModelMetadata:
        labels = self.labels
        cards = self.cards
        parameters: dict[str, object] = {"labels": labels}
        if self.alias is not None and self.target == self.name:
            parameters["targets"] = [{"model": m, "weight": w} for m, w in self.alias.targets]
            platform = "alias"
        else:
            platform = cards[0].runtime
        return ModelMetadata(
            name=self.name,
            versions=sorted({card.version for card in cards}),
            platform=platform,
            inputs=[TensorMetadata(name="text", datatype="BYTES", shape=[-1])],
            outputs=[
                TensorMetadata(name="label", datatype="BYTES", shape=[-1]),
                TensorMetadata(name="probabilities", datatype="FP32", shape=[-1, len(labels)]),
            ],
            parameters=parameters,
        )


async def resolve(resources: Resources, name: str, version: str | None) -> Served:
    """The model or alias `name` (pinned to `version` if given); ModelNotFound if none."""
    route = await resources.predictor.route(name)
    view = await resources.models.view()  # the cached view while it is fresh
    alias = route.alias
    if alias is None:
        served = Served(name, name, [name], view)
        if version is not None:
            card = view.status(name).card
            if card is None or card.version != version:
                serving = f"it serves {card.version!r}" if card else "no worker announced it"
                raise ModelNotFound(f"model {name!r} has no version {version!r}; {serving}")
        return served
    if version is None:
        return Served(name, name, alias.models, view, alias)
    for model in alias.models:
        card = view.status(model).card
        if card is not None and card.version == version:
            return Served(name, model, [model], view, alias)
    known = sorted({c.version for m in alias.models if (c := view.status(m).card) is not None})
    raise ModelNotFound(
        f"alias {name!r} routes to no version {version!r}; its versions: "
        f"{', '.join(known) or 'none announced'}"
    )
