"""SpectrumClient: the blocking client. AsyncSpectrumClient (async_client.py) has the same methods.

Every call goes through `_send`, which retries refusals (429/503, after their
Retry-After) and dropped connections as `retry` allows (retry.py), sleeping with
the `sleep` it was given.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import cast

import httpx

from spectrum_client import calls
from spectrum_client.async_client import AsyncSpectrumClient
from spectrum_client.calls import DEFAULT_URL, Call, auth_headers
from spectrum_client.errors import SpectrumError, error_of, raise_for
from spectrum_client.retry import Retry
from spectrum_client.schemas import (
    FINAL_STATES,
    Catalog,
    CompareAnswer,
    Health,
    Job,
    JobCreated,
    ModelInfo,
    PredictAnswer,
    Prediction,
    Result,
)

__all__ = [
    "DEFAULT_URL",
    "AsyncSpectrumClient",
    "Job",
    "SpectrumClient",
    "SpectrumError",
    "auth_headers",
]

ProgressCallback = Callable[[Job], None]


class SpectrumClient:
    """Blocking client. Use as a context manager, or call close()."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = 60,
        http: httpx.Client | None = None,
        retry: Retry | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = http or httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers=auth_headers(api_key)
        )
        self._retry = retry or Retry()
        self._sleep = sleep
        self._max_texts: int | None = None

    def __enter__(self) -> SpectrumClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        """The final answer to `call`, success or not, after the retries it earned."""
        attempt, waited = 1, 0.0
        while True:
            request = self._http.build_request(call.method, call.url, **call.options)
            try:
                answer = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = self._retry.after_error(exc, attempt, waited)
                if delay is None:
                    raise
            else:
                refused = call.retry_refusals
                delay = self._retry.after_answer(answer, attempt, waited) if refused else None
                if delay is None:
                    if stream and not answer.is_success:
                        answer.read()  # the error body, for error_of
                        answer.close()
                    return answer
                answer.close()
            self._sleep(delay)
            waited += delay
            attempt += 1

    def _json(self, call: Call) -> object:
        answer = self._send(call)
        raise_for(answer)
        return answer.json()

    def predict(self, texts: str | Sequence[str], *, model: str | None = None) -> PredictAnswer:
        """Classify now (POST /v1/predict): one text or up to the server's per-request limit.

        `model` names a model or an alias; None: the server's default model.
        """
        return cast(PredictAnswer, self._json(calls.predict(texts, model)))

    def compare(self, texts: str | Sequence[str], models: Sequence[str]) -> CompareAnswer:
        """The same texts through 2 to 4 models or aliases, side by side (POST /v1/compare)."""
        return cast(CompareAnswer, self._json(calls.compare(texts, models)))

    def max_texts_per_request(self) -> int:
        """The server's limit on texts per predict (from /v1/ui-config; 64 if it does not say)."""
        if self._max_texts is None:
            try:
                self._max_texts = calls.max_texts(self._json(calls.ui_config()))
            except SpectrumError:  # an older server, or the page's config turned off
                self._max_texts = calls.DEFAULT_MAX_TEXTS_PER_REQUEST
        return self._max_texts

    def predict_many(
        self, texts: Iterable[str], *, batch_size: int | None = None, model: str | None = None
    ) -> Iterator[Prediction]:
        """Classify any number of texts, one predict per batch: predictions in input order.

        `texts` is read a batch at a time (a stream works); batch_size defaults to
        the server's per-request limit.
        """
        size = batch_size or self.max_texts_per_request()
        for batch in calls.batches(texts, size):
            yield from self.predict(batch, model=model)["predictions"]

    def models(self) -> list[ModelInfo]:
        """The models this gateway serves (GET /v1/models)."""
        return self.catalog()["models"]

    def catalog(self) -> Catalog:
        """GET /v1/models whole: the models, the default model's name and the aliases."""
        return calls.catalog(self._json(calls.models()))

    def health(self) -> Health:
        """Readiness (GET /readyz): `status` "ready", or "not ready" with the failing checks."""
        return calls.readiness(self._send(calls.health()))

    def submit(
        self,
        texts: Sequence[str] | None = None,
        *,
        file: str | Path | None = None,
        text_column: str = "text",
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        model: str | None = None,
    ) -> JobCreated:
        """Create a job from texts or a .csv/.jsonl/.txt file; answers its id and URLs.

        `model` names a model or an alias for every text of the job.
        """
        call = calls.submit(texts, file, text_column, callback_url, idempotency_key, model)
        return cast(JobCreated, self._json(call))

    def status(self, job_id: str) -> Job:
        return cast(Job, self._json(calls.status(job_id)))

    def cancel(self, job_id: str) -> Job:
        return cast(Job, self._json(calls.cancel(job_id)))

    def wait(
        self,
        job_id: str,
        *,
        poll_s: float = 0.5,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Job:
        """Poll until the job ends; on_progress sees every status read."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.status(job_id)
            if on_progress is not None:
                on_progress(job)
            if job["state"] in FINAL_STATES:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['state']} after {timeout} s")
            self._sleep(poll_s)

    def stream_results(self, job_id: str, fmt: str = "ndjson") -> Iterator[bytes]:
        """The results as the server streams them (NDJSON or CSV bytes)."""
        answer = self._send(calls.results(job_id, fmt), stream=True)
        if not answer.is_success:
            raise error_of(answer)
        try:
            yield from answer.iter_bytes()
        finally:
            answer.close()

    def export(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        model: str | None = None,
        fmt: str = "ndjson",
    ) -> Iterator[bytes]:
        """The prediction log's rows in [since, until) as the server streams them (NDJSON or
        CSV bytes; GET /v1/analytics/export). `since`/`until` are ISO 8601; None: the server's
        default (the last day)."""
        answer = self._send(calls.export(since, until, model, fmt), stream=True)
        if not answer.is_success:
            raise error_of(answer)
        try:
            yield from answer.iter_bytes()
        finally:
            answer.close()

    def results(self, job_id: str) -> Iterator[Result]:
        """One dict per text, in input order."""
        answer = self._send(calls.results(job_id), stream=True)
        if not answer.is_success:
            raise error_of(answer)
        try:
            for line in answer.iter_lines():
                if line.strip():
                    yield cast(Result, json.loads(line))
        finally:
            answer.close()
