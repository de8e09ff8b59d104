"""The bodies of POST /v1/predict."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from api.models.schemas import ServedModel


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


class PredictResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model: ServedModel
    predictions: list[Prediction]
