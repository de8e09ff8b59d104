"""The gate every request passes first: API key, rate limit, in-flight cap.

A pure ASGI middleware, so a refused request costs no body read, no routing and
no validation. What is open without a key: the probes (/healthz, /readyz), the
page and its static files and settings (/, /static, /v1/ui-config: no data, and
the page must load to ask for a key), the API's own documentation, the Open Inference
Protocol's probes and server metadata (/v2, /v2/health/*), and /metrics unless
`SPECTRUM_METRICS_PUBLIC=false`. Everything else under /v1 and /v2 needs a key
when keys are on, and is rate-limited and counted against the in-flight caps: the
gateway's, and with keys on each key's own (SPECTRUM_MAX_IN_FLIGHT_PER_KEY), so that
one key cannot take every slot. `/v1/admin/` needs an admin key (403 otherwise).
The probes are answered outside every cap and limit.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spectrum.api.edge.admission import InFlight, InFlightPerKey
from spectrum.api.edge.errors import send_error
from spectrum.api.edge.keys import KeyIds, KeyRing, Role, key_from_headers
from spectrum.api.edge.ratelimit import Decision, RateLimiter
from spectrum.api.observability import metrics
from spectrum.shared.errors import (
    Forbidden,
    Overloaded,
    RateLimited,
    SpectrumError,
    Unauthorized,
)

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
        # The Open Inference Protocol's probes and server metadata (api/oip/).
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
    }
)
OPEN_PREFIXES = ("/static/",)
# Work: keys, rate limits and the in-flight cap apply here.
GUARDED_PREFIXES = ("/v1/", "/v2/", "/_bench/")
# Only an admin key passes here when keys are on.
ADMIN_PREFIX = "/v1/admin/"


@dataclass(frozen=True)
class Caller:
    """The key a request was let in with: its id (api/edge/keys.py) and its role."""

    key_id: str
    role: Role

    @property
    def admin(self) -> bool:
        return self.role == "admin"


# The key the current request was let in with (None: keys off or an open path); job
# ownership, analytics scopes and the prediction log read it, never the key.
_caller: ContextVar[Caller | None] = ContextVar("caller", default=None)


def current_caller() -> Caller | None:
    return _caller.get()


def current_key_id() -> str | None:
    caller = _caller.get()
    return None if caller is None else caller.key_id


class Gate:
    """What the middleware checks against; the limiter and key ids are attached in the
    lifespan (they need the Redis clients)."""

    def __init__(
        self,
        keys: KeyRing,
        in_flight: InFlight,
        *,
        metrics_public: bool,
        per_key: InFlightPerKey | None = None,
        key_ids: KeyIds | None = None,
    ) -> None:
        self.keys = keys
        self.in_flight = in_flight
        self.per_key = per_key
        self.metrics_public = metrics_public
        self.limiter: RateLimiter | None = None
        self.key_ids = key_ids

    def needs_key(self, path: str) -> bool:
        if not self.keys.enabled or not guarded(path):
            return False
        if path == metrics.METRICS_PATH:
            return not self.metrics_public
        return True


def guarded(path: str) -> bool:
    """Whether a request to `path` needs a key when keys are on (/metrics: by its setting)."""
    return path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES)


class GateMiddleware:
    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        gate, path = self.gate, scope["path"]
        caller: Caller | None = None
        if gate.needs_key(path):
            given = key_from_headers(dict(scope["headers"]))
            known = gate.keys.identify(given)
            if known is None:
                await send_error(_unauthorized(given), scope, receive, send, CHALLENGE)
                return
            assert gate.key_ids is not None, "the lifespan attaches the key ids"
            try:
                caller = Caller(await gate.key_ids.of(known.digest), known.role)
            except SpectrumError as exc:  # the key-id secret is unreadable
                await send_error(exc, scope, receive, send)
                return
            if path.startswith(ADMIN_PREFIX) and not caller.admin:
                forbidden = Forbidden(f"{path} needs an admin key; this key's role is client")
                await send_error(forbidden, scope, receive, send)
                return
        if path in OPEN_PATHS or not path.startswith(GUARDED_PREFIXES):
            await self.app(scope, receive, send)
            return

        decision: Decision | None = None
        if gate.limiter is not None:
            client = scope.get("client")
            addr = client[0] if client else "unknown"
            who = f"key:{caller.key_id}" if caller else f"addr:{addr}"
            decision = await gate.limiter.check(who)
            if decision is not None and not decision.allowed:
                seconds = decision.retry_after_s
                refusal = RateLimited(
                    f"rate limit of {decision.limit} requests reached; retry in {seconds} s",
                    retry_after_s=seconds,
                )
                limits = {name.decode(): value.decode() for name, value in decision.headers()}
                await send_error(refusal, scope, receive, send, limits)
                return
        per_key = gate.per_key if caller is not None else None
        try:
            if per_key is not None and caller is not None:
                per_key.enter(caller.key_id)
        except SpectrumError as exc:
            await send_error(exc, scope, receive, send)
            return
        try:
            gate.in_flight.enter()
        except Overloaded as exc:
            if per_key is not None and caller is not None:
                per_key.leave(caller.key_id)
            await send_error(exc, scope, receive, send)
            return
        token = _caller.set(caller)
        try:
            await self.app(scope, receive, _with_headers(send, decision))
        finally:
            _caller.reset(token)
            gate.in_flight.leave()
            if per_key is not None and caller is not None:
                per_key.leave(caller.key_id)


# The 401's challenge (RFC 9110 11.6.1): the scheme a client should answer with.
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="spectrum"'}
HOW_TO_SEND = "send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"


def _unauthorized(given: str | None) -> Unauthorized:
    if given is None:
        return Unauthorized(f"an API key is required: {HOW_TO_SEND}")
    return Unauthorized(
        f"this API key is not one the gateway knows: {HOW_TO_SEND} with a configured key "
        "(the operator adds its hash to SPECTRUM_API_KEY_HASHES)"
    )


def _with_headers(send: Send, decision: Decision | None) -> Send:
    if decision is None:
        return send

    async def send_with_limits(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *decision.headers()]
        await send(message)

    return send_with_limits
