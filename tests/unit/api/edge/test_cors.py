"""CORS preflights through the real middleware stack: a refusal is the JSON error body."""

from __future__ import annotations

import httpx

from spectrum.api.app.factory import create_app
from spectrum.shared.config import Settings

ORIGIN = "https://page.example"


async def preflight(origin: str, method: str) -> httpx.Response:
    app = create_app(Settings(cors_origins=ORIGIN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.options(
            "/v1/predict",
            headers={"Origin": origin, "Access-Control-Request-Method": method},
        )


async def test_an_allowed_preflight_is_answered_with_its_headers() -> None:
    answer = await preflight(ORIGIN, "POST")
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ORIGIN


async def test_a_refused_preflight_is_a_json_cors_refused() -> None:
    answer = await preflight("https://elsewhere.example", "PATCH")
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["error"] == "CorsRefused"
    assert body["detail"].startswith("Disallowed CORS origin, method")
    assert "access-control-allow-methods" in answer.headers  # Starlette's CORS headers kept
