"""The bodies of POST /v1/predict."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from spectrum.api.models.schemas import ModelField, ModelName, ServedModel


class PredictRequest(BaseModel):
    """Either one `text` or a list of `texts`; limits are checked against the settings."""

    model_config = ConfigDict(
        extra="forbid",
        protected_namespaces=(),
        json_schema_extra={"examples": [{"text": "What a wonderful film."}]},
    )

    text: StrictStr | None = Field(default=None, description="One text to classify.")
    texts: list[StrictStr] | None = Field(
        default=None, description="Several texts to classify, answered in the same order."
    )
    model: ModelField = None

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
    model: ServedModel | None = Field(
        default=None, description="The model and version that produced this prediction."
    )


class PredictResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: ServedModel = Field(description="The model of the first prediction.")
    alias: str | None = Field(default=None, description="The alias the request named, if any.")
    predictions: list[Prediction]


class CompareRequest(BaseModel):
    """The same texts through 2 to 4 models or aliases."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"text": "What a wonderful film.", "models": ["sentiment-minilm", "b"]}]
        },
    )

    text: StrictStr | None = Field(default=None, description="One text to compare on.")
    texts: list[StrictStr] | None = Field(default=None, description="Several texts.")
    models: list[ModelName] = Field(
        min_length=2, max_length=4, description="2 to 4 distinct model names or aliases."
    )

    @model_validator(mode="after")
    def _exactly_one_and_distinct(self) -> CompareRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of 'text' or 'texts'")
        if len(set(self.models)) != len(self.models):
            raise ValueError("'models' must name each model once")
        return self

    @property
    def items(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class CompareAnswer(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: ServedModel
    label: str
    score: float
    probabilities: dict[str, float]
    cached: bool


class CompareResult(BaseModel):
    index: int
    answers: list[CompareAnswer] = Field(description="One per model, in the request's order.")
    agree: bool | None = Field(
        description="All models gave the same label; null when their label sets differ."
    )


class CompareResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    models: list[ServedModel] = Field(
        description="Per requested model, the model and version of its first answer."
    )
    results: list[CompareResult]
    agreement: float | None = Field(
        description="Share of texts on which all models agreed; null when any label sets differ."
    )
