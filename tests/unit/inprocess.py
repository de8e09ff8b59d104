"""The real gateway in-process, on the Resources a test gives it.

`serve` builds the app with `create_app` (every middleware, router and error handler
in place) and runs its lifespan, as uvicorn would (httpx's ASGITransport does not):
the test's resources are what the routes get, and the test's limiter is the gate's.
A part of Resources the test does not give fails the test as soon as a route uses it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx

from api.app.factory import create_app
from api.app.resources import Resources
from api.models.schemas import ServedModel
from api.models.served import ModelStatus
from api.predict.schemas import Prediction, PredictResponse
from shared.config import Settings
from shared.contracts import ModelCard
from shared.errors import NoWorkerAvailable


class NotGiven:
    """A resource this test did not give: any use of it fails the test."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        raise AssertionError(f"the route used resources.{self._name}.{attribute}; give it")


def resources(settings: Settings, **given: Any) -> Resources:
    """Resources with the parts given; the others are NotGiven (the limiter is off)."""
    names = {field.name for field in dataclasses.fields(Resources)}
    assert given.keys() <= names, f"Resources has no {sorted(given.keys() - names)}"
    parts = {name: given.get(name, NotGiven(name)) for name in names}
    parts.update(settings=settings, limiter=given.get("limiter"))
    return Resources(**parts)


@asynccontextmanager
async def serve(
    given: Resources, *, address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client, calling from `address`, of the real app whose lifespan opened `given`."""

    async def open_given(_settings: Settings, _stack: AsyncExitStack) -> Resources:
        return given

    app = create_app(given.settings, open_resources=open_given)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://spectrum") as client,
    ):
        yield client


CARD = ModelCard(
    name="m",
    version="v1",
    labels=["NEGATIVE", "POSITIVE"],
    runtime="lexicon",
    source="test",
    max_tokens=64,
)


class FakeModels:
    """ServedModels as the routes see it: a name, a queue and a status."""

    def __init__(self, card: ModelCard | None = CARD, live: int = 1) -> None:
        self.name = card.name if card else "m"
        self.queue = f"{self.name}.interactive"
        self.bulk_queue = f"{self.name}.bulk"
        self._status = ModelStatus(card=card, live_workers=live, bulk_workers=live)

    async def status(self, *, fresh: bool = False) -> ModelStatus:
        return self._status

    async def require(self, *, fresh: bool = False, lane: str = "interactive") -> ModelStatus:
        if self._status.card is None or self._status.live_workers == 0:
            raise NoWorkerAvailable(f"no worker is consuming queue {self.queue!r}")
        return self._status


class FakePredictor:
    """Answers every text POSITIVE (0.75), or raises `error`; remembers what it was asked."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[tuple[list[str], str | None]] = []

    async def predict(self, texts: list[str], request_id: str | None) -> PredictResponse:
        self.calls.append((list(texts), request_id))
        if self.error is not None:
            raise self.error
        probabilities = {"NEGATIVE": 0.25, "POSITIVE": 0.75}
        prediction = Prediction(
            label="POSITIVE", score=0.75, probabilities=probabilities, cached=False
        )
        return PredictResponse(
            model=ServedModel(name=CARD.name, version=CARD.version),
            predictions=[prediction] * len(texts),
        )
