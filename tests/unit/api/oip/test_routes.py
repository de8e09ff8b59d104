"""The /v2 routes in-process: the real app and its middlewares, a fake predictor and catalog."""

from __future__ import annotations

import struct

from spectrum.api.edge.keys import new_key
from spectrum.api.oip.tensors import encode_bytes
from spectrum.shared.config import Settings
from spectrum.shared.errors import NoWorkerAvailable
from tests.unit.inprocess import FakeModels, FakePredictor, resources, serve

SETTINGS = Settings(log_json=True)
TEXTS = {"name": "text", "datatype": "BYTES", "shape": [2], "data": ["lovely", "awful"]}


async def test_server_metadata_and_liveness_answer_without_a_key() -> None:
    _key, digest = new_key()
    settings = Settings(log_json=True, api_key_hashes=digest)
    async with serve(resources(settings)) as client:
        meta = await client.get("/v2")
        live = await client.get("/v2/health/live")
        guarded = await client.get("/v2/models/m")

    assert meta.status_code == 200
    assert meta.json()["name"] == "spectrum"
    assert meta.json()["extensions"] == ["binary_tensor_data"]
    assert live.json() == {"live": True}
    # Model routes need a key, refused in the protocol's error shape.
    assert guarded.status_code == 401
    assert set(guarded.json()) == {"error"}
    assert guarded.json()["error"].startswith("Unauthorized: ")


async def test_model_metadata_names_the_version_and_the_label_order() -> None:
    given = resources(SETTINGS, predictor=FakePredictor(), models=FakeModels())
    async with serve(given) as client:
        meta = await client.get("/v2/models/m")
        version = await client.get("/v2/models/m/versions/v1")
        wrong = await client.get("/v2/models/m/versions/v0")
        unknown = await client.get("/v2/models/nope")

    assert meta.status_code == 200, meta.text
    assert meta.json() == {
        "name": "m",
        "versions": ["v1"],
        "platform": "lexicon",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]},
        ],
        "parameters": {"labels": ["NEGATIVE", "POSITIVE"]},
    }
    assert version.json() == meta.json()
    assert wrong.status_code == 404
    assert "has no version 'v0'; it serves 'v1'" in wrong.json()["error"]
    assert unknown.status_code == 404
    assert unknown.json()["error"].startswith("ModelNotFound: ")


async def test_readiness_is_200_with_a_live_worker_and_400_without() -> None:
    async with serve(resources(SETTINGS, predictor=FakePredictor(), models=FakeModels())) as c:
        ready = await c.get("/v2/models/m/ready")
    async with serve(
        resources(SETTINGS, predictor=FakePredictor(), models=FakeModels(live=0))
    ) as c:
        not_ready = await c.get("/v2/models/m/versions/v1/ready")

    assert ready.status_code == 200
    assert ready.json() == {"name": "m", "ready": True}
    assert not_ready.status_code == 400
    assert "NotReady" in not_ready.json()["error"]


async def test_infer_in_json_passes_the_texts_to_the_predictor_and_answers_both_outputs() -> None:
    predictor = FakePredictor()
    async with serve(resources(SETTINGS, predictor=predictor, models=FakeModels())) as client:
        answer = await client.post(
            "/v2/models/m/infer", json={"id": "q", "inputs": [TEXTS]}, headers={"X-Request-ID": "r"}
        )

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "model_name": "m",
        "model_version": "v1",
        "id": "q",
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["POSITIVE"] * 2},
            {
                "name": "probabilities",
                "datatype": "FP32",
                "shape": [2, 2],
                "data": [0.25, 0.75, 0.25, 0.75],
            },
        ],
    }
    assert predictor.calls == [(["lovely", "awful"], "r")]
    assert predictor.models == ["m"]


async def test_infer_with_binary_tensors_both_ways() -> None:
    raw = encode_bytes(["lovely"])
    header = (
        b'{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],'
        b'"parameters":{"binary_data_size":%d}}],'
        b'"outputs":[{"name":"probabilities","parameters":{"binary_data":true}}]}' % len(raw)
    )
    predictor = FakePredictor()
    async with serve(resources(SETTINGS, predictor=predictor, models=FakeModels())) as client:
        answer = await client.post(
            "/v2/models/m/versions/v1/infer",
            content=header + raw,
            headers={
                "Inference-Header-Content-Length": str(len(header)),
                "Content-Type": "application/octet-stream",
            },
        )

    assert answer.status_code == 200, answer.text
    length = int(answer.headers["inference-header-content-length"])
    assert answer.headers["content-type"] == "application/octet-stream"
    assert struct.unpack("<2f", answer.content[length:]) == (0.25, 0.75)
    assert predictor.calls[0][0] == ["lovely"]


async def test_errors_answer_in_the_protocol_shape_and_status() -> None:
    busy = FakePredictor(error=NoWorkerAvailable("no worker"))
    async with serve(resources(SETTINGS, predictor=busy, models=FakeModels())) as client:
        malformed = await client.post("/v2/models/m/infer", json={"inputs": [{"name": "x"}]})
        no_worker = await client.post("/v2/models/m/infer", json={"inputs": [TEXTS]})
        no_route = await client.get("/v2/nothing")

    assert malformed.status_code == 400
    assert set(malformed.json()) == {"error"}
    assert no_worker.status_code == 503
    assert no_worker.headers["retry-after"] == "1"
    assert no_worker.json() == {"error": "NoWorkerAvailable: no worker"}
    assert no_route.status_code == 404
    assert no_route.json()["error"].startswith("NotFound: ")
