"""The page (/), its settings (/v1/ui-config) and /v1/models in-process, on fakes."""

from __future__ import annotations

from spectrum.api.edge.keys import new_key
from spectrum.api.ui.routes import STATIC_DIR
from spectrum.shared.config import Settings
from tests.unit.inprocess import CARD, FakeModels, resources, serve


async def test_the_page_is_served_whole_as_html() -> None:
    async with serve(resources(Settings(log_json=True))) as client:
        answer = await client.get("/")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.content == (STATIC_DIR / "index.html").read_bytes()


async def test_ui_config_tells_the_page_its_limits_and_links_even_with_keys_on() -> None:
    _, hashed = new_key()
    settings = Settings(
        log_json=True,
        api_key_hashes=hashed,
        key_id_secret="s",
        max_texts_per_request=16,
        max_text_chars=500,
        grafana_url="http://grafana.example/d/spectrum",
    )
    async with serve(resources(settings)) as client:
        answer = await client.get("/v1/ui-config")

    assert answer.status_code == 200, answer.text  # open: the page asks before it has a key
    assert answer.json() == {
        "docs_url": "/docs",
        "flower_url": None,
        "grafana_url": "http://grafana.example/d/spectrum",
        "max_texts_per_request": 16,
        "max_text_chars": 500,
    }


async def test_models_lists_the_served_model_with_its_card_and_workers() -> None:
    async with serve(resources(Settings(log_json=True), models=FakeModels(live=3))) as client:
        answer = await client.get("/v1/models")

    assert answer.status_code == 200, answer.text
    (model,) = answer.json()["models"]
    assert model["name"] == "m"
    assert model["version"] == CARD.version
    assert model["labels"] == CARD.labels
    assert model["runtime"] == CARD.runtime
    assert model["queue"] == "m.interactive"
    assert model["live_workers"] == 3


async def test_models_before_any_worker_announced_one_says_so() -> None:
    models = FakeModels(card=None, live=0)
    async with serve(resources(Settings(log_json=True), models=models)) as client:
        answer = await client.get("/v1/models")

    assert answer.status_code == 200
    (model,) = answer.json()["models"]
    assert model["version"] is None
    assert model["labels"] == []
    assert model["live_workers"] == 0
    assert "no worker" in model["description"]
