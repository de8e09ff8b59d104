"""The bodies of the Open Inference Protocol's REST routes, as /docs shows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class OipError(BaseModel):
    error: str = Field(description="What went wrong: the error's class, a colon, the detail.")


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str] = Field(description="Protocol extensions this server speaks.")


class Live(BaseModel):
    live: bool


class Ready(BaseModel):
    ready: bool


class ModelReady(BaseModel):
    name: str
    ready: bool


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1: any size.")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str] = Field(
        description="The version served (a model), or the versions of the models an alias "
        "routes to; `/versions/{v}` pins one."
    )
    platform: str = Field(description="The runtime of the model card (`alias` for an alias).")
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any] = Field(
        description="`labels`: the columns of `probabilities`, in order; for an alias, "
        "`targets`: its models and weights."
    )


class OutputTensor(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Any] | None = Field(
        default=None, description="`binary_data_size` when the data follows the JSON header."
    )
    data: list[Any] | None = None


class InferResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    model_version: str | None = Field(
        default=None, description="Absent when an alias's texts went to several versions."
    )
    id: str | None = None
    outputs: list[OutputTensor]


_MEANING = {
    400: "The request breaks the protocol or a limit; or, for a readiness probe, not ready.",
    401: "No API key, or an unknown one (keys are on).",
    404: "No model or alias has this name, or it has no such version.",
    413: "The body is over SPECTRUM_MAX_BODY_BYTES.",
    429: "The caller's rate limit is reached; see Retry-After.",
    502: "A worker took the task and failed it.",
    503: "Overloaded, or no worker, broker or backend available; see Retry-After.",
    504: "No result before the deadline.",
}


def oip_documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these statuses, in the protocol's error body."""
    return {code: {"model": OipError, "description": _MEANING[code]} for code in statuses}
