"""What the workers serve, read from the registry they write (see shared/registry.py).

The catalog learns the models from the registry: every card in `spectrum:models`
is a model, with its live workers per lane counted from the heartbeats of its
queues (`<name>.interactive`, `<name>.bulk`). It also holds the live alias set
(api/models/alias_sources.py). One read (two Redis round trips: the cards and the
stored aliases, then the heartbeat counts) is reused for `refresh_s`; callers
that arrive while a read runs share it, so a burst costs one read. Requests read
the cached view: no Redis round trip per request.

Only good news is cached: a name the view does not know, or a model with no live
worker, is read again at once (fresh), so a worker started while the gateway runs
is served by its next request, without a restart. The default model
(SPECTRUM_DEFAULT_MODEL) is always known, announced or not: without a worker it
answers 503 NoWorkerAvailable, as a single-model gateway did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError

from spectrum.api.models.alias_sources import AliasSet, AliasSources
from spectrum.api.models.aliases import Alias
from spectrum.shared.contracts import ModelCard
from spectrum.shared.errors import (
    START_A_WORKER,
    BackendUnavailable,
    ModelNotFound,
    NoWorkerAvailable,
)
from spectrum.shared.registry import ALIASES_KEY, MODELS_KEY, model_queue, workers_key

log = structlog.get_logger(__name__)

Lane = Literal["interactive", "bulk"]
LANES: tuple[Lane, Lane] = ("interactive", "bulk")


@dataclass(frozen=True)
class ModelStatus:
    card: ModelCard | None
    live_workers: int  # on the interactive lane: those that answer /v1/predict
    bulk_workers: int = 0  # on the bulk lane: those that run job chunks

    def live(self, lane: Lane) -> int:
        return self.live_workers if lane == "interactive" else self.bulk_workers


@dataclass(frozen=True)
class Route:
    """What a request's `"model"` resolved to: one model, or an alias over several."""

    name: str  # as asked (or the default's name)
    alias: Alias | None = None

    @property
    def models(self) -> list[str]:
        return self.alias.models if self.alias is not None else [self.name]


@dataclass(frozen=True)
class CatalogView:
    """One read of the registry: cards by name, live workers by queue, the alias set."""

    default: str
    cards: dict[str, ModelCard] = field(default_factory=dict)
    live: dict[str, int] = field(default_factory=dict)  # queue -> workers with a fresh beat
    alias_set: AliasSet = field(default_factory=AliasSet)
    # Answers already worked out from this view (it never changes): requests reuse them.
    _statuses: dict[str, ModelStatus] = field(default_factory=dict, compare=False, repr=False)
    _routes: dict[str | None, Route | None] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def aliases(self) -> dict[str, Alias]:
        """The configured aliases, and the names models declare in their cards: a
        declared name routes to its model alone, unless a configured alias or a model
        has that name."""
        declared = {
            name: Alias(name, ((card.name, 1),))
            for card in self.cards.values()
            for name in card.aliases
            if name not in self.cards
        }
        return {**declared, **self.alias_set.aliases}

    @property
    def models(self) -> list[str]:
        """Every model name known: the default first (unless it is an alias), then by name."""
        names = sorted(self.cards)
        if self.default not in self.aliases and self.default not in self.cards:
            names.insert(0, self.default)
        elif self.default in self.cards:
            names.remove(self.default)
            names.insert(0, self.default)
        return names

    def status(self, name: str) -> ModelStatus:
        status = self._statuses.get(name)
        if status is None:
            status = ModelStatus(
                card=self.cards.get(name),
                live_workers=self.live.get(model_queue(name, "interactive"), 0),
                bulk_workers=self.live.get(model_queue(name, "bulk"), 0),
            )
            if name in self.cards or name == self.default:  # bounded: known names only
                self._statuses[name] = status
        return status

    def route(self, requested: str | None) -> Route | None:
        """The route of a name (None: the default), or None when nothing has that name.

        A model name wins over an alias of the same name (aliases are checked not to
        take one, but a model may be announced after its name became an alias).
        """
        if requested in self._routes:
            return self._routes[requested]
        name = self.default if requested is None else requested
        route: Route | None = None
        if name in self.cards:
            route = Route(name)
        elif name in self.aliases:
            route = Route(name, self.aliases[name])
        elif name == self.default:
            route = Route(name)
        if route is not None:  # bounded: only names that resolve are kept
            self._routes[requested] = route
        return route


