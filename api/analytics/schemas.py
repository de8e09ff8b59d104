"""The bodies of /v1/analytics/...: figures per model and version, in time buckets."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from spectrum.api.analytics.window import Bucket


class Answer(BaseModel):
    model_config = ConfigDict(protected_namespaces=())


class WindowBody(Answer):
    since: datetime = Field(description="Start of the window (UTC, included).")
    until: datetime = Field(description="End of the window (UTC, excluded).")


class VolumePoint(Answer):
    start: datetime = Field(description="Start of the bucket (UTC).")
    total: int = Field(description="Texts answered in the bucket.")
    cached: int = Field(description="Of them, answered from the prediction cache.")
    labels: dict[str, int] = Field(description="Texts per top label.")


class VolumeSeries(Answer):
    model: str
    version: str
    total: int
    cached: int
    cache_hit_share: float = Field(description="cached / total.")
    labels: dict[str, int]
    shares: dict[str, float] = Field(description="Each label's share of the total.")
    points: list[VolumePoint] = Field(description="Buckets with at least one text, in order.")


class VolumeResponse(WindowBody):
    bucket: Bucket
    series: list[VolumeSeries]


class LatencyPoint(Answer):
    start: datetime
    count: int
    percentiles: dict[str, float] = Field(description="p50, p90, p99 and max, in ms.")


class LatencySeries(Answer):
    model: str
    version: str
    count: int = Field(description="Rows with a latency in the window.")
    percentiles: dict[str, float] = Field(description="Over the whole window, in ms.")
    points: list[LatencyPoint]


class LatencyResponse(WindowBody):
    bucket: Bucket
    method: str = Field(description="How the percentiles are computed.")
    series: list[LatencySeries]


class KeyVolume(Answer):
    key_id: str | None = Field(description="The API key's id (null: keys off, or job rows).")
    total: int
    models: dict[str, int]


class KeysResponse(WindowBody):
    keys: list[KeyVolume] = Field(description="Busiest first, at most 100.")


class VersionAgreement(Answer):
    a_version: str
    b_version: str
    texts: int = Field(description="Distinct texts both answered.")
    agreed: int = Field(description="Of them, with the same top label.")
    agreement: float | None


class AgreementResponse(WindowBody):
    a: str
    b: str
    texts: int
    agreed: int
    agreement: float | None = Field(description="agreed / texts; null when no text is shared.")
    versions: list[VersionAgreement]
    confusion: dict[str, dict[str, int]] = Field(description="A's label -> B's label -> texts.")


class Distribution(WindowBody):
    total: int
    labels: dict[str, int]
    shares: dict[str, float]
    mean_confidence: float | None = Field(description="Mean probability of the top label.")


class DriftResponse(Answer):
    model: str
    version: str | None
    reference: Distribution
    recent: Distribution
    psi: float | None = Field(
        description="Population stability index of the recent label shares against the "
        "reference's; null when a window is empty. Above 0.2: a shift worth a look."
    )
