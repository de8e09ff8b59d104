"""Open Inference Protocol v2 with clients nobody here wrote: Triton's `tritonclient[http]`
and the KServe SDK's REST client, against a real gateway and lexicon worker.

Their labels and probabilities must be /v1/predict's for the same texts and model
(FP32 on the wire: equal to /v1's values rounded to float32), through a model, one
of its versions and an alias over it, in JSON and in the binary tensor extension.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

from tests.integration.stack import Stack

ALIAS = "oip-alias"


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("oip"), redis_url)
    aliases = {ALIAS: {"targets": {stack.model_name: 100}}}
    try:
        stack.start_worker()
        stack.start_api(aliases=json.dumps(aliases))
        yield stack
    finally:
        stack.stop()


def texts() -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"What a wonderful film {run}", f"Dull, slow and far too long {run}", f"meh {run}"]


def v1(stack: Stack, batch: list[str]) -> tuple[list[str], np.ndarray, list[str], str]:
    """/v1/predict's labels, probabilities (float32, in the card's label order), the labels
    and the model's version."""
    with stack.client() as client:
        answer = client.post("/v1/predict", json={"texts": batch, "model": stack.model_name})
        models = client.get("/v1/models").json()["models"]
    assert answer.status_code == 200, answer.text
    (card,) = [m for m in models if m["name"] == stack.model_name]
    labels = card["labels"]
    predictions = answer.json()["predictions"]
    rows = [[p["probabilities"][label] for label in labels] for p in predictions]
    return [p["label"] for p in predictions], np.array(rows, np.float32), labels, card["version"]


def host(stack: Stack) -> str:
    return stack.base_url.removeprefix("http://")


def triton_infer(
    client: Any, model: str, batch: list[str], *, binary: bool, version: str = ""
) -> tuple[list[str], np.ndarray]:
    text = triton.InferInput("text", [len(batch)], "BYTES")
    text.set_data_from_numpy(np.array(batch, dtype=np.object_), binary_data=binary)
    outputs = [
        triton.InferRequestedOutput("label", binary_data=binary),
        triton.InferRequestedOutput("probabilities", binary_data=binary),
    ]
    result = client.infer(model, [text], model_version=version, outputs=outputs)
    labels = [
        item.decode() if isinstance(item, bytes) else item for item in result.as_numpy("label")
    ]
    return labels, result.as_numpy("probabilities")


def test_tritonclient_classifies_as_v1_does_through_model_version_and_alias(stack: Stack) -> None:
    batch = texts()
    labels, probabilities, label_order, version = v1(stack, batch)
    client = triton.InferenceServerClient(url=host(stack))
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready(stack.model_name)
        assert client.is_model_ready(ALIAS)
        assert not client.is_model_ready(stack.model_name, model_version="no-such-version")
        metadata = client.get_model_metadata(stack.model_name)
        assert metadata["versions"] == [version]
        assert metadata["parameters"]["labels"] == label_order
        assert {o["name"]: o["datatype"] for o in metadata["outputs"]} == {
            "label": "BYTES",
            "probabilities": "FP32",
        }
        alias_metadata = client.get_model_metadata(ALIAS)
        assert alias_metadata["platform"] == "alias"
        assert alias_metadata["versions"] == [version]
        assert client.get_model_metadata(ALIAS, model_version=version)["versions"] == [version]

        answers = [
            triton_infer(client, stack.model_name, batch, binary=True),
            triton_infer(client, stack.model_name, batch, binary=False),
            triton_infer(client, stack.model_name, batch, binary=True, version=version),
            triton_infer(client, ALIAS, batch, binary=False),
        ]
        with pytest.raises(triton.InferenceServerException, match="ModelNotFound"):
            triton_infer(client, "no-such-model", batch, binary=True)
    finally:
        client.close()
    for got_labels, got_probabilities in answers:
        assert got_labels == labels
        assert got_probabilities.dtype == np.float32
        np.testing.assert_array_equal(got_probabilities, probabilities)


def test_the_kserve_rest_client_classifies_as_v1_does(stack: Stack) -> None:
    batch = texts()
    labels, probabilities, _, _ = v1(stack, batch)

    async def ask() -> list[Any]:
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
        try:
            assert await client.is_server_live(stack.base_url)
            assert await client.is_server_ready(stack.base_url)
            assert await client.is_model_ready(stack.base_url, ALIAS)
            answers = []
            for binary in (False, True):
                text = InferInput("text", [len(batch)], "BYTES")
                text.set_data_from_numpy(np.array(batch, dtype=np.object_), binary_data=binary)
                request = InferRequest(model_name=stack.model_name, infer_inputs=[text])
                answers.append(await client.infer(stack.base_url, request, stack.model_name))
            return answers
        finally:
            await client.close()

    for response in asyncio.run(ask()):
        outputs = {output.name: output.as_numpy() for output in response.outputs}
        got = [item.decode() if isinstance(item, bytes) else item for item in outputs["label"]]
        assert got == labels
        np.testing.assert_array_equal(
            np.asarray(outputs["probabilities"], np.float32).reshape(probabilities.shape),
            probabilities,
        )


def test_the_documented_tritonclient_example_runs(stack: Stack) -> None:
    batch = texts()
    labels, probabilities, label_order, _ = v1(stack, batch)
    example = Path(__file__).parents[2] / "docs" / "examples" / "oip_triton.py"

    ran = subprocess.run(
        [sys.executable, str(example), host(stack), stack.model_name, *batch],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert ran.returncode == 0, ran.stderr
    lines = [line.split("\t") for line in ran.stdout.splitlines()]
    assert [line[0] for line in lines] == labels
    assert [line[2] for line in lines] == batch
    first = dict(part.split(" ") for part in lines[0][1].split(", "))
    assert list(first) == label_order
    assert [float(p) for p in first.values()] == [round(float(p), 3) for p in probabilities[0]]
