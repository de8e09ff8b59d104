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

from spectrum.api.app.factory import create_app
from spectrum.api.app.resources import Resources
from spectrum.api.models.catalog import CatalogView, ModelStatus, Route
from spectrum.api.models.schemas import ServedModel
from spectrum.api.predict.schemas import Prediction, PredictResponse
from spectrum.shared.config import Settings
from spectrum.shared.contracts import ModelCard
from spectrum.shared.errors import ModelNotFound, NoWorkerAvailable


class NotGiven:
    """A resource this test did not give: any use of it fails the test."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        raise AssertionError(f"the route used resources.{self._name}.{attribute}; give it")


def resources(settings: Settings, **given: Any) -> Resources:
    """Resources with the parts given; the others are NotGiven (the optional ones off)."""
    names = {field.name for field in dataclasses.fields(Resources)}
    assert given.keys() <= names, f"Resources has no {sorted(given.keys() - names)}"
    parts = {name: given.get(name, NotGiven(name)) for name in names}
    # Optional parts default to off: no limiter, no prediction log, no drift gauge.
    parts.update(
        settings=settings,
        limiter=given.get("limiter"),
        log_db=given.get("log_db"),
        drift=given.get("drift"),
    )
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
    """The catalog as the routes see it: one model (the default), its status, no aliases."""

    def __init__(self, card: ModelCard | None = CARD, live: int = 1) -> None:
        self.default = card.name if card else "m"
        cards = {card.name: card} if card else {}
        live_by_queue = {f"{self.default}.interactive": live, f"{self.default}.bulk": live}
        self.cached = CatalogView(self.default, cards, live_by_queue)

    async def view(self, *, fresh: bool = False) -> CatalogView:
        return self.cached

    async def status(self, name: str | None = None, *, fresh: bool = False) -> ModelStatus:
        return self.cached.status(name or self.default)

    async def require(
        self, name: str | None = None, *, fresh: bool = False, lane: str = "interactive"
    ) -> ModelStatus:
        status = self.cached.status(name or self.default)
        if status.card is None or status.live_workers == 0:
            raise NoWorkerAvailable(f"no worker is consuming queue '{self.default}.interactive'")
        return status


class FakePredictor:
    """Answers every text POSITIVE (0.75), or raises `error`; remembers what it was asked."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[tuple[list[str], str | None]] = []
        self.models: list[str | None] = []  # the "model" of each call

    async def route(self, model: str | None) -> Route:
        """The one model there is (CARD's); any other name is ModelNotFound."""
        name = model or CARD.name
        if name != CARD.name:
            raise ModelNotFound(f"no model or alias {name!r}; models: {CARD.name}; aliases: none")
        return Route(name)

    async def predict(
        self, texts: list[str], request_id: str | None, model: str | None = None
    ) -> PredictResponse:
        self.calls.append((list(texts), request_id))
        self.models.append(model)
        if self.error is not None:
            raise self.error
        probabilities = {"NEGATIVE": 0.25, "POSITIVE": 0.75}
        served = ServedModel(name=CARD.name, version=CARD.version)
        prediction = Prediction(
            label="POSITIVE", score=0.75, probabilities=probabilities, cached=False, model=served
        )
        return PredictResponse(model=served, predictions=[prediction] * len(texts))
