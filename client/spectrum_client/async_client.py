"""AsyncSpectrumClient: SpectrumClient's methods, awaitable, with the same retries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import cast

import httpx

from spectrum_client import calls
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

ProgressCallback = Callable[[Job], None]


class AsyncSpectrumClient:
    """Awaitable client with the same methods as SpectrumClient."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = 60,
        http: httpx.AsyncClient | None = None,
        retry: Retry | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http or httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, headers=auth_headers(api_key)
        )
        self._retry = retry or Retry()
        self._sleep = sleep
        self._max_texts: int | None = None

    async def __aenter__(self) -> AsyncSpectrumClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        """The final answer to `call`, success or not, after the retries it earned."""
        attempt, waited = 1, 0.0
        while True:
            request = self._http.build_request(call.method, call.url, **call.options)
            try:
                answer = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = self._retry.after_error(exc, attempt, waited)
                if delay is None:
                    raise
            else:
                refused = call.retry_refusals
                delay = self._retry.after_answer(answer, attempt, waited) if refused else None
                if delay is None:
                    if stream and not answer.is_success:
                        await answer.aread()  # the error body, for error_of
                        await answer.aclose()
                    return answer
                await answer.aclose()
            await self._sleep(delay)
            waited += delay
            attempt += 1

    async def _json(self, call: Call) -> object:
        answer = await self._send(call)
        raise_for(answer)
        return answer.json()

    async def predict(
        self, texts: str | Sequence[str], *, model: str | None = None
    ) -> PredictAnswer:
        return cast(PredictAnswer, await self._json(calls.predict(texts, model)))

    async def compare(self, texts: str | Sequence[str], models: Sequence[str]) -> CompareAnswer:
        return cast(CompareAnswer, await self._json(calls.compare(texts, models)))

    async def max_texts_per_request(self) -> int:
        if self._max_texts is None:
            try:
                self._max_texts = calls.max_texts(await self._json(calls.ui_config()))
            except SpectrumError:  # an older server, or the page's config turned off
                self._max_texts = calls.DEFAULT_MAX_TEXTS_PER_REQUEST
        return self._max_texts

    async def predict_many(
        self, texts: Iterable[str], *, batch_size: int | None = None, model: str | None = None
    ) -> AsyncIterator[Prediction]:
        size = batch_size or await self.max_texts_per_request()
        for batch in calls.batches(texts, size):
            for prediction in (await self.predict(batch, model=model))["predictions"]:
                yield prediction

    async def models(self) -> list[ModelInfo]:
        return (await self.catalog())["models"]

    async def catalog(self) -> Catalog:
        return calls.catalog(await self._json(calls.models()))

    async def health(self) -> Health:
        return calls.readiness(await self._send(calls.health()))

    async def submit(
        self,
        texts: Sequence[str] | None = None,
        *,
        file: str | Path | None = None,
        text_column: str = "text",
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        model: str | None = None,
    ) -> JobCreated:
        call = calls.submit(texts, file, text_column, callback_url, idempotency_key, model)
        return cast(JobCreated, await self._json(call))

    async def status(self, job_id: str) -> Job:
        return cast(Job, await self._json(calls.status(job_id)))

    async def cancel(self, job_id: str) -> Job:
        return cast(Job, await self._json(calls.cancel(job_id)))

    async def wait(
        self, job_id: str, *, poll_s: float = 0.5, on_progress: ProgressCallback | None = None
    ) -> Job:
        """Poll until the job ends; bound it with `asyncio.timeout(...)` if needed."""
        while True:
            job = await self.status(job_id)
            if on_progress is not None:
                on_progress(job)
            if job["state"] in FINAL_STATES:
                return job
            await self._sleep(poll_s)

    async def results(self, job_id: str) -> AsyncIterator[Result]:
        answer = await self._send(calls.results(job_id), stream=True)
        if not answer.is_success:
            raise error_of(answer)
        try:
            async for line in answer.aiter_lines():
                if line.strip():
                    yield cast(Result, json.loads(line))
        finally:
            await answer.aclose()
