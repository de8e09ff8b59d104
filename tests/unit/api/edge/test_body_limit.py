"""The body limit around a tiny ASGI app that echoes how much body it read."""

from __future__ import annotations

import json

import httpx
from starlette.types import Receive, Scope, Send

from spectrum.api.edge.body_limit import BodyLimit, BodyLimits, Cap
from spectrum.api.observability.metrics import REGISTRY

LIMIT = 100
LIMITS = BodyLimits(Cap(LIMIT, "SPECTRUM_MAX_BODY_BYTES", "send less"))


async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def client() -> httpx.AsyncClient:
    app = BodyLimit(echo_length, limits=LIMITS)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_a_body_within_the_limit_passes() -> None:
    async with client() as c:
        answer = await c.post("/", content=b"x" * LIMIT)
    assert (answer.status_code, answer.text) == (200, str(LIMIT))


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    async with client() as c:
        answer = await c.post("/", content=b"x" * (LIMIT + 1))
    assert answer.status_code == 413
    assert json.loads(answer.text) == {
        "error": "PayloadTooLarge",
        "detail": f"the body is {LIMIT + 1} bytes, at most {LIMIT} (SPECTRUM_MAX_BODY_BYTES): "
        "send less",
        "request_id": None,  # no access log around this app to give one
    }
    assert answer.headers["connection"] == "close"


async def test_a_chunked_body_is_refused_once_it_crosses_the_limit() -> None:
    chunks_sent = 0

    async def chunks():  # type: ignore[no-untyped-def]
        nonlocal chunks_sent
        for _ in range(50):
            chunks_sent += 1
            yield b"y" * 40

    async with client() as c:
        answer = await c.post("/", content=chunks())
    assert answer.status_code == 413
    assert answer.json()["error"] == "PayloadTooLarge"
    assert answer.json()["detail"].startswith(f"the body is larger than {LIMIT} bytes")
    assert chunks_sent < 50  # the rest of the body was never asked for


async def test_get_requests_pass_untouched() -> None:
    async with client() as c:
        answer = await c.get("/")
    assert (answer.status_code, answer.text) == (200, "0")


async def test_a_broken_content_length_is_a_400() -> None:
    app = BodyLimit(echo_length, limits=LIMITS)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"x")]}
    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["error"] == "UnreadableBody"  # type: ignore[arg-type]


def rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("spectrum_requests_rejected_total", {"reason": reason}) or 0


async def test_a_path_with_its_own_cap_is_held_to_it_and_the_refusal_is_counted() -> None:
    limits = BodyLimits(
        LIMITS.default, {"/jobs": Cap(10, "SPECTRUM_JOB_MAX_UPLOAD_BYTES", "split")}
    )
    app = BodyLimit(echo_length, limits=limits)
    before = rejected("PayloadTooLarge")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.post("/", content=b"x" * 50)).status_code == 200
        refused = await c.post("/jobs", content=b"x" * 50)
    assert refused.status_code == 413
    assert "at most 10 (SPECTRUM_JOB_MAX_UPLOAD_BYTES): split" in refused.json()["detail"]
    assert rejected("PayloadTooLarge") == before + 1
