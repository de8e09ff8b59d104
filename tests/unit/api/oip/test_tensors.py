"""The Open Inference Protocol codec on bytes alone: requests in, responses out."""

from __future__ import annotations

import json
import struct

import pytest

from spectrum.api.oip.tensors import (
    InferCall,
    Wanted,
    decode_bytes,
    encode_bytes,
    encode_response,
    parse_request,
)
from spectrum.shared.errors import InvalidInput


def body(**request: object) -> bytes:
    return json.dumps(request).encode()


def text_input(data: object, shape: list[int], **extra: object) -> dict[str, object]:
    return {"name": "text", "datatype": "BYTES", "shape": shape, "data": data, **extra}


def test_a_json_request_gives_its_texts_and_both_outputs_as_json() -> None:
    call = parse_request(body(id="r1", inputs=[text_input(["good", "bad"], [2])]))

    assert call == InferCall(
        "r1", ["good", "bad"], [Wanted("label", False), Wanted("probabilities", False)]
    )


def test_nested_data_of_shape_n_by_1_is_read_row_major() -> None:
    call = parse_request(body(inputs=[text_input([["a"], ["b"]], [2, 1])]))

    assert call.texts == ["a", "b"]


def test_binary_input_follows_the_json_header() -> None:
    raw = encode_bytes(["héllo", ""])
    header = body(
        inputs=[
            {
                "name": "text",
                "datatype": "BYTES",
                "shape": [2],
                "parameters": {"binary_data_size": len(raw)},
            }
        ],
        parameters={"binary_data_output": True},
        outputs=[
            {"name": "label", "parameters": {"binary_data": False}},
            {"name": "probabilities"},
        ],
    )

    call = parse_request(header + raw, str(len(header)))

    assert call.texts == ["héllo", ""]
    assert call.outputs == [Wanted("label", False), Wanted("probabilities", True)]


@pytest.mark.parametrize(
    ("request_body", "says"),
    [
        (b"{not json", "not JSON"),
        (body(inputs=[]), "inputs"),
        (body(inputs=[{**text_input(["a"], [1]), "name": "x"}]), "named 'text'"),
        (body(inputs=[{**text_input(["a"], [1]), "datatype": "FP32"}]), "must be BYTES"),
        (body(inputs=[text_input(["a"], [2])]), "but 1 elements"),
        (body(inputs=[text_input(["a", "b"], [1, 2])]), "shape [n] or [n, 1]"),
        (body(inputs=[text_input([1], [1])]), "must be a string"),
        (body(inputs=[text_input(["a"], [1])], outputs=[{"name": "logits"}]), "no output"),
        (
            body(
                inputs=[text_input(["a"], [1])],
                outputs=[{"name": "label", "parameters": {"classification": 2}}],
            ),
            "classification",
        ),
        (body(inputs=[text_input(["a"], [1])], parameters={"binary_data_output": 1}), "true or"),
    ],
)
def test_a_request_the_protocol_does_not_allow_is_refused_saying_why(
    request_body: bytes, says: str
) -> None:
    with pytest.raises(InvalidInput, match=None) as refused:
        parse_request(request_body)

    assert says in refused.value.detail


def test_binary_bytes_cut_short_or_not_utf8_are_refused() -> None:
    with pytest.raises(InvalidInput, match="inside an element"):
        decode_bytes(struct.pack("<I", 5) + b"abc")
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        decode_bytes(struct.pack("<I", 1) + b"\xff")
    assert decode_bytes(encode_bytes(["a", "bc"])) == ["a", "bc"]


def test_a_response_puts_binary_outputs_after_the_header_in_order() -> None:
    call = InferCall("7", ["a", "b"], [Wanted("probabilities", True), Wanted("label", False)])

    content, length = encode_response(
        call,
        model_name="sentiment",
        model_version="v1",
        labels=["NEGATIVE", "POSITIVE"],
        predicted=["POSITIVE", "NEGATIVE"],
        probabilities=[[0.25, 0.75], [0.5, 0.5]],
    )

    assert length is not None
    header = json.loads(content[:length])
    assert header == {
        "model_name": "sentiment",
        "model_version": "v1",
        "id": "7",
        "outputs": [
            {
                "name": "probabilities",
                "datatype": "FP32",
                "shape": [2, 2],
                "parameters": {"binary_data_size": 16},
            },
            {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["POSITIVE", "NEGATIVE"]},
        ],
    }
    assert struct.unpack("<4f", content[length:]) == (0.25, 0.75, 0.5, 0.5)


def test_an_all_json_response_has_no_header_length() -> None:
    call = InferCall(None, ["a"], [Wanted("label", False)])

    content, length = encode_response(
        call,
        model_name="m",
        model_version=None,
        labels=["N", "P"],
        predicted=["P"],
        probabilities=[[0.1, 0.9]],
    )

    assert length is None
    assert json.loads(content) == {
        "model_name": "m",
        "outputs": [{"name": "label", "datatype": "BYTES", "shape": [1], "data": ["P"]}],
    }
