"""One error hierarchy for the service; api/errors.py maps each class to an HTTP status."""

from __future__ import annotations


class SpectrumError(Exception):
    """Base of every error Spectrum reports to a client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(SpectrumError):
    """The request cannot be served as sent."""


class NoWorkerAvailable(SpectrumError):
    """No live worker consumes the model's queue."""


class BrokerUnavailable(SpectrumError):
    """The broker did not accept the task in time."""


class BackendUnavailable(SpectrumError):
    """The result backend (Redis) cannot be reached."""


class DeadlineExceeded(SpectrumError):
    """The result did not arrive before the request's deadline."""


class InferenceFailed(SpectrumError):
    """A worker took the task and failed it."""


class CallbackRefused(InvalidInput):
    """A job's callback URL leads where webhooks may not go (shared/callbacks.py)."""


class PayloadTooLarge(InvalidInput):
    """The request body or upload is larger than the service accepts."""


class UnsupportedMediaType(InvalidInput):
    """The body's content type is not one the route reads."""


class JobNotFound(SpectrumError):
    """No job has this id."""


class JobExpired(SpectrumError):
    """The job existed, but its record and results have expired."""


class JobConflict(SpectrumError):
    """The request contradicts the job's state or an earlier request with the same key."""


class Unauthorized(SpectrumError):
    """No API key, or one that is not configured."""


class RateLimited(SpectrumError):
    """The caller sent more requests than its rate limit allows."""

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class Overloaded(SpectrumError):
    """The gateway or the lane's queue is full; try again shortly."""


class PoisonMessage(SpectrumError):
    """A task delivered more times than allowed (its worker died each time): failed, not run.

    Raised in the worker, stored as the task's failure; the gateway answers it as
    InferenceFailed.
    """
