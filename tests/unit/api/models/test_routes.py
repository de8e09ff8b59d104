"""/v1/models, /v1/admin/aliases and /v1/compare in-process: the real catalog on a fake registry."""

from __future__ import annotations

import json
from typing import Any

from spectrum.api.edge.keys import new_key
from spectrum.api.models.alias_sources import AliasSources
from spectrum.api.models.catalog import Catalog
from spectrum.api.models.schemas import ServedModel
from spectrum.api.predict.compare_routes import compared
from spectrum.api.predict.schemas import Prediction
from spectrum.shared.config import Settings
from tests.unit.api.models.test_catalog import FakeBackend
from tests.unit.inprocess import resources, serve

KEY, HASHED = new_key()
CLIENT, CLIENT_HASHED = new_key()
KEYS_ON = Settings(
    log_json=True, api_key_hashes=f"{HASHED}:admin,{CLIENT_HASHED}", key_id_secret="s"
)
KEYS_OFF = Settings(log_json=True)
AUTH = {"Authorization": f"Bearer {KEY}"}
CANARY = {"pair": {"targets": {"m": 9, "v2": 1}, "shadow": {"model": "v2", "share": 0.5}}}


def registry(inline: str = "") -> tuple[FakeBackend, Catalog]:
    backend = FakeBackend(["m", "v2"], {"m.interactive": 1, "m.bulk": 1})
    models = Catalog(
        backend,  # type: ignore[arg-type]
        default="m",
        stale_after_s=3,
        aliases=AliasSources(inline=inline),
    )
    return backend, models


async def test_models_lists_every_announced_model_and_the_aliases_over_them() -> None:
    _, models = registry(json.dumps(CANARY))
    async with serve(resources(KEYS_OFF, models=models)) as client:
        answer = await client.get("/v1/models")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["default"] == "m"
    listed = {m["name"]: m for m in body["models"]}
    assert list(listed) == ["m", "v2"]
    assert listed["m"]["live_workers"] == listed["m"]["bulk_workers"] == 1
    assert listed["v2"]["live_workers"] == 0
    assert listed["v2"]["family"] == "v2"
    assert listed["v2"]["queue"] == "v2.interactive"
    assert listed["m"]["aliases"] == listed["v2"]["aliases"] == ["pair"]
    assert body["aliases"] == [
        {
            "name": "pair",
            "targets": [{"model": "m", "weight": 9}, {"model": "v2", "weight": 1}],
            "shadow": {"model": "v2", "share": 0.5},
        }
    ]


async def test_putting_aliases_needs_keys_on() -> None:
    backend, models = registry()
    given = resources(KEYS_OFF, models=models, backend=backend)
    async with serve(given) as client:
        answer = await client.put("/v1/admin/aliases", json=CANARY)

    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "Forbidden"
    assert backend.stored is None


async def test_put_aliases_stores_a_valid_set_and_refuses_a_bad_one_with_its_reason() -> None:
    backend, models = registry()
    given = resources(KEYS_ON, models=models, backend=backend)
    async with serve(given) as client:
        anonymous = await client.put("/v1/admin/aliases", json=CANARY)
        as_client = await client.put(
            "/v1/admin/aliases", json=CANARY, headers={"X-API-Key": CLIENT}
        )
        client_reads = await client.get("/v1/admin/aliases", headers={"X-API-Key": CLIENT})
        bad: list[Any] = []
        for document in (
            {"pair": {"targets": {"m": 0}}},
            {"m": {"targets": {"v2": 1}}},  # takes a model's name
            {"pair": {"targets": {"m": 1}, "shadow": {"model": "v2", "share": 2}}},
        ):
            bad.append(await client.put("/v1/admin/aliases", json=document, headers=AUTH))
        stored_before = backend.stored
        put = await client.put("/v1/admin/aliases", json=CANARY, headers=AUTH)
        shown = await client.get("/v1/admin/aliases", headers=AUTH)

    assert anonymous.status_code == 401
    assert as_client.status_code == client_reads.status_code == 403  # a client key is no admin
    assert as_client.json()["error"] == "Forbidden"
    assert [b.status_code for b in bad] == [422, 422, 422]
    assert "positive integer" in bad[0].json()["detail"]
    assert "a model has this name" in bad[1].json()["detail"]
    assert "(0, 1]" in bad[2].json()["detail"]
    assert stored_before is None
    assert put.status_code == 200, put.text
    assert put.json() == {"source": "admin", "aliases": CANARY}
    assert json.loads(backend.stored or "") == CANARY
    assert shown.json() == put.json()


def prediction(
    model: str, label: str, labels: tuple[str, ...] = ("NEGATIVE", "POSITIVE")
) -> Prediction:
    probabilities = {name: (0.9 if name == label else 0.1) for name in labels}
    return Prediction(
        label=label,
        score=0.9,
        probabilities=probabilities,
        cached=False,
        model=ServedModel(name=model, version="v1"),
    )


def test_compare_counts_agreement_per_text_and_overall() -> None:
    a = [prediction("a", "POSITIVE"), prediction("a", "NEGATIVE"), prediction("a", "POSITIVE")]
    b = [prediction("b", "POSITIVE"), prediction("b", "POSITIVE"), prediction("b", "POSITIVE")]
    answer = compared([a, b])
    assert [m.name for m in answer.models] == ["a", "b"]
    assert [r.agree for r in answer.results] == [True, False, True]
    assert answer.agreement == 2 / 3
    assert [x.model.name for x in answer.results[1].answers] == ["a", "b"]


def test_compare_has_no_agreement_between_different_label_sets() -> None:
    sentiment = [prediction("a", "POSITIVE")]
    emotion = [prediction("e", "joy", ("joy", "anger"))]
    answer = compared([sentiment, emotion])
    assert answer.results[0].agree is None
    assert answer.agreement is None
