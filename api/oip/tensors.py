"""The tensors of an Open Inference Protocol infer call: a request in, texts out; answers in,
a response out. Pure: no I/O, no framework, so the codec is tested on bytes alone.

A request carries one input, `text`: a `BYTES` tensor of shape `[n]` (or `[n, 1]`, as
Triton's clients often send), its elements in `data` (JSON strings, flat or nested) or,
with the binary tensor extension, appended after the JSON header as 4-byte
little-endian lengths each followed by that many UTF-8 bytes
(`parameters.binary_data_size` says how many bytes are the tensor's, the
`Inference-Header-Content-Length` header how many are JSON).

The answer has two outputs: `label` (`BYTES [n]`) and `probabilities` (`FP32 [n, labels]`,
columns in the order of the model metadata's `parameters.labels`). `outputs` in the
request picks some of them; an output is sent binary (raw little-endian FP32, or
length-prefixed BYTES) when its `parameters.binary_data` is true, or, unset, when the
request's `parameters.binary_data_output` is.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from spectrum.shared.errors import InvalidInput

HEADER_LENGTH = "inference-header-content-length"
INPUT = "text"
OUTPUTS = ("label", "probabilities")
Parameters = dict[str, Any]


class InputTensor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr
    shape: list[int]
    datatype: StrictStr
    parameters: Parameters | None = None
    data: Any = None


class RequestedOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr
    parameters: Parameters | None = None


class InferRequest(BaseModel):
    """The JSON of an infer request, as the protocol defines it. Other top-level keys are
    ignored: the KServe SDK adds `model_name`, which the protocol does not define."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "inputs": [
                        {
                            "name": "text",
                            "shape": [2],
                            "datatype": "BYTES",
                            "data": ["What a wonderful film.", "Dull and far too long."],
                        }
                    ]
                }
            ]
        },
    )

    id: StrictStr | None = None
    parameters: Parameters | None = None
    inputs: list[InputTensor] = Field(min_length=1)
    outputs: list[RequestedOutput] | None = None


@dataclass(frozen=True)
class Wanted:
    """An output to send, and whether as binary data."""

    name: str
    binary: bool


@dataclass(frozen=True)
class InferCall:
    """What an infer request asks for: its id, its texts, the outputs it wants."""

    id: str | None
    texts: list[str]
    outputs: list[Wanted]


