"""What a job is made of: texts from a JSON list, a CSV or a JSONL file, checked and normalized.

Pure functions of bytes and limits, so every refusal (bad encoding, missing column,
empty file, a row too long, too many rows) is a 4xx with the row it concerns and
is tested without a server.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlsplit

from shared.callbacks import literal_refusal
from shared.errors import InvalidInput, UnsupportedMediaType
from shared.text import check_parameter, clean_text

FileFormat = Literal["csv", "jsonl"]

CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
JSONL_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
MAX_CALLBACK_URL_CHARS = 2048


def file_format(content_type: str | None, filename: str | None = None) -> FileFormat:
    """CSV or JSONL, from the media type (parameters ignored) or else the file's extension."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    name = (filename or "").lower()
    if name.endswith(".csv") or (media in CSV_TYPES and not name.endswith((".jsonl", ".ndjson"))):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")) or media in JSONL_TYPES:
        return "jsonl"
    raise UnsupportedMediaType(
        f"cannot read {media or 'an untyped body'}"
        f"{f' ({filename})' if filename else ''}: send application/json, text/csv, "
        "application/x-ndjson, or a multipart upload of a .csv or .jsonl file"
    )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the file is not UTF-8 (byte {exc.start})") from None


def read_csv(data: bytes, column: str, *, max_rows: int) -> list[str]:
    """The `column` of every row of a CSV with a header line."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("the file is empty")
        names = [name.strip() for name in header]
        if column not in names:
            shown = ", ".join(repr(n) for n in names[:20])
            raise InvalidInput(f"no column {column!r} in the CSV header (columns: {shown})")
        at = names.index(column)
        texts: list[str] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines are not rows
            if len(texts) == max_rows:
                raise InvalidInput(f"more than {max_rows} rows; split the file")
            if at >= len(row):
                raise InvalidInput(f"line {reader.line_num}: no value in column {column!r}")
            texts.append(row[at])
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: not valid CSV ({exc})") from None
    return texts


def read_jsonl(data: bytes, column: str, *, max_rows: int) -> list[str]:
    """One JSON object per line with a string under `column` (or a bare JSON string)."""
    texts: list[str] = []
    for number, line in enumerate(_decode(data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {number}: not valid JSON ({exc.msg})") from None
        if isinstance(value, dict):
            value = value.get(column)
            if value is None:
                raise InvalidInput(f"line {number}: no {column!r} field")
        if not isinstance(value, str):
            raise InvalidInput(f"line {number}: {column!r} must be a string")
        if len(texts) == max_rows:
            raise InvalidInput(f"more than {max_rows} rows; split the file")
        texts.append(value)
    return texts


def read_file(data: bytes, fmt: FileFormat, column: str, *, max_rows: int) -> list[str]:
    """The texts of an uploaded file, in file order."""
    check_parameter("text_column", column)
    if not data.strip():
        raise InvalidInput("the file is empty")
    if fmt == "csv":
        return read_csv(data, column, max_rows=max_rows)
    return read_jsonl(data, column, max_rows=max_rows)


def normalize_all(
    texts: Iterable[str], *, max_texts: int, max_chars: int, item: str = "texts"
) -> list[str]:
    """Normalized texts, or InvalidInput naming the first one that breaks a limit.

    `item` names an entry in errors: "texts" gives `texts[3]`, "row" gives `row 4`
    (rows count from 1, after the header).
    """

    def name(index: int) -> str:
        return f"texts[{index}]" if item == "texts" else f"{item} {index + 1}"

    normalized = []
    for index, text in enumerate(texts):
        if index == max_texts:
            raise InvalidInput(f"more than {max_texts} texts in one job")
        normalized.append(clean_text(text, name(index), max_chars=max_chars))
    if not normalized:
        raise InvalidInput("the job has no texts")
    return normalized


def check_callback_url(url: str | None, *, allow_private: bool = False) -> str | None:
    """An absolute http(s) URL with a host that is not a private IP literal, or InvalidInput."""
    if url is None or url == "":
        return None
    check_parameter("callback_url", url)
    if len(url) > MAX_CALLBACK_URL_CHARS:
        raise InvalidInput(f"callback_url: longer than {MAX_CALLBACK_URL_CHARS} characters")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port out of range or not a number
    except ValueError:
        raise InvalidInput("callback_url: the port is not a number from 0 to 65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("callback_url: must be an absolute http:// or https:// URL")
    if any(c.isspace() for c in url):
        raise InvalidInput("callback_url: must not contain whitespace")
    refusal = None if allow_private else literal_refusal(parts.hostname)
    if refusal is not None:
        raise InvalidInput(refusal)
    return url
