"""/v1/jobs: submit texts or a file, poll the job, stream its results, cancel it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from functools import partial
from typing import Annotated, Any

import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from spectrum.api.app.resources import ResourcesDep
from spectrum.api.edge.errors import documented, problems_of
from spectrum.api.jobs.input import (
    FileFormat,
    check_callback_url,
    check_json_size,
    file_format,
    read_file,
)
from spectrum.api.jobs.results import MEDIA_TYPES, ResultFormat, render
from spectrum.api.jobs.schemas import JobCreated, JobRequest, JobView
from spectrum.api.models.schemas import MAX_MODEL_CHARS
from spectrum.shared.config import Settings
from spectrum.shared.errors import InvalidInput
from spectrum.shared.jobs import JobSummary
from spectrum.shared.text import check_parameter, job_texts

router = APIRouter(prefix="/v1", tags=["jobs"])

MAX_KEY_CHARS = 255
READ_BYTES = 64 * 1024  # of a spooled upload at a time

SUBMIT_ERRORS = documented(400, 401, 404, 409, 413, 415, 422, 429, 503)
JOB_ERRORS = documented(401, 404, 410, 422, 429, 503)
# Answers as /docs shows them (a unit test checks that they parse as their models).
CREATED_EXAMPLE = {
    "id": "5c0f9a2e4b1d4e8f",
    "state": "queued",
    "status_url": "/v1/jobs/5c0f9a2e4b1d4e8f",
    "results_url": "/v1/jobs/5c0f9a2e4b1d4e8f/results",
}
VIEW_EXAMPLE = {
    **CREATED_EXAMPLE,
    "state": "running",
    "model": "sentiment-minilm",
    "labels": ["NEGATIVE", "POSITIVE"],
    "progress": {
        "total": 2000,
        "done": 1200,
        "failed": 0,
        "skipped": 0,
        "cached": 40,
        "chunks": 8,
        "chunks_finished": 5,
    },
    "created_at": 1764583200.0,
    "started_at": 1764583200.4,
    "finished_at": None,
    "webhook": None,
    "results": None,
}


def _example(body: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"example": body}}}


SUBMIT_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": JobRequest.model_json_schema()},
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "text_column": {"type": "string"},
                        "callback_url": {"type": "string"},
                    },
                    "required": ["file"],
                }
            },
        }
    }
}


def _urls(job_id: str) -> tuple[str, str]:
    return f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/results"


def _in_body(error: Any) -> dict[str, Any]:
    return {**error, "loc": ("body", *error["loc"])}


def _pulled(stream: AsyncIterator[bytes]) -> Iterator[bytes]:
    """`stream` read from a worker thread: each chunk is awaited on the event loop.

    The file readers are plain iterators (csv.reader cannot be fed asynchronously), so
    they run in a thread and pull the body from there as they need it.
    """

    async def next_chunk() -> bytes | None:
        return await anext(stream, None)

    while (chunk := anyio.from_thread.run(next_chunk)) is not None:
        yield chunk


def _read_upload(
    chunks: Iterable[bytes], fmt: FileFormat, column: str, settings: Settings
) -> list[str]:
    """The normalized texts of a file, each row normalized as it is read (none held raw)."""
    rows = read_file(chunks, fmt, column, max_rows=settings.job_max_texts)
    return job_texts(rows, settings, item="row")


def _read_json_job(
    held: list[bytes], settings: Settings
) -> tuple[list[str], str | None, str | None]:
    """The normalized texts, callback URL and model of a JSON job body (taken from `held`).

    Its size is checked before it is parsed (api/jobs/input.py), the bytes are freed
    once parsed and each raw text as it is normalized: at most the body, then the
    parsed texts, then their normalized copies are held, never all three whole.
    """
    data = held.pop()
    check_json_size(data, max_texts=settings.job_max_texts, max_text_chars=settings.max_text_chars)
    try:
        body = JobRequest.model_validate_json(data)
    except ValidationError as exc:
        # As FastAPI's own validation errors read: each place under "body".
        in_body = [_in_body(err) for err in exc.errors()]
        raise InvalidInput(*problems_of(in_body, "a JSON object with 'texts'")) from None
    del data
    raw, url, model = body.texts, body.callback_url, body.model
    del body
    return job_texts(_consumed(raw), settings), url, model


def _consumed(items: list[str]) -> Iterator[str]:
    """The items in order, each dropped from `items` as it is taken, so that the raw
    texts are freed while their normalized copies are made, not after."""
    items.reverse()
    while items:
        yield items.pop()


async def _texts_and_callback(
    request: Request,
    resources: ResourcesDep,
    text_column: str,
    callback_url: str | None,
    model: str | None,
) -> tuple[list[str], str | None, str | None]:
    """The job's texts, callback URL and model (the JSON body's, else the query's)."""
    settings = resources.settings
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    # The body's size is capped once, for every content type, by the body limit
    # (api/edge/body_limit.py: SPECTRUM_JOB_MAX_UPLOAD_BYTES for this route).
    if media == "application/json":
        # Pydantic validates bytes in place (a bytearray it would copy first).
        # Handed over in a list, so that the thread holds the only reference and frees
        # the bytes once they are parsed.
        data = [b"".join([piece async for piece in request.stream()])]
        texts, url, named = await anyio.to_thread.run_sync(_read_json_job, data, settings)
        checked = check_callback_url(
            url or callback_url, allow_private=settings.webhook_allow_private
        )
        return texts, checked, named or model
    if media == "multipart/form-data":
        # Starlette's parser reads the request's own stream and spools the file to a
        # temporary file past 1 MiB; the file is then read from there in chunks.
        try:
            form = await request.form(max_files=1, max_fields=8)
        except HTTPException as exc:  # Starlette's answer to a malformed multipart body
            raise InvalidInput(f"multipart upload: {exc.detail}") from None
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInput("multipart upload: give the file in a field named 'file'")
            column = form.get("text_column")
            callback = form.get("callback_url")
            fmt = file_format(upload.content_type, upload.filename)
            text_column = column if isinstance(column, str) and column else text_column
            callback_url = callback if isinstance(callback, str) and callback else callback_url
            spooled = iter(partial(upload.file.read, READ_BYTES), b"")
            texts = await anyio.to_thread.run_sync(
                _read_upload, spooled, fmt, text_column, settings
            )
        finally:
            await form.close()
    else:
        fmt = file_format(media)
        stream = request.stream()
        try:
            texts = await anyio.to_thread.run_sync(
                _read_upload, _pulled(stream), fmt, text_column, settings
            )
        finally:
            await stream.aclose()
    checked = check_callback_url(callback_url, allow_private=settings.webhook_allow_private)
    return texts, checked, model


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobCreated,
    responses={202: _example(CREATED_EXAMPLE), **SUBMIT_ERRORS},
    openapi_extra=SUBMIT_BODY,
)
async def submit_job(
    request: Request,
    resources: ResourcesDep,
    response: Response,
    text_column: Annotated[str, Query(description="The text column of a CSV/JSONL file.")] = "text",
    callback_url: Annotated[str | None, Query(description="Webhook for the summary.")] = None,
    model: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_MODEL_CHARS,
            description='A model name or alias for a file upload; a JSON body says "model".',
        ),
    ] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JobCreated:
    """Submit texts (JSON) or a CSV/JSONL file as a job; poll its status URL."""
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY_CHARS:
        raise InvalidInput(f"Idempotency-Key: 1 to {MAX_KEY_CHARS} characters")
    check_parameter("Idempotency-Key", idempotency_key)
    texts, callback, model = await _texts_and_callback(
        request, resources, text_column, callback_url, model
    )
    if callback is not None and resources.settings.webhook_secret is None:
        raise InvalidInput("callback_url: webhooks are off (SPECTRUM_WEBHOOK_SECRET is not set)")
    submitted = await resources.jobs.submit(texts, callback, idempotency_key, model)
    job = submitted.job
    status_url, results_url = _urls(job.id)
    response.headers["Location"] = status_url
    if submitted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return JobCreated(id=job.id, state=job.state, status_url=status_url, results_url=results_url)


