"""The gate around a tiny ASGI app: keys, open paths and the in-flight cap, no Redis."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from spectrum.api.edge.admission import InFlight, InFlightPerKey
from spectrum.api.edge.guard import Caller, Gate, GateMiddleware, current_caller
from spectrum.api.edge.keys import KeyIds, KeyRing, digest
from spectrum.api.predict.predictor import _outcome
from spectrum.api.predict.waiter import ResultDocument
from spectrum.shared.errors import InferenceFailed

KEY = "k-one"
OTHER = "k-two"
ADMIN = "k-admin"


async def _secret() -> bytes:
    return b"test-secret"


def keyed_gate(*, in_flight: int = 10, per_key: int = 10, metrics_public: bool = False) -> Gate:
    ring = KeyRing([(digest(KEY), "client"), (digest(OTHER), "client"), (digest(ADMIN), "admin")])
    return Gate(
        ring,
        InFlight(in_flight),
        per_key=InFlightPerKey(per_key),
        key_ids=KeyIds(_secret),
        metrics_public=metrics_public,
    )


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def client(gate: Gate, app=ok) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=GateMiddleware(app, gate=gate))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_keys_guard_v1_and_leave_probes_and_the_page_open() -> None:
    gate = keyed_gate()
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


async def test_admin_routes_need_an_admin_key() -> None:
    async with client(keyed_gate()) as c:
        refused = await c.put("/v1/admin/aliases", headers={"X-API-Key": KEY})
        assert refused.status_code == 403
        assert refused.json()["error"] == "Forbidden"
        assert "admin key" in refused.json()["detail"]
        assert (await c.get("/v1/admin/aliases", headers={"X-API-Key": KEY})).status_code == 403
        allowed = await c.put("/v1/admin/aliases", headers={"X-API-Key": ADMIN})
        assert allowed.status_code == 200


async def test_the_route_sees_the_caller_by_key_id_and_role_never_the_key() -> None:
    seen: list[Caller | None] = []

    async def record(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(current_caller())
        await ok(scope, receive, send)

    async with client(keyed_gate(), record) as c:
        await c.get("/v1/models", headers={"X-API-Key": KEY})
        await c.get("/v1/models", headers={"X-API-Key": ADMIN})
    first, second = seen
    assert first is not None
    assert second is not None
    assert (first.role, second.role) == ("client", "admin")
    assert len(first.key_id) == 16
    assert first.key_id != second.key_id
    assert first.key_id not in digest(KEY)


async def test_one_key_at_its_in_flight_cap_leaves_room_for_the_others() -> None:
    release = asyncio.Event()
    entered: asyncio.Queue[None] = asyncio.Queue()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/v1/predict":
            entered.put_nowait(None)
            await release.wait()
        await ok(scope, receive, send)

    gate = keyed_gate(in_flight=4, per_key=2)
    async with client(gate, slow) as c:
        held = [
            asyncio.create_task(c.post("/v1/predict", headers={"X-API-Key": KEY})) for _ in range(2)
        ]
        for _ in held:
            await entered.get()
        busy = await c.post("/v1/predict", headers={"X-API-Key": KEY})
        assert busy.status_code == 429
        assert busy.json()["error"] == "KeyBusy"
        assert busy.headers["retry-after"] == "1"
        other = asyncio.create_task(c.post("/v1/predict", headers={"X-API-Key": OTHER}))
        await entered.get()
        # Probes are answered outside every cap.
        assert (await c.get("/readyz")).status_code == 200
        assert (await c.get("/healthz")).status_code == 200
        release.set()
        assert [(await t).status_code for t in (*held, other)] == [200, 200, 200]
    assert gate.in_flight.current == 0
    assert gate.per_key is not None
    assert gate.per_key.held("x") == 0


async def test_probes_are_answered_while_the_gateway_is_full() -> None:
    gate = Gate(KeyRing([]), InFlight(0), metrics_public=True)
    async with client(gate) as c:
        assert (await c.post("/v1/predict")).status_code == 503
        assert (await c.get("/readyz")).status_code == 200
        assert (await c.get("/healthz")).status_code == 200


def test_a_poison_message_failure_reads_as_inference_failed() -> None:
    document = ResultDocument(
        status="FAILURE",
        result={"exc_type": "PoisonMessage", "exc_message": ["delivered 4 times"]},
    )
    with pytest.raises(InferenceFailed, match=r"dropped.*delivered 4 times"):
        _outcome(document)
