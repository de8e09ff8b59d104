"""One error hierarchy for the service; each class carries the HTTP status it is answered with.

The status and `Retry-After` live on the class, so a subclass answers as its own
class says, whatever order anything is checked in: `PayloadTooLarge` is an
`InvalidInput` (a caller catching input errors catches it) answered 413, not 422.
`api/edge/errors.py` renders every one of them, and nothing else builds an error body.
"""

from __future__ import annotations

from typing import TypedDict


class Problem(TypedDict):
    """One reason a request was refused: where in the request (`loc`) and what is wrong."""

    loc: list[str | int]
    msg: str


class SpectrumError(Exception):
    """Base of every error Spectrum reports to a client.

    `status` is the HTTP status; `retry_after_s`, when not None, is sent as
    Retry-After (the refusal is temporary: the same request may succeed then).
    Both are class attributes; an instance overrides them only where the figure
    is its own (a rate limit's wait, Starlette's status in HTTPError).
    """

    status: int = 500
    retry_after_s: int | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(SpectrumError):
    """The request cannot be served as sent; `problems` lists each reason with its place."""

    status = 422

    def __init__(self, detail: str, problems: list[Problem] | None = None) -> None:
        super().__init__(detail)
        self.problems = problems or []


class UnreadableBody(InvalidInput):
    """The body cannot be read at all: not UTF-8, or a Content-Length that is not a number."""

    status = 400


class CorsRefused(SpectrumError):
    """A CORS preflight asked for an origin, method or header the gateway does not allow."""

    status = 400


class CallbackRefused(InvalidInput):
    """A job's callback URL leads where webhooks may not go (shared/callbacks.py)."""


class PayloadTooLarge(InvalidInput):
    """The request body or upload is larger than the service accepts."""

    status = 413


class UnsupportedMediaType(InvalidInput):
    """The body's content type is not one the route reads."""

    status = 415


class Unauthorized(SpectrumError):
    """No API key, or one that is not configured."""

    status = 401


class NotFound(SpectrumError):
    """No route (or static file) at this path."""

    status = 404


class ModelNotFound(SpectrumError):
    """No announced model and no alias has this name; the detail lists the names known."""

    status = 404


class Forbidden(SpectrumError):
    """The caller may not do this: a client key on an admin route, or an admin change
    while API keys are off."""

    status = 403


class MethodNotAllowed(SpectrumError):
    """The path exists, but not for this method."""

    status = 405


class HTTPError(SpectrumError):
    """A refusal of the web framework's own that no class above names; its status is its own."""

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.status = status


class JobNotFound(SpectrumError):
    """No job has this id."""

    status = 404


class JobExpired(SpectrumError):
    """The job existed, but its record and results have expired."""

    status = 410


class JobConflict(SpectrumError):
    """The request contradicts the job's state or an earlier request with the same key."""

    status = 409


class RateLimited(SpectrumError):
    """The caller sent more requests than its rate limit allows."""

    status = 429

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


# Seconds a client should wait before sending a refused request again: long enough
# for a queue to drain a little or a worker to announce itself, short for a person.
RETRY_AFTER_S = 1


class KeyBusy(SpectrumError):
    """The API key has as many requests in flight as it may; retry when one ends."""

    status = 429
    retry_after_s = RETRY_AFTER_S


class RequestTimeout(SpectrumError):
    """The request's body did not arrive before its deadline (a client too slow to send)."""

    status = 408


class Overloaded(SpectrumError):
    """The gateway or the lane's queue is full; try again shortly."""

    status = 503
    retry_after_s = RETRY_AFTER_S


# The next step NoWorkerAvailable's detail gives.
START_A_WORKER = "start one: `make run` (the whole local stack), or `python -m spectrum.worker`"


class NoWorkerAvailable(SpectrumError):
    """No live worker consumes the model's queue."""

    status = 503
    retry_after_s = RETRY_AFTER_S


class BrokerUnavailable(SpectrumError):
    """The broker did not accept the task in time."""

    status = 503
    retry_after_s = RETRY_AFTER_S


class BackendUnavailable(SpectrumError):
    """The result backend (Redis) cannot be reached."""

    status = 503
    retry_after_s = RETRY_AFTER_S


class DeadlineExceeded(SpectrumError):
    """The result did not arrive before the request's deadline."""

    status = 504


class InferenceFailed(SpectrumError):
    """A worker took the task and failed it."""

    status = 502


class PoisonMessage(SpectrumError):
    """A task delivered more times than allowed (its worker died each time): failed, not run.

    Raised in the worker, stored as the task's failure; the gateway answers it as
    InferenceFailed.
    """

    status = 502


class PredictionLogOff(SpectrumError):
    """Analytics asked for while the prediction log is off (SPECTRUM_PREDICTION_LOG=false)."""

    status = 404


class DatabaseUnavailable(SpectrumError):
    """The prediction log's database cannot be reached (only analytics waits on it)."""

    status = 503
    retry_after_s = RETRY_AFTER_S


class InternalError(SpectrumError):
    """An exception no handler took (a bug): answered without its internals, logged once."""

    status = 500
