"""One table from Spectrum's errors to HTTP statuses, and the handlers that render them."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api import metrics
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
    PayloadTooLarge,
    SpectrumError,
    UnsupportedMediaType,
)

# Subclasses before their base: the first match wins.
STATUS: dict[type[SpectrumError], int] = {
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidInput: 422,
    JobNotFound: 404,
    JobExpired: 410,
    JobConflict: 409,
    NoWorkerAvailable: 503,
    BrokerUnavailable: 503,
    BackendUnavailable: 503,
    DeadlineExceeded: 504,
    InferenceFailed: 502,
}

# Seconds a client should wait before trying a 503 again.
RETRY_AFTER_S = 1


def error_response(error: str, detail: str, status: int) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
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
    return error_response(type(exc).__name__, exc.detail, status)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    metrics.record_invalid_body()
    return error_response("InvalidInput", _describe(exc), 422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SpectrumError, _spectrum_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