def _view(job: JobSummary, results: list[dict[str, Any]] | None = None) -> JobView:
    status_url, results_url = _urls(job.id)
    return JobView(
        **job.model_dump(), status_url=status_url, results_url=results_url, results=results
    )


@router.get(
    "/jobs/{job_id}", response_model=JobView, responses={200: _example(VIEW_EXAMPLE), **JOB_ERRORS}
)
async def get_job(job_id: str, resources: ResourcesDep) -> JobView:
    """Report a job's state, progress and timestamps, and its results once it ended."""
    job = await resources.jobs.get(job_id)
    return _view(job, await resources.jobs.inline_results(job))


@router.delete(
    "/jobs/{job_id}",
    response_model=JobView,
    responses={
        200: _example({**VIEW_EXAMPLE, "state": "cancelled", "finished_at": 1764583260.0}),
        **documented(401, 404, 409, 410, 422, 429, 503),
    },
)
async def cancel_job(job_id: str, resources: ResourcesDep) -> JobView:
    """Cancel a job: chunks not yet started are skipped; results so far stay readable."""
    return _view(await resources.jobs.cancel(job_id))


@router.get(
    "/jobs/{job_id}/results",
    response_class=StreamingResponse,
    responses={
        **JOB_ERRORS,
        200: {
            "content": {
                "application/x-ndjson": {
                    "example": '{"index":0,"label":"POSITIVE","score":0.9878,'
                    '"probabilities":{"NEGATIVE":0.0122,"POSITIVE":0.9878},"cached":false}\n'
                },
                "text/csv": {
                    "example": "index,label,score,p_NEGATIVE,p_POSITIVE,cached,truncated,error\n"
                    "0,POSITIVE,0.9878,0.0122,0.9878,false,false,\n"
                },
            },
            "description": "One result per text in input order (finished chunks only).",
        },
    },
)
async def get_job_results(
    job_id: str,
    resources: ResourcesDep,
    format: Annotated[
        ResultFormat | None, Query(description="ndjson (default) or csv; or send Accept.")
    ] = None,
    accept: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Stream a job's results as NDJSON or CSV, in input order, chunk by chunk."""
    job = await resources.jobs.get(job_id)
    fmt: ResultFormat = format or ("csv" if accept and "text/csv" in accept else "ndjson")
    headers: dict[str, str] = {"X-Job-State": job.state}
    if fmt == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{job.id}.csv"'
    return StreamingResponse(
        render(resources.jobs.chunks(job), fmt, job.labels),
        media_type=MEDIA_TYPES[fmt],
        headers=headers,
    )
