"""The bodies of GET /v1/models and the model named in every answer."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr

# A request's "model": a model name or an alias; absent: SPECTRUM_DEFAULT_MODEL.
MAX_MODEL_CHARS = 128
ModelName = Annotated[StrictStr, Field(min_length=1, max_length=MAX_MODEL_CHARS)]
ModelField = Annotated[
    ModelName | None,
    Field(
        description="A model name or an alias (GET /v1/models lists them); "
        "absent: the default model."
    ),
]


class ServedModel(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    name: str
    version: str


class ModelInfo(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    name: str
    version: str | None
    labels: list[str]
    runtime: str | None
    source: str | None
    description: str
    metrics: dict[str, float] = Field(
        default_factory=dict, description="Accuracy per held-out test set, from the model card."
    )
    queue: str
    live_workers: int
    family: str = Field(default="", description="Groups the versions of one model.")
    bulk_queue: str = ""
    bulk_workers: int = 0
    aliases: list[str] = Field(default_factory=list, description="Aliases that route to it.")


class AliasTarget(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    weight: int


class ShadowInfo(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: str
    share: float


class AliasInfo(BaseModel):
    name: str
    targets: list[AliasTarget]
    shadow: ShadowInfo | None = None


class ModelList(BaseModel):
    default: str = ""
    models: list[ModelInfo]
    aliases: list[AliasInfo] = Field(default_factory=list)
