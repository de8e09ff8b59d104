"""SpectrumClient and AsyncSpectrumClient: the same methods, blocking or awaitable."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
FILE_TYPES = {
    ".csv": "text/csv",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
}

Job = dict[str, Any]
ProgressCallback = Callable[[Job], None]


class SpectrumError(Exception):
    """An error answer from the API: its HTTP status, error class and detail."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The header an API with keys on expects (SPECTRUM_API_KEYS on the server)."""
    return {"X-API-Key": api_key} if api_key else {}


def _raise_for(answer: httpx.Response) -> None:
    if answer.is_success:
        return
    try:
        body = answer.json()
        error, detail = str(body["error"]), str(body["detail"])
    except (ValueError, KeyError, TypeError):
        error, detail = "HTTPError", answer.text[:500]
    raise SpectrumError(answer.status_code, error, detail)


def _submission(
    texts: Sequence[str] | None,
    file: str | Path | None,
    text_column: str,
    callback_url: str | None,
    idempotency_key: str | None,
) -> dict[str, Any]:
    """The keyword arguments of the POST /v1/jobs request."""
    if (texts is None) == (file is None):
        raise ValueError("give exactly one of texts or file")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    if texts is not None:
        body: dict[str, Any] = {"texts": list(texts)}
        if callback_url:
            body["callback_url"] = callback_url
        return {"json": body, "headers": headers}
    path = Path(file)  # type: ignore[arg-type]
    if path.suffix.lower() == ".txt":  # one text per line
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return _submission(lines, None, text_column, callback_url, idempotency_key)
    media = FILE_TYPES.get(path.suffix.lower())
    if media is None:
        raise ValueError(f"{path.name}: give a .csv, .jsonl, .ndjson or .txt file")
    params = {"text_column": text_column}
    if callback_url:
        params["callback_url"] = callback_url
    return {
        "params": params,
        "headers": headers,
        "files": {"file": (path.name, path.read_bytes(), media)},
    }


def _lines(chunks: Iterator[str]) -> Iterator[Job]:
    for line in chunks:
        if line.strip():
            yield json.loads(line)


class SpectrumClient:
    """Blocking client. Use as a context manager, or call close()."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = 60,
        http: httpx.Client | None = None,
    ) -> None:
        self._http = http or httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers=auth_headers(api_key)
        )

    def __enter__(self) -> SpectrumClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def predict(self, texts: str | Sequence[str]) -> dict[str, Any]:
        """Classify now (POST /v1/predict): one text or up to the server's per-request limit."""
        body = {"text": texts} if isinstance(texts, str) else {"texts": list(texts)}
        answer = self._http.post("/v1/predict", json=body)
        _raise_for(answer)
        return dict(answer.json())

    def submit(
        self,
        texts: Sequence[str] | None = None,
        *,
        file: str | Path | None = None,
        text_column: str = "text",
        callback_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Create a job from texts or a .csv/.jsonl/.txt file; answers its id and URLs."""
        request = _submission(texts, file, text_column, callback_url, idempotency_key)
        answer = self._http.post("/v1/jobs", **request)
        _raise_for(answer)
        return dict(answer.json())

    def status(self, job_id: str) -> Job:
        answer = self._http.get(f"/v1/jobs/{job_id}")
        _raise_for(answer)
        return dict(answer.json())

    def cancel(self, job_id: str) -> Job:
        answer = self._http.delete(f"/v1/jobs/{job_id}")
        _raise_for(answer)
        return dict(answer.json())

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
            time.sleep(poll_s)

    def stream_results(self, job_id: str, fmt: str = "ndjson") -> Iterator[bytes]:
        """The results as the server streams them (NDJSON or CSV bytes)."""
        with self._http.stream("GET", f"/v1/jobs/{job_id}/results", params={"format": fmt}) as r:
            if not r.is_success:
                r.read()
                _raise_for(r)
            yield from r.iter_bytes()

    def results(self, job_id: str) -> Iterator[Job]:
        """One dict per text, in input order."""
        with self._http.stream("GET", f"/v1/jobs/{job_id}/results") as answer:
            if not answer.is_success:
                answer.read()
                _raise_for(answer)
            yield from _lines(answer.iter_lines())


class AsyncSpectrumClient:
    """Awaitable client with the same methods as SpectrumClient."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = 60,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http or httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, headers=auth_headers(api_key)
        )

    async def __aenter__(self) -> AsyncSpectrumClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def predict(self, texts: str | Sequence[str]) -> dict[str, Any]:
        body = {"text": texts} if isinstance(texts, str) else {"texts": list(texts)}
        answer = await self._http.post("/v1/predict", json=body)
        _raise_for(answer)
        return dict(answer.json())

    async def submit(
        self,
        texts: Sequence[str] | None = None,
        *,
        file: str | Path | None = None,
        text_column: str = "text",
        callback_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        request = _submission(texts, file, text_column, callback_url, idempotency_key)
        answer = await self._http.post("/v1/jobs", **request)
        _raise_for(answer)
        return dict(answer.json())

    async def status(self, job_id: str) -> Job:
        answer = await self._http.get(f"/v1/jobs/{job_id}")
        _raise_for(answer)
        return dict(answer.json())

    async def cancel(self, job_id: str) -> Job:
        answer = await self._http.delete(f"/v1/jobs/{job_id}")
        _raise_for(answer)
        return dict(answer.json())

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
            await asyncio.sleep(poll_s)

    async def results(self, job_id: str) -> AsyncIterator[Job]:
        async with self._http.stream("GET", f"/v1/jobs/{job_id}/results") as answer:
            if not answer.is_success:
                await answer.aread()
                _raise_for(answer)
            async for line in answer.aiter_lines():
                if line.strip():
                    yield json.loads(line)
