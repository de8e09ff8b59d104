"""The body and answer deadlines around tiny ASGI apps, with a client that stalls."""

from __future__ import annotations

import asyncio
import json

from starlette.types import Message, Receive, Scope, Send

from spectrum.api.edge.deadlines import Deadlines

SCOPE: Scope = {"type": "http", "method": "POST", "path": "/v1/jobs", "headers": []}


class Client:
    """The server's side of one connection: what the client sends, what it is sent."""

    def __init__(self, body: list[bytes], *, stall_after: int, take: bool = True) -> None:
        self._body = body
        self._stall_after = stall_after  # messages given before the client goes quiet
        self._given = 0
        self._take = take  # False: a reader that never reads (every send blocks)
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self._given >= self._stall_after:
            await asyncio.Event().wait()  # never comes
        self._given += 1
        more = self._given < len(self._body)
        return {"type": "http.request", "body": self._body[self._given - 1], "more_body": more}

    async def send(self, message: Message) -> None:
        if not self._take and message["type"] == "http.response.body":
            await asyncio.Event().wait()  # the reader's buffer is full, forever
        self.sent.append(message)


async def reads_body(scope: Scope, receive: Receive, send: Send) -> None:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return  # as Starlette's request.stream() ends: ClientDisconnect, caught above
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def streams(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for _ in range(100):
        await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def test_a_body_that_stops_arriving_is_a_408_and_closes_the_connection() -> None:
    client = Client([b"{", b'"text": "a"}'], stall_after=1)
    app = Deadlines(reads_body, body_timeout_s=0.05, response_timeout_s=5)
    await asyncio.wait_for(app(SCOPE, client.receive, client.send), 5)

    start, body = client.sent
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    answer = json.loads(body["body"])
    assert answer["error"] == "RequestTimeout"
    assert "SPECTRUM_BODY_TIMEOUT_S" in answer["detail"]


async def test_a_body_in_time_is_answered() -> None:
    client = Client([b"ab", b"cd"], stall_after=2)
    app = Deadlines(reads_body, body_timeout_s=5, response_timeout_s=5)
    await asyncio.wait_for(app(SCOPE, client.receive, client.send), 5)
    assert [m.get("status") for m in client.sent] == [200, None]
    assert client.sent[1]["body"] == b"abcd"


async def test_an_answer_not_taken_in_time_is_cut_off_without_its_end() -> None:
    client = Client([b""], stall_after=1, take=False)
    app = Deadlines(streams, body_timeout_s=5, response_timeout_s=0.05)
    await asyncio.wait_for(app(SCOPE, client.receive, client.send), 5)  # returns: slot freed
    assert [m["type"] for m in client.sent] == ["http.response.start"]  # no body end


async def test_an_answer_taken_in_time_is_whole() -> None:
    client = Client([b""], stall_after=1)
    app = Deadlines(streams, body_timeout_s=5, response_timeout_s=5)
    await app(SCOPE, client.receive, client.send)
    assert len(client.sent) == 102
    assert client.sent[-1].get("more_body", False) is False
