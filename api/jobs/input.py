"""What a job is made of: texts from a CSV or a JSONL file, and its callback URL, checked.

Each text is then checked and normalized by shared/text.py's `job_texts`, as every
entry point's texts are.

Pure functions of bytes chunks and limits, so every refusal (bad encoding, missing
column, empty file, a row too long, too many rows) is a 4xx with the row it concerns
and is tested without a server. Files are read as they arrive: the readers take any
iterable of bytes chunks (a request body, a spooled upload read piece by piece) and
yield texts lazily, so an upload is never held whole, as bytes or as one str.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Literal
from urllib.parse import urlsplit

from spectrum.shared.callbacks import literal_refusal
from spectrum.shared.errors import InvalidInput, UnsupportedMediaType
from spectrum.shared.text import check_parameter

FileFormat = Literal["csv", "jsonl"]

CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
JSONL_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
MAX_CALLBACK_URL_CHARS = 2048
BOM = "\ufeff"
# Longest line of an uploaded file, in characters: a line holds one text (at most
# SPECTRUM_MAX_TEXT_CHARS) and its other columns. A line is held whole while it is
# read, so without a bound one 32 MiB line (4x that as a Python str with one emoji)
# would be held at once.
MAX_LINE_CHARS = 1024 * 1024
# Bytes one JSON string may take per character at most: an astral character escaped
# as a surrogate pair (\ud83d\ude00) is 12.
JSON_BYTES_PER_CHAR = 12
# Values a JSON job body may hold beyond its texts: its keys, callback_url and model.
JSON_SLACK_VALUES = 16
# One JSON token that is a value (or the start of one): a string, a number, a literal,
# an array or an object. Counted before the body is parsed, so that a body of millions
# of tiny values is refused before any of them is built.
_JSON_VALUE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|-?[0-9][0-9.eE+-]*|true|false|null|\[|\{')


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


def decoded(chunks: Iterable[bytes] | bytes) -> Iterator[str]:
    """The UTF-8 text of `chunks` (or of one bytes object), piece by piece, without a leading BOM.

    A character may be split between chunks. Bytes that are not UTF-8 (encoded
    surrogates included) raise InvalidInput naming the offset of the first bad byte
    in the whole file, the BOM counted. (The BOM is dropped here rather than by the
    utf-8-sig codec, whose errors count from after the BOM.)
    """
    if isinstance(chunks, bytes):
        chunks = [chunks]
    decoder = codecs.getincrementaldecoder("utf-8")()
    fed = 0  # bytes handed to the decoder before this chunk
    started = False
    for chunk, final in itertools.chain(((c, False) for c in chunks), [(b"", True)]):
        held = len(decoder.getstate()[0])  # the undecoded tail of the chunks before
        try:
            text = decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"the file is not UTF-8 (byte {fed - held + exc.start})") from None
        fed += len(chunk)
        if text and not started:
            started = True
            text = text.removeprefix(BOM)
        if text:
            yield text


def _blocks(pieces: Iterable[str], cut: Callable[[str], int]) -> Iterator[str]:
    """Text arriving in pieces, regrouped into blocks of whole lines; the rest last.

    `cut(piece)` is where the piece's last complete line ends (0: nowhere in it).
    A line longer than MAX_LINE_CHARS is refused as soon as it is, not held.
    """
    carry: list[str] = []  # the text after the last complete line end seen
    held = 0  # characters in carry
    for piece in pieces:
        at = cut(piece)
        if at == 0:
            carry.append(piece)
            held += len(piece)
            if held > MAX_LINE_CHARS:
                raise InvalidInput(f"a line is longer than {MAX_LINE_CHARS} characters")
            continue
        carry.append(piece[:at])
        yield "".join(carry)
        carry = [piece[at:]] if at < len(piece) else []
        held = len(piece) - at
    tail = "".join(carry)
    if tail:
        yield tail


def _csv_cut(piece: str) -> int:
    # A \r that ends the piece may be the first half of a \r\n: it waits for the next.
    return max(piece.rfind("\n"), piece.rfind("\r", 0, len(piece) - 1)) + 1


def _csv_lines(pieces: Iterable[str]) -> Iterator[str]:
    """The lines of text arriving in pieces, each with its line end (\\r\\n, \\r or \\n)."""
    for block in _blocks(pieces, _csv_cut):
        # What the csv module asks for: lines as io's newline="" cuts them (not splitlines).
        yield from io.StringIO(block, newline="").readlines()


def _jsonl_lines(pieces: Iterable[str]) -> Iterator[str]:
    r"""The lines of text arriving in pieces, split at \n only, a \r before it dropped.

    Only \n: JSON text may hold U+2028, U+2029 and U+0085 unescaped, which
    str.splitlines() would also split at (and \x0b, \x0c, \x1c-\x1e).
    """
    for block in _blocks(pieces, lambda piece: piece.rfind("\n") + 1):
        for line in block.removesuffix("\n").split("\n"):
            yield line.removesuffix("\r")


def read_csv(chunks: Iterable[bytes] | bytes, column: str, *, max_rows: int) -> Iterator[str]:
    """The `column` of every row of a CSV with a header line (blank lines before it skipped)."""
    reader = csv.reader(_csv_lines(decoded(chunks)), strict=True)
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        if header is None:
            raise InvalidInput("the file is empty")
        names = [name.strip() for name in header]
        if column not in names:
            shown = ", ".join(repr(n) for n in names[:20])
            raise InvalidInput(f"no column {column!r} in the CSV header (columns: {shown})")
        at = names.index(column)
        count = 0
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines are not rows
            if count == max_rows:
                raise InvalidInput(f"more than {max_rows} rows; split the file")
            if at >= len(row):
                raise InvalidInput(f"line {reader.line_num}: no value in column {column!r}")
            count += 1
            yield row[at]
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: not valid CSV ({exc})") from None


def read_jsonl(chunks: Iterable[bytes] | bytes, column: str, *, max_rows: int) -> Iterator[str]:
    """One JSON object per line with a string under `column` (or a bare JSON string)."""
    count = 0
    for number, line in enumerate(_jsonl_lines(decoded(chunks)), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {number}: not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise InvalidInput(f"line {number}: JSON nested too deep") from None
        except ValueError as exc:  # an integer of more digits than Python converts
            raise InvalidInput(f"line {number}: not valid JSON ({exc})") from None
        if isinstance(value, dict):
            value = value.get(column)
            if value is None:
                raise InvalidInput(f"line {number}: no {column!r} field")
        if not isinstance(value, str):
            raise InvalidInput(f"line {number}: {column!r} must be a string")
        if count == max_rows:
            raise InvalidInput(f"more than {max_rows} rows; split the file")
        count += 1
        yield value
    if count == 0:
        raise InvalidInput("the file is empty")


def check_json_size(data: bytes, *, max_texts: int, max_text_chars: int) -> None:
    """Refuse a JSON job body that holds more values, or longer strings, than a job may.

    Runs before the body is parsed, over its bytes, and stops at the first value past
    the bound: what a parse then builds is at most `max_texts` + JSON_SLACK_VALUES
    values, none longer than a text may be (escapes counted at their widest).
    """
    limit = max_texts + JSON_SLACK_VALUES
    longest = max(max_text_chars, MAX_CALLBACK_URL_CHARS) * JSON_BYTES_PER_CHAR + 2
    for count, token in enumerate(_JSON_VALUE.finditer(data)):
        if count == limit:
            raise InvalidInput(
                f"the body holds more than {limit} JSON values: a job holds at most "
                f"{max_texts} texts (SPECTRUM_JOB_MAX_TEXTS); split the texts over several jobs"
            )
        if token.end() - token.start() > longest:
            raise InvalidInput(
                f"the body holds a JSON value of {token.end() - token.start()} bytes at byte "
                f"{token.start()}: a text is at most {max_text_chars} characters "
                "(SPECTRUM_MAX_TEXT_CHARS)"
            )


def read_file(
    chunks: Iterable[bytes] | bytes, fmt: FileFormat, column: str, *, max_rows: int
) -> Iterator[str]:
    """The texts of an uploaded file, in file order, read as the chunks arrive."""
    check_parameter("text_column", column)
    if fmt == "csv":
        return read_csv(chunks, column, max_rows=max_rows)
    return read_jsonl(chunks, column, max_rows=max_rows)


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
