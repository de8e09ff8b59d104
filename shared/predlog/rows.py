"""Prediction log rows: built from answers where they are made, sent as one stream entry.

A row is a plain dict with the table's columns (shared/predlog/schema.py) except `id`;
`at` travels as epoch seconds (float) and becomes a UTC datetime at insert. A stream
entry carries rows as a JSON list in field `rows`: a job chunk's, or the whole requests
a gateway process answered since its last flush (a request's rows are never split).
`text` is present only when texts are logged (SPECTRUM_LOG_TEXTS); `text_hash` always is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from spectrum.shared.predictions import Answer

Row = dict[str, Any]
ROWS_FIELD = "rows"


def text_hash(normalized_text: str) -> str:
    """sha256 hex of the normalized text: the digest the cache keys use."""
    return hashlib.sha256(normalized_text.encode("utf-8")).hexdigest()


def rows_for(
    texts: Sequence[str],
    answers: Sequence[Answer],
    versions: Sequence[str],
    *,
    model: str,
    source: str,
    at: float,
    latency_ms: float | None,
    log_texts: bool,
    alias: str | None = None,
    request_id: str | None = None,
    job_id: str | None = None,
    key: str | None = None,
) -> list[Row]:
    """One row per (normalized) text, in order; `texts`, `answers`, `versions` align."""
    rows = []
    for text, answer, version in zip(texts, answers, versions, strict=True):
        row: Row = {
            "at": at,
            "model": model,
            "version": version,
            "label": answer.label,
            "score": answer.score,
            "probabilities": answer.probabilities,
            "latency_ms": latency_ms,
            "cached": answer.cached,
            "truncated": answer.truncated,
            "source": source,
            "alias": alias,
            "request_id": request_id,
            "job_id": job_id,
            "key_id": key,
            "text_hash": text_hash(text),
        }
        if log_texts:
            row["text"] = text
        rows.append(row)
    return rows


def encode_rows(rows: Iterable[Row]) -> str:
    return json.dumps(list(rows), separators=(",", ":"))


def decode_rows(raw: bytes | str) -> list[Row]:
    """The rows of one stream entry; raises ValueError when it is not a list of objects."""
    rows = json.loads(raw)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError("a prediction log entry must be a JSON list of objects")
    return rows


# Bounded columns (schema.py): a longer value (a client's request id) is cut, not refused.
LIMITS = {
    "model": 128,
    "version": 64,
    "label": 64,
    "source": 16,
    "alias": 128,
    "request_id": 64,
    "job_id": 64,
    "key_id": 64,
}
OPTIONAL = ("alias", "request_id", "job_id", "key_id", "latency_ms", "text")


def for_insert(row: Row) -> Row:
    """A row as the table takes it: `at` a UTC datetime, optional columns present, strings cut."""
    out = dict(row)
    out["at"] = datetime.fromtimestamp(float(row["at"]), tz=UTC)
    for column in OPTIONAL:
        out.setdefault(column, None)
    for column, limit in LIMITS.items():
        value = out.get(column)
        if isinstance(value, str) and len(value) > limit:
            out[column] = value[:limit]
    return out
