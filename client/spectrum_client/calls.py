"""Each API call described once, as data the sync and the async client both send.

A Call says what to send; building one reads nothing from the network, so both
clients share every request's shape. Every call is safe to send twice (retry.py
relies on it): a submit always carries an Idempotency-Key.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx

from spectrum_client.errors import error_of
from spectrum_client.inputs import file_texts
from spectrum_client.schemas import Catalog, Health

DEFAULT_URL = "http://127.0.0.1:8000"
# What a server answers when /v1/ui-config cannot be read (the API's own default).
DEFAULT_MAX_TEXTS_PER_REQUEST = 64
UPLOAD_TYPES = {
    ".csv": "text/csv",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
}

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)  # httpx's json, params, files, headers
    # False where a 429/503 is itself the answer (/readyz says "not ready" with a 503).
    retry_refusals: bool = True


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The header an API with keys on expects (SPECTRUM_API_KEYS on the server)."""
    return {"X-API-Key": api_key} if api_key else {}


def _texts_body(texts: str | Sequence[str]) -> dict[str, Any]:
    return {"text": texts} if isinstance(texts, str) else {"texts": list(texts)}


def predict(texts: str | Sequence[str], model: str | None = None) -> Call:
    """`model`: a model name or an alias; None leaves the choice to the server's default."""
    # Classifying is a pure function of the text: sending it twice costs, never harms.
    body = _texts_body(texts)
    if model is not None:
        body["model"] = model
    return Call("POST", "/v1/predict", options={"json": body})


def compare(texts: str | Sequence[str], models: Sequence[str]) -> Call:
    # Like predict, a pure function of the texts: safe to send twice.
    body = {**_texts_body(texts), "models": list(models)}
    return Call("POST", "/v1/compare", options={"json": body})


def models() -> Call:
    return Call("GET", "/v1/models")


def health() -> Call:
    return Call("GET", "/readyz", retry_refusals=False)


def ui_config() -> Call:
    return Call("GET", "/v1/ui-config")


def status(job_id: str) -> Call:
    return Call("GET", f"/v1/jobs/{job_id}")


def cancel(job_id: str) -> Call:
    # Cancelling a cancelled job answers it again: a second DELETE changes nothing.
    return Call("DELETE", f"/v1/jobs/{job_id}")


def results(job_id: str, fmt: str = "ndjson") -> Call:
    params = {"format": fmt}
    return Call("GET", f"/v1/jobs/{job_id}/results", options={"params": params})


def export(since: str | None, until: str | None, model: str | None, fmt: str) -> Call:
    params = {"format": fmt}
    for name, value in (("since", since), ("until", until), ("model", model)):
        if value is not None:
            params[name] = value
    return Call("GET", "/v1/analytics/export", options={"params": params})


def submit(
    texts: Sequence[str] | None,
    file: str | Path | None,
    text_column: str,
    callback_url: str | None,
    idempotency_key: str | None,
    model: str | None = None,
) -> Call:
    """POST /v1/jobs with texts as JSON, a .txt's lines as JSON, or a .csv/.jsonl upload.

    `model` goes in the JSON body, or as `?model=` with an upload.
    """
    if (texts is None) == (file is None):
        raise ValueError("give exactly one of texts or file")
    # A key made for this call when the caller gives none: a retry after a lost
    # connection or a 503 whose job was made after all then finds that job rather
    # than making a second one. (The server keeps a key as long as its job.)
    headers = {"Idempotency-Key": idempotency_key or secrets.token_hex(16)}
    if texts is not None:
        body: dict[str, Any] = {"texts": list(texts)}
        if callback_url:
            body["callback_url"] = callback_url
        if model is not None:
            body["model"] = model
        return Call("POST", "/v1/jobs", {"json": body, "headers": headers})
    path = Path(file)  # type: ignore[arg-type]
    suffix = path.suffix.lower()
    if suffix == ".txt":  # one text per line
        lines = list(file_texts(path, "txt"))
        return submit(lines, None, text_column, callback_url, idempotency_key, model)
    media = UPLOAD_TYPES.get(suffix)
    if media is None:
        raise ValueError(f"{path.name}: give a .csv, .jsonl, .ndjson or .txt file")
    params = {"text_column": text_column}
    if callback_url:
        params["callback_url"] = callback_url
    if model is not None:
        params["model"] = model
    upload = {"file": (path.name, path.read_bytes(), media)}
    return Call("POST", "/v1/jobs", {"params": params, "headers": headers, "files": upload})


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last one shorter), taken as needed."""
    if size < 1:
        raise ValueError("a batch holds at least one item")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def max_texts(config: object) -> int:
    """The per-request limit a /v1/ui-config body states, or the API's default."""
    if isinstance(config, dict):
        value = config.get("max_texts_per_request")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return DEFAULT_MAX_TEXTS_PER_REQUEST


def readiness(answer: httpx.Response) -> Health:
    """/readyz's body: a 200, or a 503 that lists the checks; any other answer raises."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code in (200, 503) and isinstance(body, dict) and "checks" in body:
        return cast(Health, body)
    raise error_of(answer)


def catalog(body: object) -> Catalog:
    """GET /v1/models's body with `default` and `aliases` filled in for older servers."""
    if not isinstance(body, dict) or not isinstance(body.get("models"), list):
        raise ValueError("GET /v1/models did not answer a list of models")
    default = body.get("default")
    aliases = body.get("aliases")
    return {
        "default": default if isinstance(default, str) else None,
        "models": body["models"],
        "aliases": aliases if isinstance(aliases, list) else [],
    }
