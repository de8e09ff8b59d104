"""Refuse request bodies over a size limit with 413, without reading them first.

`BodyLimits.from_settings` is the one rule for how large a body may be: the
default cap (SPECTRUM_MAX_BODY_BYTES) and each route's own (a job upload:
SPECTRUM_JOB_MAX_UPLOAD_BYTES, larger or smaller). No route checks a size again.

A pure ASGI middleware: a declared Content-Length over the limit is refused
before a byte of the body is read; a body without one (chunked) is counted as
it streams past, and the moment it crosses the limit the client gets its 413
and the application sees the request end (a disconnect), so no more is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spectrum.api.edge.errors import send_error
from spectrum.shared.config import Settings
from spectrum.shared.errors import PayloadTooLarge, SpectrumError, UnreadableBody

METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
JOBS_PATH = "/v1/jobs"


@dataclass(frozen=True)
class Cap:
    """A body size limit, the setting that sets it and what a refused caller can do."""

    max_bytes: int
    setting: str
    advice: str

    def too_large(self, size: int | None) -> PayloadTooLarge:
        """The refusal of a body of `size` bytes (None: a chunked body that crossed the cap)."""
        if size is None:
            said = f"the body is larger than {self.max_bytes} bytes"
        else:
            said = f"the body is {size} bytes, at most {self.max_bytes}"
        return PayloadTooLarge(f"{said} ({self.setting}): {self.advice}")


@dataclass(frozen=True)
class BodyLimits:
    """`default` for every path but those in `per_path`, which have their own cap."""

    default: Cap
    per_path: Mapping[str, Cap] = field(default_factory=dict)

    def cap(self, path: str) -> Cap:
        return self.per_path.get(path, self.default)

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        """The gateway's caps: job uploads (files of many rows) have their own."""
        return cls(
            Cap(
                settings.max_body_bytes,
                "SPECTRUM_MAX_BODY_BYTES",
                "send fewer texts per request, or many as a job (POST /v1/jobs)",
            ),
            {
                JOBS_PATH: Cap(
                    settings.job_max_upload_bytes,
                    "SPECTRUM_JOB_MAX_UPLOAD_BYTES",
                    "split the texts over several jobs",
                )
            },
        )


class BodyLimit:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS_WITH_BODY:
            await self.app(scope, receive, send)
            return
        cap = self.limits.cap(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                error = UnreadableBody("Content-Length is not a number")
                await _refuse(error, scope, receive, send)
                return
            if length > cap.max_bytes:
                await _refuse(cap.too_large(length), scope, receive, send)
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
                if seen > cap.max_bytes:
                    refused = True
                    if not started:
                        await _refuse(cap.too_large(None), scope, receive, send)
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


async def _refuse(error: SpectrumError, scope: Scope, receive: Receive, send: Send) -> None:
    # The unread body must not be parsed as the next request on this connection.
    await send_error(error, scope, receive, send, {"Connection": "close"})
