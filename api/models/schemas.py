"""The bodies of GET /v1/models and the model named in every answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


class ModelList(BaseModel):
    models: list[ModelInfo]
