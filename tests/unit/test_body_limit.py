"""The body limit around a tiny ASGI app that echoes how much body it read."""

from __future__ import annotations

import json

import httpx
from starlette.types import Receive, Scope, Send

from api.edge.body_limit import BodyLimit

LIMIT = 100


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
    app = BodyLimit(echo_length, max_bytes=LIMIT)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_a_body_within_the_limit_passes() -> None:
    async with client() as c:
        answer = await c.post("/", content=b"x" * LIMIT)
    assert (answer.status_code, answer.text) == (200, str(LIMIT))


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    async with client() as c:
        answer = await c.post("/", content=b"x" * (LIMIT + 1))
    assert answer.status_code == 413
    assert json.loads(answer.text)["error"] == "PayloadTooLarge"


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


async def test_get_requests_pass_untouched() -> None:
    async with client() as c:
        answer = await c.get("/")
    assert (answer.status_code, answer.text) == (200, "0")


async def test_a_broken_content_length_is_a_400() -> None:
    app = BodyLimit(echo_length, max_bytes=LIMIT)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"x")]}
    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 400
