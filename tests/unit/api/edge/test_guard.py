"""The gate around a tiny ASGI app: keys, open paths and the in-flight cap, no Redis."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from spectrum.api.edge.admission import InFlight
from spectrum.api.edge.guard import Gate, GateMiddleware
from spectrum.api.edge.keys import KeyRing, digest
from spectrum.api.predict.predictor import _outcome
from spectrum.api.predict.waiter import ResultDocument
from spectrum.shared.errors import InferenceFailed

KEY = "k-one"


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def client(gate: Gate, app=ok) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=GateMiddleware(app, gate=gate))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_keys_guard_v1_and_leave_probes_and_the_page_open() -> None:
    gate = Gate(KeyRing([digest(KEY)]), InFlight(10), metrics_public=False)
    async with client(gate) as c:
        refused = await c.post("/v1/predict")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert (await c.get("/metrics")).status_code == 401
        assert (await c.post("/v1/predict", headers={"X-API-Key": KEY})).status_code == 200
        assert (
            await c.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"})
        ).status_code == 200
        for path in ("/healthz", "/readyz", "/", "/static/app.css", "/v1/ui-config"):
            assert (await c.get(path)).status_code == 200, path


async def test_keys_off_lets_everything_through() -> None:
    gate = Gate(KeyRing([]), InFlight(10), metrics_public=True)
    async with client(gate) as c:
        assert (await c.post("/v1/predict")).status_code == 200


async def test_the_in_flight_cap_sheds_with_retry_after_and_frees_places() -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        entered.set()
        await release.wait()
        await ok(scope, receive, send)

    gate = Gate(KeyRing([]), InFlight(1), metrics_public=True)
    async with client(gate, slow) as c:
        held = asyncio.create_task(c.post("/v1/predict"))
        await entered.wait()
        shed = await c.post("/v1/predict")
        assert shed.status_code == 503
        assert shed.json()["error"] == "Overloaded"
        assert shed.headers["retry-after"] == "1"
        release.set()
        assert (await held).status_code == 200
        assert gate.in_flight.current == 0


def test_a_poison_message_failure_reads_as_inference_failed() -> None:
    document = ResultDocument(
        status="FAILURE",
        result={"exc_type": "PoisonMessage", "exc_message": ["delivered 4 times"]},
    )
    with pytest.raises(InferenceFailed, match=r"dropped.*delivered 4 times"):
        _outcome(document)
