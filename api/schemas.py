"""The HTTP contract: request and response bodies of the public API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator


class PredictRequest(BaseModel):
    """Either one `text` or a list of `texts`; limits are checked against the settings."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "What a wonderful film."}]},
    )

    text: StrictStr | None = Field(default=None, description="One text to classify.")
    texts: list[StrictStr] | None = Field(
        default=None, description="Several texts to classify, answered in the same order."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> PredictRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of 'text' or 'texts'")
        return self

    @property
    def items(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class Prediction(BaseModel):
    label: str = Field(description="The most probable label.")
    score: float = Field(description="Probability of that label.")
    probabilities: dict[str, float] = Field(description="Probability of every label.")
    cached: bool = Field(description="Answered from the cache, without a worker.")
    truncated: bool = Field(
        default=False,
        description="The text was longer than the model's token window: only its start was read.",
    )


class ServedModel(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    name: str
    version: str


class PredictResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: ServedModel
    predictions: list[Prediction]


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


class ErrorBody(BaseModel):
    error: str = Field(description="The error's class, e.g. InvalidInput or NoWorkerAvailable.")
    detail: str = Field(description="What went wrong, for a person.")


class HealthBody(BaseModel):
    status: str


class ReadinessBody(BaseModel):
    status: str
    checks: dict[str, str]


class UiConfig(BaseModel):
    """What the page at / needs beyond the public API: limits and dashboard links."""

    docs_url: str = Field(description="Interactive API documentation.")
    flower_url: str | None = Field(description="Flower (Celery workers), when configured.")
    grafana_url: str | None = Field(description="Grafana dashboards, when configured.")
    max_texts_per_request: int = Field(description="Most texts one /v1/predict may carry.")
    max_text_chars: int = Field(description="Most characters one text may have.")