def bad(detail: str) -> InvalidInput:
    """The protocol answers a malformed request 400 (api/edge/errors.py maps InvalidInput)."""
    return InvalidInput(detail)


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the binary data after it (empty without the extension)."""
    if header_length is None:
        return body, b""
    try:
        length = int(header_length)
    except ValueError:
        raise bad(
            f"Inference-Header-Content-Length is not a number: {header_length[:32]!r}"
        ) from None
    if not 0 <= length <= len(body):
        raise bad(f"Inference-Header-Content-Length {length} is outside the body's {len(body)} B")
    return body[:length], body[length:]


def parse_request(body: bytes, header_length: str | None = None) -> InferCall:
    """The call a request body makes; InvalidInput (answered 400) says what is wrong."""
    header, binary = split_body(body, header_length)
    try:
        document = json.loads(header)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad(f"the request is not JSON: {exc}") from None
    try:
        request = InferRequest.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(part) for part in first["loc"]) or "request"
        raise bad(f"{place}: {first['msg']}") from None
    if len(request.inputs) != 1 or request.inputs[0].name != INPUT:
        names = ", ".join(repr(tensor.name) for tensor in request.inputs)
        raise bad(f"expected one input named {INPUT!r} (BYTES, shape [n]); got {names}")
    texts = _texts(request.inputs[0], binary)
    parameters = request.parameters or {}
    default_binary = _flag(parameters, "binary_data_output", "parameters")
    return InferCall(request.id, texts, _wanted(request.outputs, default_binary))


def _texts(tensor: InputTensor, binary: bytes) -> list[str]:
    if tensor.datatype != "BYTES":
        raise bad(f"input {INPUT!r} must be BYTES (UTF-8 text), not {tensor.datatype}")
    shape = tensor.shape
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)) or shape[0] < 0:
        raise bad(f"input {INPUT!r} must have shape [n] or [n, 1], not {shape}")
    count = shape[0]
    size = (tensor.parameters or {}).get("binary_data_size")
    if size is not None:
        if tensor.data is not None:
            raise bad(f"input {INPUT!r} has both data and binary_data_size")
        if not isinstance(size, int) or isinstance(size, bool) or size != len(binary):
            raise bad(f"binary_data_size {size!r} is not the {len(binary)} B after the header")
        elements = decode_bytes(binary)
    else:
        if binary:
            raise bad("binary data follows the JSON header but no input has binary_data_size")
        if tensor.data is None:
            raise bad(f"input {INPUT!r} has no data")
        elements = _flatten(tensor.data)
    if len(elements) != count:
        raise bad(f"input {INPUT!r} has shape {shape} but {len(elements)} elements")
    return elements


def _flatten(data: Any) -> list[str]:
    if not isinstance(data, list):
        raise bad(f"input {INPUT!r}: data must be a list of strings")
    flat: list[str] = []
    for item in data:
        if isinstance(item, list):
            flat += _flatten(item)
        elif isinstance(item, str):
            flat.append(item)
        else:
            raise bad(f"input {INPUT!r}: every element must be a string (BYTES as UTF-8 text)")
    return flat


def decode_bytes(data: bytes) -> list[str]:
    """Binary BYTES elements: a 4-byte little-endian length, then that many UTF-8 bytes."""
    elements, at = [], 0
    while at < len(data):
        if at + 4 > len(data):
            raise bad("binary BYTES data ends inside an element's length")
        (length,) = struct.unpack_from("<I", data, at)
        at += 4
        if at + length > len(data):
            raise bad("binary BYTES data ends inside an element")
        try:
            elements.append(data[at : at + length].decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise bad(f"element {len(elements)} is not valid UTF-8: {exc.reason}") from None
        at += length
    return elements


def encode_bytes(elements: Sequence[str]) -> bytes:
    encoded = [element.encode("utf-8") for element in elements]
    return b"".join(struct.pack("<I", len(item)) + item for item in encoded)


def _flag(parameters: Parameters, name: str, where: str) -> bool:
    value = parameters.get(name, False)
    if not isinstance(value, bool):
        raise bad(f"{where}.{name} must be true or false")
    return value


def _wanted(outputs: list[RequestedOutput] | None, default_binary: bool) -> list[Wanted]:
    if outputs is None:
        return [Wanted(name, default_binary) for name in OUTPUTS]
    wanted, seen = [], set()
    for output in outputs:
        if output.name not in OUTPUTS:
            raise bad(f"no output {output.name!r}; the outputs are {', '.join(OUTPUTS)}")
        if output.name in seen:
            raise bad(f"output {output.name!r} is requested twice")
        seen.add(output.name)
        parameters = output.parameters or {}
        if "classification" in parameters:
            raise bad("the classification extension is not supported: read `label`")
        binary = (
            _flag(parameters, "binary_data", f"outputs.{output.name}.parameters")
            if "binary_data" in parameters
            else default_binary
        )
        wanted.append(Wanted(output.name, binary))
    return wanted


def encode_response(
    call: InferCall,
    *,
    model_name: str,
    model_version: str | None,
    labels: Sequence[str],
    predicted: Sequence[str],
    probabilities: Sequence[Sequence[float]],
) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when binary data follows it."""
    outputs: list[dict[str, Any]] = []
    binary: list[bytes] = []
    n = len(predicted)
    for want in call.outputs:
        if want.name == "label":
            tensor: dict[str, Any] = {"name": "label", "datatype": "BYTES", "shape": [n]}
            raw = encode_bytes(predicted) if want.binary else None
            data: list[Any] = list(predicted)
        else:
            tensor = {"name": "probabilities", "datatype": "FP32", "shape": [n, len(labels)]}
            flat = [value for row in probabilities for value in row]
            raw = struct.pack(f"<{len(flat)}f", *flat) if want.binary else None
            data = [value if math.isfinite(value) else None for value in flat]
        if raw is not None:
            tensor["parameters"] = {"binary_data_size": len(raw)}
            binary.append(raw)
        else:
            tensor["data"] = data
        outputs.append(tensor)
    document: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        document["model_version"] = model_version
    if call.id is not None:
        document["id"] = call.id
    document["outputs"] = outputs
    header = json.dumps(document, separators=(",", ":")).encode()
    if not binary:
        return header, None
    return header + b"".join(binary), len(header)
