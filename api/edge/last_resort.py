"""The last resort: an exception no handler took becomes a JSON 500, logged once.

Starlette's own fallback (ServerErrorMiddleware, and `add_exception_handler(Exception)`,
which runs there) sits outside every user middleware: its plain-text 500 would
never reach the access log or the request metrics, and it re-raises, so uvicorn
logs the traceback a second time. This pure ASGI middleware sits inside those two
and CORS (so the 500 is logged and counted per route, and carries CORS headers)
and outside everything else; on the happy path it costs one try block.
"""

from __future__ import annotations

import structlog
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spectrum.api.edge.errors import send_error
from spectrum.api.observability import metrics
from spectrum.shared.errors import InternalError

log = structlog.get_logger("api.edge.errors")

DETAIL = "an unexpected error occurred; it is logged under this request_id"


class LastResort:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_see(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_and_see)
        except ClientDisconnect:
            # The client left, or the body limit cut the body off after its 413: no
            # one to answer and nothing wrong inside.
            return
        except Exception:
            route = getattr(scope.get("route"), "path", metrics.UNMATCHED)
            # Counted here, not by the error path: also when no answer can be sent.
            metrics.INTERNAL_ERRORS.labels(route=route).inc()
            # The request id is bound to the log context by the access log, outside.
            log.exception("unhandled error", route=route, response_started=started)
            if started:
                # Headers are out: a 500 can no longer be sent. Returning without the
                # body's end makes the server close the connection, so the client sees
                # a cut response, never a complete-looking one.
                return
            await send_error(InternalError(DETAIL), scope, receive, send)
