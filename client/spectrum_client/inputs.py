"""Texts from a file or a stream: plain text (one per line), CSV or JSONL, read lazily.

CSV and JSONL follow the rules the API applies to a job's file (api/jobs/input.py),
so a file that `spectrum predict --file` reads is one `spectrum submit` would send
unchanged: a CSV needs a header line (blank lines before it are skipped) and the
texts are in the `column` named there; a JSONL line is an object with a string
under `column`, or a bare JSON string; blank lines are skipped in every format.
tests/unit/client/test_inputs.py checks the two readers agree.

Errors are ValueError naming the line, raised when the reader gets there: texts
before it may already have been used.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal, TextIO

Format = Literal["txt", "csv", "jsonl"]
FORMATS: dict[str, Format] = {".txt": "txt", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def format_of(path: Path) -> Format:
    """The format a file's extension names; anything unknown is plain text, one per line."""
    return FORMATS.get(path.suffix.lower(), "txt")


def plain_lines(lines: Iterable[str]) -> Iterator[str]:
    """Every line that is not blank, without its line end."""
    for line in lines:
        text = line.rstrip("\r\n")
        if text.strip():
            yield text


def csv_texts(lines: Iterable[str], column: str) -> Iterator[str]:
    """The `column` of every row after the header line; blank rows are not rows."""
    reader = csv.reader(lines, strict=True)
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        if header is None:
            raise ValueError("the file is empty")
        names = [name.strip() for name in header]
        if column not in names:
            shown = ", ".join(repr(name) for name in names[:20])
            raise ValueError(f"no column {column!r} in the CSV header (columns: {shown})")
        at = names.index(column)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if at >= len(row):
                raise ValueError(f"line {reader.line_num}: no value in column {column!r}")
            yield row[at]
    except csv.Error as exc:
        raise ValueError(f"line {reader.line_num}: not valid CSV ({exc})") from None


def jsonl_texts(lines: Iterable[str], column: str) -> Iterator[str]:
    r"""The string under `column` of each line's object (or the line's bare string).

    Lines end at \n only, as the API reads them: JSON may hold U+2028 unescaped.
    """
    count = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.removesuffix("\n").removesuffix("\r")
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number}: not valid JSON ({exc.msg})") from None
        if isinstance(value, dict):
            value = value.get(column)
            if value is None:
                raise ValueError(f"line {number}: no {column!r} field")
        if not isinstance(value, str):
            raise ValueError(f"line {number}: {column!r} must be a string")
        count += 1
        yield value
    if count == 0:
        raise ValueError("the file is empty")


def stream_texts(stream: TextIO, fmt: Format, column: str = "text") -> Iterator[str]:
    """The texts of an open text stream (a file opened as `open_texts` does, or stdin)."""
    if fmt == "csv":
        return csv_texts(stream, column)
    if fmt == "jsonl":
        return jsonl_texts(stream, column)
    return plain_lines(stream)


def file_texts(path: Path, fmt: Format | None = None, column: str = "text") -> Iterator[str]:
    """The texts of a UTF-8 file (a leading BOM ignored), in file order, read as needed."""
    fmt = fmt or format_of(path)
    # csv wants newline="" (it sees \r\n inside quotes); JSONL lines end at \n only.
    newline = {"csv": "", "jsonl": "\n"}.get(fmt)
    with path.open(encoding="utf-8-sig", newline=newline) as stream:
        yield from stream_texts(stream, fmt, column)
