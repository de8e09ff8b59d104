"""Refuse request bodies over a size limit with 413, without reading them first.

A pure ASGI middleware: a declared Content-Length over the limit is refused
before a byte of the body is read; a body without one (chunked) is counted as
it streams past, and the moment it crosses the limit the client gets its 413
and the application sees the request end (a disconnect), so no more is read.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.edge.errors import error_response
from api.observability import metrics

METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class BodyLimit:
    """`max_bytes` for every path but those in `per_path`, which have their own limit."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS_WITH_BODY:
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                await self._refuse(scope, receive, send, 400, "Content-Length is not a number")
                return
            if length > limit:
                await self._refuse(scope, receive, send, 413, _too_large(limit))
                return

        seen = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await self._refuse(scope, receive, send, 413, _too_large(limit))
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; whatever the app says after it is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, detail: str
    ) -> None:
        name = "PayloadTooLarge" if status == 413 else "InvalidInput"
        metrics.REJECTED.labels(reason=name).inc()
        response = error_response(name, detail, status)
        response.headers["Connection"] = "close"  # the unread body must not be parsed as a request
        await response(scope, receive, send)


def _too_large(limit: int) -> str:
    return f"the body is larger than {limit} bytes"
