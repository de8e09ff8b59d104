"""The page's files answer any Range header with the whole file, never a text/plain 400/416."""

from __future__ import annotations

import httpx
import pytest

from spectrum.api.app.factory import create_app
from spectrum.api.ui.routes import STATIC_DIR
from spectrum.shared.config import Settings

RANGES = ["bytes=abc", "bytes=5-2", "bytes=999999999-", "bytes=0-0,0-0,0-0", "items=0-1", ""]


@pytest.mark.parametrize("path", ["/", "/static/js/app.js"])
@pytest.mark.parametrize("value", RANGES)
async def test_a_range_header_gets_the_whole_file(path: str, value: str) -> None:
    # No lifespan runs under ASGITransport: these routes need no Redis.
    app = create_app(Settings(log_json=True))
    transport = httpx.ASGITransport(app=app)
    whole = (STATIC_DIR / ("index.html" if path == "/" else "js/app.js")).read_bytes()
    async with httpx.AsyncClient(transport=transport, base_url="http://spectrum") as client:
        response = await client.get(path, headers={"Range": value})

    assert response.status_code == 200, response.text[:200]
    assert response.content == whole
    assert "content-range" not in response.headers
