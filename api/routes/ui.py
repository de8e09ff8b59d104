"""The page at `/` and the few settings it needs: a static client of the public API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.deps import ResourcesDep
from api.schemas import UiConfig

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["page"])


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    """Serve the page to try the model in a browser."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/v1/ui-config", response_model=UiConfig)
async def ui_config(resources: ResourcesDep) -> UiConfig:
    """Tell the page its limits and which dashboard links exist."""
    settings = resources.settings
    return UiConfig(
        docs_url="/docs",
        flower_url=settings.flower_url,
        grafana_url=settings.grafana_url,
        max_texts_per_request=settings.max_texts_per_request,
        max_text_chars=settings.max_text_chars,
    )
