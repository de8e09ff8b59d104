"""What GET /v1/ui-config tells the page."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UiConfig(BaseModel):
    """What the page at / needs beyond the public API: limits and dashboard links."""

    docs_url: str = Field(description="Interactive API documentation.")
    flower_url: str | None = Field(description="Flower (Celery workers), when configured.")
    grafana_url: str | None = Field(description="Grafana dashboards, when configured.")
    max_texts_per_request: int = Field(description="Most texts one /v1/predict may carry.")
    max_text_chars: int = Field(description="Most characters one text may have.")
