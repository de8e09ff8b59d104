"""The server span of every request, continuing the caller's W3C trace context.

Added only when SPECTRUM_TRACING is on (api/app/factory.py): off, requests never
pass through it. Outermost of the middlewares, so refusals (401, 429, 413) are
traced too. The span is named by route template (`POST /v2/models/{model_name}/infer`),
never by raw path.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spectrum.shared import tracing


class Tracing:
    """Pure ASGI middleware: one server span per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        method = scope["method"]
        attributes = {"http.request.method": method, "url.path": scope["path"]}
        status, request_id = 500, b""

        async def send_with_status(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                request_id = dict(message.get("headers", [])).get(b"x-request-id", b"")
            await send(message)

        with tracing.server_span(method, headers, attributes) as span:
            try:
                await self.app(scope, receive, send_with_status)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if request_id:  # AccessLog's, inside this middleware
                    span.set_attribute("spectrum.request_id", request_id.decode("latin-1"))
