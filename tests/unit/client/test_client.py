"""The client's calls against an in-memory API: models, health, chunked predicts, errors."""

from __future__ import annotations

import httpx
import pytest

from spectrum_client import AsyncSpectrumClient, SpectrumClient, SpectrumError
from spectrum_client.calls import batches, max_texts
from tests.unit.client.fake_api import FakeApi, Sleeps, error

BASE = "http://spectrum.test"


def client_for(api: FakeApi) -> SpectrumClient:
    http = httpx.Client(base_url=BASE, transport=api.transport())
    return SpectrumClient(http=http, sleep=Sleeps())


def test_models_lists_what_is_served() -> None:
    with client_for(FakeApi()) as client:
        models = client.models()

    assert [m["name"] for m in models] == ["fake"]
    assert models[0]["live_workers"] == 2


def test_health_reads_readiness() -> None:
    with client_for(FakeApi()) as client:
        assert client.health()["status"] == "ready"


def test_predict_many_cuts_at_the_servers_limit_and_keeps_the_order() -> None:
    api = FakeApi(max_texts=3)
    texts = [f"t{i}" for i in range(8)]

    with client_for(api) as client:
        labels = [p["label"] for p in client.predict_many(iter(texts))]

    assert labels == texts
    assert api.predicted() == [texts[0:3], texts[3:6], texts[6:8]]
    assert api.paths().count("GET /v1/ui-config") == 1


def test_predict_many_falls_back_to_64_when_the_server_does_not_say() -> None:
    api = FakeApi(max_texts=None)  # /v1/ui-config answers 404; predict takes any number
    texts = [f"t{i}" for i in range(130)]

    with client_for(api) as client:
        labels = [p["label"] for p in client.predict_many(texts)]
        client.max_texts_per_request()

    assert labels == texts
    assert [len(batch) for batch in api.predicted()] == [64, 64, 2]
    assert api.paths().count("GET /v1/ui-config") == 1  # asked once, remembered


async def test_the_async_client_chunks_and_lists_models_too() -> None:
    api = FakeApi(max_texts=2)
    http = httpx.AsyncClient(base_url=BASE, transport=api.transport())
    texts = ["a", "b", "c"]

    async with AsyncSpectrumClient(http=http, sleep=Sleeps().sleep) as client:
        labels = [p["label"] async for p in client.predict_many(texts)]
        models = await client.models()
        health = await client.health()

    assert labels == texts
    assert api.predicted() == [["a", "b"], ["c"]]
    assert models[0]["name"] == "fake"
    assert health["status"] == "ready"


def test_an_error_carries_its_request_id_and_field_errors() -> None:
    api = FakeApi()
    api.script["/v1/predict"].append(
        error(
            422,
            "InvalidInput",
            "the body breaks the contract",
            request_id="req-1",
            errors=[{"loc": ["body", "texts", 0], "msg": "must be a string"}],
        )
    )

    with client_for(api) as client, pytest.raises(SpectrumError) as caught:
        client.predict(["x"])

    assert str(caught.value) == "422 InvalidInput: the body breaks the contract"
    assert caught.value.request_id == "req-1"
    assert caught.value.errors == [{"loc": ["body", "texts", 0], "msg": "must be a string"}]


def test_an_error_without_them_still_reads_and_takes_the_header_id() -> None:
    api = FakeApi()
    api.script["/v1/predict"].extend(
        [
            httpx.Response(404, json={"error": "JobNotFound", "detail": "no job"}),
            httpx.Response(502, text="<html>bad gateway</html>", headers={"X-Request-ID": "r2"}),
        ]
    )

    with client_for(api) as client:
        with pytest.raises(SpectrumError) as plain:
            client.predict("x")
        with pytest.raises(SpectrumError) as html:
            client.predict("x")

    assert (plain.value.request_id, plain.value.errors) == (None, [])
    assert (html.value.status, html.value.error, html.value.request_id) == (502, "HTTPError", "r2")


def test_batches_and_the_stated_limit() -> None:
    assert list(batches(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(batches([], 2)) == []
    assert max_texts({"max_texts_per_request": 10}) == 10
    assert max_texts({"max_texts_per_request": 0}) == 64
    assert max_texts({"max_texts_per_request": True}) == 64
    assert max_texts(None) == 64
    with pytest.raises(ValueError, match="at least one"):
        list(batches([1], 0))
