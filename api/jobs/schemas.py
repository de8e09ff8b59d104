"""The HTTP contract of /v1/jobs: the JSON submission and what the job routes answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from spectrum.api.models.schemas import ModelField
from spectrum.shared.jobs import JobSummary


class JobRequest(BaseModel):
    """A job given as JSON; files go as text/csv, application/x-ndjson or multipart."""

    model_config = ConfigDict(
        extra="forbid",
        protected_namespaces=(),
        json_schema_extra={
            "examples": [{"texts": ["What a wonderful film.", "Dull and far too long."]}]
        },
    )

    texts: list[StrictStr] = Field(description="The texts to classify; results keep this order.")
    callback_url: StrictStr | None = Field(
        default=None, description="http(s) URL that gets the signed job summary when it ends."
    )
    model: ModelField = None


class JobCreated(BaseModel):
    id: str
    state: str
    status_url: str = Field(description="Poll this for state and progress.")
    results_url: str = Field(description="Stream the results from here (NDJSON or CSV).")


class JobView(JobSummary):
    """The job's record, and its results once it ended (small jobs only; see results_url)."""

    status_url: str
    results_url: str
    results: list[dict[str, Any]] | None = Field(
        default=None,
        description=(
            "Per text, in input order: index, label, score, probabilities, cached; or index "
            "and error for a text whose chunk failed. Present once the job ended and when it "
            "has at most SPECTRUM_JOB_INLINE_RESULTS_MAX texts."
        ),
    )
