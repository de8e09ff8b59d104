"""The one error path: every error answer is rendered and counted by `render`.

Exception handlers (Spectrum's errors, FastAPI's request validation, Starlette's
own refusals) and the pure ASGI middlewares (`send_error`) all answer through
`render`: the status and Retry-After come from the error's class
(shared/errors.py), the body is always `ErrorBody`, and each answer is counted
once in the request metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from spectrum.api.edge.access_log import current_request_id
from spectrum.api.observability import metrics
from spectrum.shared.errors import (
    HTTPError,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    Problem,
    SpectrumError,
    UnreadableBody,
)


class ProblemBody(BaseModel):
    loc: list[str | int] = Field(description='Where in the request, e.g. ["body", "texts", 1].')
    msg: str = Field(description="What is wrong there.")


class ErrorBody(BaseModel):
    error: str = Field(description="The error's class, e.g. InvalidInput or NoWorkerAvailable.")
    detail: str = Field(description="What went wrong and what to do, for a person.")
    request_id: str | None = Field(
        description="The request's id (also the X-Request-ID header): quote it in a report."
    )
    errors: list[ProblemBody] | None = Field(
        default=None, description="Each reason a request's contents were refused (422 only)."
    )


# The Open Inference Protocol's routes (api/oip/) answer errors in its own shape.
OIP_PREFIX = "/v2"


def speaks_oip(path: str) -> bool:
    return path == OIP_PREFIX or path.startswith(OIP_PREFIX + "/")


def render(
    error: SpectrumError, headers: Mapping[str, str] | None = None, *, oip: bool = False
) -> JSONResponse:
    """The answer to `error`, in the error body, with its class's status; counted once.

    Retry-After is sent when the error has a figure for it; `headers` adds the
    caller's own (RateLimit-*, WWW-Authenticate, Allow, Connection). `oip`: the Open
    Inference Protocol's body, `{"error": "<class>: <detail>"}`, and its 400 for a
    request it cannot take (422 here); the other statuses are the same.
    """
    metrics.record_error(error)
    extra = dict(headers or {})
    if error.retry_after_s is not None:
        extra["Retry-After"] = str(error.retry_after_s)
    if oip:
        status = 400 if error.status == 422 else error.status
        message = {"error": f"{type(error).__name__}: {error.detail}"}
        return JSONResponse(message, status_code=status, headers=extra or None)
    body: dict[str, Any] = {
        "error": type(error).__name__,
        "detail": error.detail,
        "request_id": current_request_id(),
    }
    if isinstance(error, InvalidInput) and error.problems:
        body["errors"] = error.problems
    return JSONResponse(body, status_code=error.status, headers=extra or None)


async def send_error(
    error: SpectrumError,
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: Mapping[str, str] | None = None,
) -> None:
    """`render(error)` sent over ASGI: the answer of a pure ASGI middleware that refuses."""
    await render(error, headers, oip=speaks_oip(scope["path"]))(scope, receive, send)


def problems_of(
    errors: Sequence[Any], shape: str = "a JSON object with 'text' or 'texts'"
) -> tuple[str, list[Problem]]:
    """A readable sentence and the `{loc, msg}` list for pydantic's validation errors.

    `shape` says what the body must be, for an error about the body as a whole.
    """
    readable: list[str] = []
    problems: list[Problem] = []
    for err in errors:
        loc: list[str | int] = list(err.get("loc", ()))
        msg = str(err.get("msg", "invalid"))
        place = [str(part) for part in loc if part != "body"]
        if err.get("type") == "json_invalid":
            reason = err.get("ctx", {}).get("error", "")
            at = f" at character {place[0]}" if place else ""
            readable.append(f"the body is not valid JSON{at}: {reason}".rstrip(": "))
        elif not place:
            readable.append(f"the body must be {shape} ({msg})")
        else:
            readable.append(f"{'.'.join(place)}: {msg}")
        problems.append({"loc": loc, "msg": msg})
    return "; ".join(readable) or "invalid request", problems


def from_http(exc: HTTPException, path: str) -> SpectrumError:
    """Starlette's and FastAPI's own refusals as the error a client reads."""
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        byte = cause.object[cause.start]
        return UnreadableBody(f"the body is not valid UTF-8: byte {byte:#04x} at {cause.start}")
    if exc.status_code == 400:
        return UnreadableBody(str(exc.detail))
    if exc.status_code == 404:
        return NotFound(f"no route at {path}; /docs lists the routes")
    if exc.status_code == 405:
        return MethodNotAllowed(f"{path} does not take this method; /docs lists the routes")
    return HTTPError(str(exc.detail), exc.status_code)


# What each error status means, and an example answer, for the OpenAPI document of
# the routes that can answer it (shown in /docs under each operation).
_RID = "3f2b9c0e8d7a4b6c9e1f2a3b4c5d6e7f"
_MEANING: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "The body cannot be read (not UTF-8, broken Content-Length).",
        {"error": "UnreadableBody", "detail": "the body is not valid UTF-8: byte 0xff at 12"},
    ),
    401: (
        "No API key, or an unknown one (keys are on); use Authorize in /docs.",
        {
            "error": "Unauthorized",
            "detail": "an API key is required: send 'Authorization: Bearer <key>' "
            "or 'X-API-Key: <key>'",
        },
    ),
    403: (
        "Not allowed: /v1/admin/ needs an admin key, and admin changes need API keys on.",
        {
            "error": "Forbidden",
            "detail": "/v1/admin/aliases needs an admin key; this key's role is client",
        },
    ),
    404: (
        "No job has this id, or no model or alias has this name (the detail lists them).",
        {
            "error": "ModelNotFound",
            "detail": "no model or alias 'sentimant'; models: sentiment-minilm, toxicity; "
            "aliases: sentiment",
        },
    ),
    409: (
        "The request contradicts the job's state, or reuses an Idempotency-Key with another body.",
        {"error": "JobConflict", "detail": "this Idempotency-Key was used with a different body"},
    ),
    410: (
        "The job existed, but its record and results have expired.",
        {
            "error": "JobExpired",
            "detail": "job 5c0f9a has expired: records and results are kept 86400 s",
        },
    ),
    413: (
        "The body is over SPECTRUM_MAX_BODY_BYTES (a job upload: SPECTRUM_JOB_MAX_UPLOAD_BYTES).",
        {
            "error": "PayloadTooLarge",
            "detail": "the body is 80000 bytes, at most 65536 (SPECTRUM_MAX_BODY_BYTES): "
            "send fewer texts per request, or many as a job (POST /v1/jobs)",
        },
    ),
    415: (
        "The body's content type is not one the route reads.",
        {
            "error": "UnsupportedMediaType",
            "detail": "cannot read image/png: send application/json, text/csv, "
            "application/x-ndjson, or a multipart upload of a .csv or .jsonl file",
        },
    ),
    422: (
        "The body breaks the contract or a limit; `errors` lists each reason with its place.",
        {
            "error": "InvalidInput",
            "detail": "texts.1: Input should be a valid string",
            "errors": [{"loc": ["body", "texts", 1], "msg": "Input should be a valid string"}],
        },
    ),
    429: (
        "The caller's rate limit is reached; see Retry-After and RateLimit-*.",
        {"error": "RateLimited", "detail": "rate limit of 100 requests reached; retry in 1 s"},
    ),
    502: (
        "A worker took the task and failed it.",
        {"error": "InferenceFailed", "detail": "the worker failed the task: RuntimeError"},
    ),
    503: (
        "Overloaded, or no worker, broker or backend available; see Retry-After.",
        {
            "error": "NoWorkerAvailable",
            "detail": "no worker is consuming queue 'sentiment-minilm.interactive' for model "
            "'sentiment-minilm'; start one: `make run`, or `python -m spectrum.worker`",
        },
    ),
    504: (
        "No result before the deadline.",
        {"error": "DeadlineExceeded", "detail": "no result within 10 s"},
    ),
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses: the error body, a meaning, an example."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in statuses:
        meaning, example = _MEANING[code]
        responses[code] = {
            "model": ErrorBody,
            "description": meaning,
            "content": {"application/json": {"example": {**example, "request_id": _RID}}},
        }
    return responses


async def _spectrum_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SpectrumError)
    return render(exc, oip=speaks_oip(request.url.path))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail, problems = problems_of(exc.errors())
    return render(InvalidInput(detail, problems), oip=speaks_oip(request.url.path))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    path = request.url.path
    return render(from_http(exc, path), exc.headers, oip=speaks_oip(path))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SpectrumError, _spectrum_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
