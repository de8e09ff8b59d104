"""What travels between the gateway and the workers: task names and JSON payloads."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from spectrum.shared.text import valid_texts

# Tasks are sent by name, so the gateway never imports worker code.
PREDICT_TASK = "spectrum.predict"
# One slice of an async job, on the model's bulk lane (worker/jobs.py).
JOB_CHUNK_TASK = "spectrum.job_chunk"
# POST a finished job's summary to its callback_url, on the bulk lane.
JOB_WEBHOOK_TASK = "spectrum.job_webhook"


class ModelCard(BaseModel):
    """What a worker says about the model it serves; the gateway reads it from Redis."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    name: str
    version: str
    labels: list[str]
    runtime: str
    source: str
    description: str = ""
    max_tokens: int | None = None
    # Accuracy per held-out test set, from the model card when the model has one.
    metrics: dict[str, float] = Field(default_factory=dict)
    # Groups the versions of one model in /v1/models; absent: the name.
    family: str | None = None
    # Other names the model answers to (its card's `aliases`), each as an alias with this
    # model as its one target, unless a configured alias or a model already has the name.
    aliases: list[str] = Field(default_factory=list)


class PredictPayload(BaseModel):
    """A batch of already-normalized texts for one model, gathered from one or more requests."""

    # The gateway sends only valid Unicode (shared/text.py); a payload that is not
    # fails validation here, a stored task failure, before it reaches an encoder.
    texts: Annotated[list[str], AfterValidator(valid_texts)] = Field(min_length=1)
    model: str
    request_ids: list[str] = Field(default_factory=list)  # for the logs; may be fewer than texts


def redacted_args(payload: dict[str, Any]) -> str:
    """What Celery's events, and so Flower, show as a predict task's args: never the texts."""
    texts = payload.get("texts", [])
    shown = {**payload, "texts": f"<{len(texts)} texts>"}
    return repr([shown])


class PredictOutcome(BaseModel):
    """Probabilities per text, in input order, each over `labels` in that order."""

    model: str
    version: str
    labels: list[str]
    probabilities: list[list[float]]
    # Positions of the texts the model saw only in part (longer than its token
    # window). Absent from older workers' results: none truncated.
    truncated: list[int] = Field(default_factory=list)


class JobChunkPayload(BaseModel):
    """Texts `start`..`start + len(texts) - 1` of one job, already normalized."""

    job_id: str
    chunk: int = Field(ge=0)
    start: int = Field(ge=0)
    texts: list[str] = Field(min_length=1)
    model: str
    # The submitting API key's id (the start of its digest, never the key) for the
    # prediction log; absent from older gateways' chunks and when keys are off.
    key_id: str | None = None


class JobWebhookPayload(BaseModel):
    job_id: str
