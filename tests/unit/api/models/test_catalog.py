"""The registry read behind every request: cached, read once however many wait, fresh for news."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from spectrum.api.models.alias_sources import AliasSources
from spectrum.api.models.catalog import Catalog
from spectrum.shared.contracts import ModelCard
from spectrum.shared.errors import BackendUnavailable, ModelNotFound, NoWorkerAvailable


def card(name: str) -> ModelCard:
    return ModelCard(name=name, version="v1", labels=["NEGATIVE", "POSITIVE"], runtime="lexicon",
                     source="test")  # fmt: skip


class FakeBackend:
    """Answers the catalog's two pipelines: HGETALL + GET, then a ZCOUNT per queue.

    `live` is the live workers per queue; each read waits for `gate` if set.
    """

    def __init__(self, cards: list[str], live: dict[str, int]) -> None:
        self.cards = {name: card(name).model_dump_json() for name in cards}
        self.live = live
        self.stored: str | None = None
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None
        self._calls: list[tuple[str, Any]] = []

    def pipeline(self, transaction: bool) -> FakeBackend:
        return self

    async def __aenter__(self) -> FakeBackend:
        self._calls = []
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def hgetall(self, key: str) -> None:
        self._calls.append(("hgetall", key))

    def get(self, key: str) -> None:
        self._calls.append(("get", key))

    async def set(self, key: str, value: str) -> None:
        self.stored = value  # what PUT /v1/admin/aliases writes

    def zcount(self, key: str, *_: Any) -> None:
        self._calls.append(("zcount", key.removeprefix("spectrum:workers:")))

    async def execute(self) -> list[Any]:
        if self._calls and self._calls[0][0] == "hgetall":
            self.reads += 1
            if self.gate is not None:
                await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        answers: list[Any] = []
        for kind, arg in self._calls:
            if kind == "hgetall":
                answers.append(dict(self.cards))
            elif kind == "get":
                answers.append(self.stored)
            else:
                answers.append(self.live.get(arg, 0))
        return answers


def catalog(backend: FakeBackend, clock: list[float], **kwargs: Any) -> Catalog:
    return Catalog(
        backend,  # type: ignore[arg-type]
        default="m",
        stale_after_s=3,
        refresh_s=1.0,
        clock=lambda: clock[0],
        **kwargs,
    )


def test_concurrent_requests_share_one_read_reused_for_a_second() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(["m"], {"m.interactive": 2}), [100.0]
        models = catalog(backend, clock)
        backend.gate = asyncio.Event()
        waiting = [asyncio.create_task(models.require("m")) for _ in range(32)]
        await asyncio.sleep(0)
        backend.gate.set()
        statuses = await asyncio.gather(*waiting)
        assert backend.reads == 1
        assert {s.live_workers for s in statuses} == {2}
        assert statuses[0].card == card("m")
        await models.require("m")
        await models.resolve(None)
        assert backend.reads == 1
        clock[0] += 1.0
        await models.require("m")
        assert backend.reads == 2

    asyncio.run(run())


def test_a_caller_that_leaves_does_not_cancel_the_others_read() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(["m"], {"m.interactive": 1}), [100.0]
        models = catalog(backend, clock)
        backend.gate = asyncio.Event()
        leaving = asyncio.create_task(models.status("m"))
        staying = asyncio.create_task(models.status("m"))
        await asyncio.sleep(0)
        leaving.cancel()
        await asyncio.sleep(0)
        backend.gate.set()
        assert (await staying).live_workers == 1
        assert backend.reads == 1

    asyncio.run(run())


def test_a_failed_read_reaches_every_caller_and_is_not_cached() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(["m"], {"m.interactive": 1}), [100.0]
        models = catalog(backend, clock)
        backend.fail = RedisConnectionError("down")
        results = await asyncio.gather(models.require(), models.require(), return_exceptions=True)
        assert all(isinstance(r, BackendUnavailable) for r in results)
        backend.fail = None
        assert (await models.require()).live_workers == 1

    asyncio.run(run())


def test_no_live_worker_is_never_cached() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(["m"], {}), [100.0]
        models = catalog(backend, clock)
        with pytest.raises(NoWorkerAvailable, match=r"'m\.interactive'"):
            await models.require("m")
        reads = backend.reads
        backend.live["m.interactive"] = 1  # a worker starts: seen at once, not after refresh_s
        assert (await models.require("m")).live_workers == 1
        assert backend.reads == reads + 1

    asyncio.run(run())


def test_each_lane_needs_its_own_live_worker() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(["m"], {"m.interactive": 1}), [100.0]
        models = catalog(backend, clock)
        assert (await models.require("m")).live_workers == 1
        with pytest.raises(NoWorkerAvailable, match=r"'m\.bulk'"):
            await models.require("m", lane="bulk")
        backend.live["m.bulk"] = 1
        assert (await models.require("m", lane="bulk")).bulk_workers == 1

    asyncio.run(run())


def test_a_model_announced_after_the_last_read_is_found_at_once() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(["m"], {"m.interactive": 1}), [100.0]
        models = catalog(backend, clock)
        assert (await models.resolve(None)).name == "m"
        backend.cards["new"] = card("new").model_dump_json()
        backend.live["new.interactive"] = 1
        route = await models.resolve("new")  # unknown to the cached view: read again
        assert (route.name, route.alias) == ("new", None)
        assert (await models.require("new")).card == card("new")
        assert backend.reads == 2

    asyncio.run(run())


def test_an_unknown_name_lists_the_models_and_aliases_known() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(["m", "other"], {}), [100.0]
        sources = AliasSources(inline=json.dumps({"pair": {"targets": {"m": 1, "other": 1}}}))
        models = catalog(backend, clock, aliases=sources)
        with pytest.raises(ModelNotFound) as caught:
            await models.resolve("nope")
        assert caught.value.detail == "no model or alias 'nope'; models: m, other; aliases: pair"

    asyncio.run(run())


def test_the_default_is_known_without_a_card_and_without_workers() -> None:
    async def run() -> None:
        backend, clock = FakeBackend([], {}), [100.0]
        models = catalog(backend, clock)
        assert (await models.resolve(None)).name == "m"
        assert (await models.view()).models == ["m"]
        with pytest.raises(NoWorkerAvailable):
            await models.require()

    asyncio.run(run())


def test_aliases_resolve_and_a_model_wins_over_an_alias_of_its_name() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(["m", "v2"], {}), [100.0]
        document = {"pair": {"targets": {"m": 9, "v2": 1}}, "late": {"targets": {"m": 1}}}
        models = catalog(backend, clock, aliases=AliasSources(inline=json.dumps(document)))
        route = await models.resolve("pair")
        assert route.alias is not None
        assert route.models == ["m", "v2"]
        backend.cards["late"] = card("late").model_dump_json()  # a model takes the name
        clock[0] += 1
        assert (await models.resolve("late")).alias is None

    asyncio.run(run())


def test_the_admin_set_stored_in_redis_is_read_with_the_refresh() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(["m"], {}), [100.0]
        models = catalog(backend, clock)
        assert (await models.view()).aliases == {}
        backend.stored = json.dumps({"live": {"targets": {"m": 1}}})
        clock[0] += 1
        view = await models.view()
        assert (view.alias_set.source, list(view.aliases)) == ("admin", ["live"])

    asyncio.run(run())


def test_a_name_declared_in_a_card_routes_to_its_model_unless_configured_otherwise() -> None:
    async def run() -> None:
        backend, clock = FakeBackend(["m", "m-int8"], {}), [100.0]
        declared = card("m-int8").model_copy(update={"aliases": ["fast", "m"]})
        backend.cards["m-int8"] = declared.model_dump_json()
        models = catalog(backend, clock)
        route = await models.resolve("fast")
        assert route.alias is not None
        assert route.models == ["m-int8"]
        assert (await models.resolve("m")).alias is None  # a model's own name wins
        document = {"fast": {"targets": {"m": 1}}}
        models = catalog(backend, clock, aliases=AliasSources(inline=json.dumps(document)))
        assert (await models.resolve("fast")).models == ["m"]  # the configured alias wins

    asyncio.run(run())
