"""Typed shapes of what the API answers: TypedDicts, so every answer is still a plain dict.

`answer["predictions"][0]["label"]` works on any answer, and a type checker knows
the keys. They mirror the server's
pydantic models (api/*/schemas.py, shared/jobs.py) without depending on them:
the client installs with httpx alone. The server may add keys; nothing here
rejects them.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class ServedModel(TypedDict):
    name: str
    version: str


class Prediction(TypedDict):
    label: str
    score: float
    probabilities: dict[str, float]
    cached: bool
    truncated: NotRequired[bool]  # absent from servers older than the field
    model: NotRequired[ServedModel]  # the model that produced it (servers with many models)


class PredictAnswer(TypedDict):
    model: ServedModel  # the first prediction's model
    predictions: list[Prediction]
    alias: NotRequired[str | None]  # the alias the request named, if any


class ModelInfo(TypedDict):
    name: str
    version: str | None
    labels: list[str]
    runtime: str | None
    source: str | None
    description: str
    metrics: dict[str, float]
    queue: str
    live_workers: int
    # Absent from servers that serve one model:
    family: NotRequired[str]
    bulk_queue: NotRequired[str]
    bulk_workers: NotRequired[int]
    aliases: NotRequired[list[str]]  # the aliases that route to this model


class AliasTarget(TypedDict):
    model: str
    weight: float  # a share of the alias's traffic: weight / the sum of its targets' weights


class Shadow(TypedDict):
    model: str
    share: float  # of the alias's requests, also sent to `model` and only compared


class AliasInfo(TypedDict):
    name: str
    targets: list[AliasTarget]
    shadow: Shadow | None


class Catalog(TypedDict):
    """GET /v1/models as the client gives it: `default` is None and `aliases` empty when
    the server predates them (one model, no aliases)."""

    default: str | None
    models: list[ModelInfo]
    aliases: list[AliasInfo]


class CompareAnswerItem(TypedDict):
    model: ServedModel
    label: str
    score: float
    probabilities: dict[str, float]
    cached: bool


class CompareResult(TypedDict):
    index: int
    answers: list[CompareAnswerItem]  # one per model, in the order the request named them
    agree: bool | None  # None when the models' label sets differ


class CompareAnswer(TypedDict):
    """POST /v1/compare: the same texts through 2 to 4 models, answers side by side."""

    models: list[ServedModel]
    results: list[CompareResult]
    agreement: float | None  # share of texts all models agree on; None as for `agree`


class Health(TypedDict):
    """GET /readyz: `status` is "ready" or "not ready"; `checks` gives each check's reason."""

    status: str
    checks: dict[str, str]


class Progress(TypedDict):
    total: int
    done: int
    failed: int
    skipped: int
    cached: int
    chunks: int
    chunks_finished: int


class Webhook(TypedDict):
    url: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    delivered_at: float | None


class Result(TypedDict):
    """One text of a job, in input order: a prediction, or `error` when its chunk failed."""

    index: int
    label: NotRequired[str]
    score: NotRequired[float]
    probabilities: NotRequired[dict[str, float]]
    cached: NotRequired[bool]
    truncated: NotRequired[bool]
    error: NotRequired[str]


class JobCreated(TypedDict):
    id: str
    state: JobState
    status_url: str
    results_url: str


class Job(TypedDict):
    id: str
    state: JobState
    model: str
    labels: list[str]
    progress: Progress
    created_at: float
    started_at: float | None
    finished_at: float | None
    webhook: Webhook | None
    status_url: str
    results_url: str
    results: NotRequired[list[Result] | None]  # once ended, for small jobs only
