"""The page at `/` and the few settings it needs: a static client of the public API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from spectrum.api.app.resources import ResourcesDep
from spectrum.api.ui.schemas import UiConfig

STATIC_DIR = Path(__file__).resolve().parent / "static"

router = APIRouter(tags=["page"])

# Range requests are optional in HTTP (RFC 9110 14.2): a server may ignore them and
# send the whole file with 200. Starlette's FileResponse honours them, and answers a
# malformed or unsatisfiable Range with a text/plain 400 or 416 outside the error
# shape. The page's files are a few kilobytes: they are always sent whole.
RANGE_HEADERS = frozenset({b"range", b"if-range"})


def _without_ranges(scope: Scope) -> Scope:
    headers = [(name, value) for name, value in scope["headers"] if name not in RANGE_HEADERS]
    return {**scope, "headers": headers}


class WholeFile(FileResponse):
    """A file sent whole, whatever Range the request asks for."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(_without_ranges(scope), receive, send)


class WholeStaticFiles(StaticFiles):
    """The page's static files, each sent whole (see WholeFile)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(_without_ranges(scope), receive, send)


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    """Serve the page to try the model in a browser."""
    return WholeFile(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/v1/ui-config", response_model=UiConfig)
async def get_ui_config(resources: ResourcesDep) -> UiConfig:
    """Tell the page its limits and which dashboard links exist."""
    settings = resources.settings
    return UiConfig(
        docs_url="/docs",
        flower_url=settings.flower_url,
        grafana_url=settings.grafana_url,
        max_texts_per_request=settings.max_texts_per_request,
        max_text_chars=settings.max_text_chars,
    )