class Catalog:
    """The registry's models and the alias set, read at most once per `refresh_s`."""

    def __init__(
        self,
        backend: aioredis.Redis,
        *,
        default: str,
        stale_after_s: float,
        aliases: AliasSources | None = None,
        refresh_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._backend = backend
        self.default = default
        self._stale_after_s = stale_after_s
        self._aliases = aliases or AliasSources()
        self._refresh_s = refresh_s
        self._clock = clock
        self._view: CatalogView | None = None
        self._read_at = 0.0
        self._reading: asyncio.Task[CatalogView] | None = None

    @property
    def cached(self) -> CatalogView | None:
        """The last view read, however old (no I/O): for choices that must not wait."""
        return self._view

    def current(self) -> CatalogView | None:
        """The cached view while it is fresh (younger than `refresh_s`), else None; no I/O.

        The hot path asks this first, so a request pays no await for the catalog.
        """
        if self._view is not None and self._clock() - self._read_at < self._refresh_s:
            return self._view
        return None

    async def view(self, *, fresh: bool = False) -> CatalogView:
        now = self._clock()
        if fresh or self._view is None or now - self._read_at >= self._refresh_s:
            # One read at a time: requests arriving while it runs share its answer
            # (a read each would make every request in flight read the registry).
            if self._reading is None:
                self._reading = asyncio.create_task(self._refresh(now))
                self._reading.add_done_callback(_retrieve)
            # Shielded: a caller that goes away must not cancel the others' read.
            return await asyncio.shield(self._reading)
        return self._view

    async def _refresh(self, now: float) -> CatalogView:
        try:
            view = await self._read(now)
        finally:
            self._reading = None
        self._view, self._read_at = view, now
        return view

    async def resolve(self, requested: str | None) -> Route:
        """The route for a request's `"model"`, or ModelNotFound listing the names known."""
        view = self.current() or await self.view()
        route = view.route(requested)
        if route is None:  # perhaps announced since the last read
            view = await self.view(fresh=True)
            route = view.route(requested)
        if route is None:
            raise ModelNotFound(_not_found(requested or self.default, view))
        return route

    async def status(self, name: str | None = None, *, fresh: bool = False) -> ModelStatus:
        return (await self.view(fresh=fresh)).status(name or self.default)

    async def require(
        self, name: str | None = None, *, fresh: bool = False, lane: Lane = "interactive"
    ) -> ModelStatus:
        """The status of a model that a live worker serves on `lane`, or NoWorkerAvailable.

        `name` None: the default model (each target of the default alias, when it is one).
        """
        if name is None:
            route = await self.resolve(None)
            statuses = [await self.require(m, fresh=fresh, lane=lane) for m in route.models]
            return statuses[0]
        view = None if fresh else self.current()
        status = view.status(name) if view is not None else await self.status(name, fresh=fresh)
        if status.live(lane) == 0 and not fresh:
            # Only good news is cached: a worker that just started is seen at once.
            status = await self.status(name, fresh=True)
        if status.live(lane) == 0 or status.card is None:
            queue = model_queue(name, lane)
            raise NoWorkerAvailable(
                f"no worker is consuming queue {queue!r} for model {name!r}; {START_A_WORKER}"
            )
        return status

    async def _read(self, now: float) -> CatalogView:
        try:
            async with self._backend.pipeline(transaction=False) as pipe:
                pipe.hgetall(MODELS_KEY)
                pipe.get(ALIASES_KEY)
                raw_cards, stored = await pipe.execute()
            cards = _cards(raw_cards)
            names = sorted(set(cards) | {self.default})
            queues = [model_queue(name, lane) for name in names for lane in LANES]
            fresh_since = now - self._stale_after_s
            async with self._backend.pipeline(transaction=False) as pipe:
                for queue in queues:
                    pipe.zcount(workers_key(queue), fresh_since, "+inf")
                counts = await pipe.execute()
        except (aioredis.RedisError, OSError) as exc:
            raise BackendUnavailable(f"result backend unreachable: {type(exc).__name__}") from exc
        live = {queue: int(count) for queue, count in zip(queues, counts, strict=True)}
        alias_set = self._aliases.select(stored, cards)
        return CatalogView(self.default, cards, live, alias_set)


def _cards(raw: dict[bytes | str, bytes | str]) -> dict[str, ModelCard]:
    cards: dict[str, ModelCard] = {}
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else key
        try:
            cards[name] = ModelCard.model_validate_json(value)
        except ValidationError:
            log.warning("unreadable model card ignored", model=name)
    return cards


def _not_found(name: str, view: CatalogView) -> str:
    models = ", ".join(view.models) or "none"
    aliases = ", ".join(sorted(view.aliases)) or "none"
    shown = name if len(name) <= 64 else f"{name[:64]}..."
    return f"no model or alias {shown!r}; models: {models}; aliases: {aliases}"


def _retrieve(task: asyncio.Task[CatalogView]) -> None:
    """Mark a failed read's error as seen: its callers got it, or all went away."""
    if not task.cancelled():
        task.exception()
