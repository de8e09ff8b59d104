"""The gate every request passes first: API key, rate limit, in-flight cap.

A pure ASGI middleware, so a refused request costs no body read, no routing and
no validation. What is open without a key: the probes (/healthz, /readyz), the
page and its static files and settings (/, /static, /v1/ui-config: no data, and
the page must load to ask for a key), the API's own documentation, and /metrics
unless `SPECTRUM_METRICS_PUBLIC=false`. Everything else under /v1 needs a key
when keys are on, and is rate-limited and counted against the in-flight cap.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.edge.admission import InFlight
from api.edge.errors import error_response
from api.edge.keys import KeyRing, key_from_headers
from api.edge.ratelimit import Decision, RateLimiter
from api.observability import metrics
from shared.errors import Overloaded

OPEN_PATHS = frozenset(
    {
        "/",
        "/healthz",
        "/readyz",
        "/v1/ui-config",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
    }
)
OPEN_PREFIXES = ("/static/",)
# Work: keys, rate limits and the in-flight cap apply here.
GUARDED_PREFIXES = ("/v1/", "/_bench/")


class Gate:
    """What the middleware checks against; the limiter is attached in the lifespan."""

    def __init__(self, keys: KeyRing, in_flight: InFlight, *, metrics_public: bool) -> None:
        self.keys = keys
        self.in_flight = in_flight
        self.metrics_public = metrics_public
        self.limiter: RateLimiter | None = None

    def needs_key(self, path: str) -> bool:
        if not self.keys.enabled or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return False
        if path == metrics.METRICS_PATH:
            return not self.metrics_public
        return True


class GateMiddleware:
    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        gate, path = self.gate, scope["path"]
        caller: str | None = None
        if gate.needs_key(path):
            caller = gate.keys.identify(key_from_headers(dict(scope["headers"])))
            if caller is None:
                await self._unauthorized(scope, receive, send)
                return
        if path in OPEN_PATHS or not path.startswith(GUARDED_PREFIXES):
            await self.app(scope, receive, send)
            return

        decision: Decision | None = None
        if gate.limiter is not None:
            client = scope.get("client")
            who = f"key:{caller[:32]}" if caller else f"addr:{client[0] if client else 'unknown'}"
            decision = await gate.limiter.check(who)
            if decision is not None and not decision.allowed:
                metrics.REJECTED.labels(reason="RateLimited").inc()
                seconds = decision.retry_after_s
                response = error_response(
                    "RateLimited",
                    f"rate limit of {decision.limit} requests reached; retry in {seconds} s",
                    429,
                    retry_after_s=seconds,
                )
                response.raw_headers.extend(decision.headers())
                await response(scope, receive, send)
                return
        try:
            gate.in_flight.enter()
        except Overloaded as exc:
            metrics.REJECTED.labels(reason="Overloaded").inc()
            await error_response("Overloaded", exc.detail, 503)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, _with_headers(send, decision))
        finally:
            gate.in_flight.leave()

    async def _unauthorized(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics.REJECTED.labels(reason="Unauthorized").inc()
        response = error_response(
            "Unauthorized",
            "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            401,
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="spectrum"'
        await response(scope, receive, send)


def _with_headers(send: Send, decision: Decision | None) -> Send:
    if decision is None:
        return send

    async def send_with_limits(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *decision.headers()]
        await send(message)

    return send_with_limits
