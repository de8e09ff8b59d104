"""One table from Spectrum's errors to HTTP statuses, and the handlers that render them."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from api.observability import metrics
from shared.errors import (
    BackendUnavailable,
    BrokerUnavailable,
    DeadlineExceeded,
    InferenceFailed,
    InvalidInput,
    JobConflict,
    JobExpired,
    JobNotFound,
    NoWorkerAvailable,
    Overloaded,
    PayloadTooLarge,
    RateLimited,
    SpectrumError,
    Unauthorized,
    UnsupportedMediaType,
)


class ErrorBody(BaseModel):
    error: str = Field(description="The error's class, e.g. InvalidInput or NoWorkerAvailable.")
    detail: str = Field(description="What went wrong, for a person.")


# Subclasses before their base: the first match wins.
STATUS: dict[type[SpectrumError], int] = {
    Unauthorized: 401,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidInput: 422,
    JobNotFound: 404,
    JobExpired: 410,
    JobConflict: 409,
    RateLimited: 429,
    Overloaded: 503,
    NoWorkerAvailable: 503,
    BrokerUnavailable: 503,
    BackendUnavailable: 503,
    DeadlineExceeded: 504,
    InferenceFailed: 502,
}

# What each error status means, for the OpenAPI document of the routes that can answer it.
_MEANING: dict[int, str] = {
    400: "The body cannot be read (not UTF-8, broken Content-Length).",
    401: "No API key, or an unknown one (keys are on).",
    404: "No job has this id.",
    409: "The request contradicts the job's state, or reuses an Idempotency-Key with another body.",
    410: "The job existed, but its record and results have expired.",
    413: "The body is over SPECTRUM_MAX_BODY_BYTES (a job upload: SPECTRUM_JOB_MAX_UPLOAD_BYTES).",
    415: "The body's content type is not one the route reads.",
    422: "The body breaks the contract or a limit.",
    429: "The caller's rate limit is reached; see Retry-After and RateLimit-*.",
    502: "A worker took the task and failed it.",
    503: "Overloaded, or no worker, broker or backend available; see Retry-After.",
    504: "No result before the deadline.",
}


def documented(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` for these error statuses, all with the error body."""
    return {code: {"model": ErrorBody, "description": _MEANING[code]} for code in statuses}


# Seconds a client should wait before trying a 503 (or a 429 without its own figure) again.
RETRY_AFTER_S = 1


def error_response(
    error: str, detail: str, status: int, retry_after_s: int | None = None
) -> JSONResponse:
    if retry_after_s is None and status in (429, 503):
        retry_after_s = RETRY_AFTER_S
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def _describe(exc: RequestValidationError) -> str:
    problems = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part != "body"]
        kind = err.get("type", "")
        if kind == "json_invalid":
            reason = err.get("ctx", {}).get("error", "")
            at = f" at character {loc[0]}" if loc else ""
            problems.append(f"the body is not valid JSON{at}: {reason}".rstrip(": "))
        elif not loc:
            problems.append(f"the body must be a JSON object with 'text' or 'texts' ({err['msg']})")
        else:
            problems.append(f"{'.'.join(loc)}: {err.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


async def _spectrum_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SpectrumError)
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)
    metrics.record_error(exc)
    retry = exc.retry_after_s if isinstance(exc, RateLimited) else None
    return error_response(type(exc).__name__, exc.detail, status, retry)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    metrics.record_invalid_body()
    return error_response("InvalidInput", _describe(exc), 422)


_HTTP_ERRORS = {400: "InvalidInput", 404: "NotFound", 405: "MethodNotAllowed"}


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own errors, in the same body as ours."""
    assert isinstance(exc, HTTPException)
    detail = str(exc.detail)
    if isinstance(exc.__cause__, UnicodeDecodeError):
        cause = exc.__cause__
        detail = (
            f"the body is not valid UTF-8: byte {cause.object[cause.start]:#04x} at {cause.start}"
        )
    if exc.status_code == 400:
        metrics.record_invalid_body()
    response = error_response(
        _HTTP_ERRORS.get(exc.status_code, "HTTPError"), detail, exc.status_code
    )
    response.headers.update(exc.headers or {})
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SpectrumError, _spectrum_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
