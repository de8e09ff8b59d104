"""Deadlines on the client's side of a request: its body must arrive, its answer be taken.

A client that sends a byte now and then, or stops reading a streamed answer, would
otherwise hold its in-flight slot (and its key's) for as long as it likes. A pure
ASGI middleware inside the gate, so the slot is freed the moment a deadline passes:

- the body: every `receive` of the request waits at most what is left of
  `body_timeout_s` from the request's start. Past it the client gets 408
  `RequestTimeout` with `Connection: close` (or, once an answer has started, nothing
  more) and the application sees the request end (a disconnect), reading no more.
- the answer: every `send` waits at most what is left of `response_timeout_s` from
  the first byte of the answer. Past it the answer is abandoned without its end, so
  the server closes the connection and the client sees a cut answer, never a
  complete-looking one.

The clock and the deadlines are parameters, so the unit tests need no real waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spectrum.api.edge.errors import send_error
from spectrum.shared.errors import RequestTimeout

log = structlog.get_logger(__name__)

Clock = Callable[[], float]


class TooSlowToRead(Exception):
    """The client did not take the answer before its deadline; the answer is abandoned."""


class Deadlines:
    def __init__(
        self,
        app: ASGIApp,
        *,
        body_timeout_s: float,
        response_timeout_s: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self.app = app
        self.body_timeout_s = body_timeout_s
        self.response_timeout_s = response_timeout_s
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_by = self.clock() + self.body_timeout_s
        answer_by: float | None = None
        body_done = False
        timed_out = False
        refused = False  # the 408 is sent: whatever the application answers is dropped
        started = False

        async def receive_in_time() -> Message:
            nonlocal body_done, timed_out, refused
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:  # after the body: only a disconnect can come, wait for it freely
                return await receive()
            try:
                # asyncio.timeout, not wait_for: no task of its own for every message, so
                # the request ends (and frees its in-flight slot) with its last send.
                async with asyncio.timeout(max(0.0, body_by - self.clock())):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                log.info("request body too slow", path=scope["path"], s=self.body_timeout_s)
                if not started:
                    refused = True
                    error = RequestTimeout(
                        f"the body did not arrive within {self.body_timeout_s:g} s "
                        "(SPECTRUM_BODY_TIMEOUT_S)"
                    )
                    # Connection: close, or the rest of the body would be read as the
                    # next request.
                    await send_error(error, scope, receive, send, {"Connection": "close"})
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def send_in_time(message: Message) -> None:
            nonlocal answer_by, started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
                answer_by = self.clock() + self.response_timeout_s
            assert answer_by is not None
            try:
                async with asyncio.timeout(max(0.0, answer_by - self.clock())):
                    await send(message)
            except TimeoutError:
                log.info("answer not taken in time", path=scope["path"], s=self.response_timeout_s)
                raise TooSlowToRead from None

        try:
            await self.app(scope, receive_in_time, send_in_time)
        except TooSlowToRead:
            return  # no end of the body: the server closes the connection
