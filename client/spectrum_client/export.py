"""`spectrum export`: the prediction log's rows streamed into a .csv, .ndjson or .parquet file.

CSV and NDJSON are written as the server streams them. Parquet is built from the
NDJSON stream a batch of rows at a time (memory holds one batch), and needs
pyarrow: the client's `parquet` extra; without it the CLI says so before any
request. Every format is written to `<file>.part` first and renamed when complete,
so a broken export never leaves a file that looks whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from spectrum_client.client import SpectrumClient

ExportFormat = Literal["csv", "ndjson", "parquet"]
FORMATS: dict[str, ExportFormat] = {
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
}
PARQUET_BATCH_ROWS = 10_000
_AGO = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class MissingExtra(ImportError):
    """An optional dependency the asked-for feature needs is not installed."""


def export_format(path: Path) -> ExportFormat:
    """The file's format, from its extension."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ValueError(
            f"cannot tell the format of {path.name}: name it .csv, .ndjson or .parquet"
        ) from None


def when(value: str | None, now: datetime) -> str | None:
    """An ISO 8601 time for the server: ISO 8601 kept, `90m`, `24h` or `7d` taken as ago."""
    if value is None:
        return None
    ago = _AGO.match(value.strip())
    if ago:
        delta = timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
        return (now - delta).isoformat()
    try:
        return datetime.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(
            f"not a time: {value!r} (ISO 8601, e.g. 2026-12-01T00:00Z, or 90m, 24h, 7d ago)"
        ) from None


def pyarrow_modules() -> tuple[ModuleType, ModuleType]:
    """pyarrow and pyarrow.parquet, or MissingExtra naming the extra that brings them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise MissingExtra(
            "writing .parquet needs pyarrow: pip install 'spectrum-client[parquet]' "
            "(or write .csv or .ndjson)"
        ) from None
    return pyarrow, pyarrow.parquet


def save_export(
    client: SpectrumClient,
    path: Path,
    *,
    since: str | None = None,
    until: str | None = None,
    model: str | None = None,
    now: datetime | None = None,
) -> int:
    """Write the rows to `path` (format from its extension); answers the rows written."""
    fmt = export_format(path)
    modules = pyarrow_modules() if fmt == "parquet" else None
    moment = now or datetime.now(UTC)
    start, end = when(since, moment), when(until, moment)
    wire = "csv" if fmt == "csv" else "ndjson"
    pieces = client.export(since=start, until=end, model=model, fmt=wire)
    part = path.with_name(path.name + ".part")
    try:
        if modules is None:
            rows = _write_stream(pieces, part, header=fmt == "csv")
        else:
            rows = _write_parquet(_lines(pieces), part, *modules)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    return rows


def _write_stream(pieces: Iterable[bytes], part: Path, *, header: bool) -> int:
    newlines = 0
    with part.open("wb") as out:
        for piece in pieces:
            out.write(piece)
            newlines += piece.count(b"\n")
    return max(newlines - 1, 0) if header else newlines


def _lines(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Whole lines out of arbitrarily cut chunks."""
    rest = b""
    for piece in pieces:
        rest += piece
        *whole, rest = rest.split(b"\n")
        yield from (line for line in whole if line.strip())
    if rest.strip():
        yield rest


def parquet_schema(pa: Any) -> Any:
    """The columns of a row in Parquet types; probabilities as a JSON string."""
    text = pa.string()
    return pa.schema(
        [
            ("id", pa.int64()),
            ("at", pa.timestamp("us", tz="UTC")),
            ("model", text),
            ("version", text),
            ("label", text),
            ("score", pa.float64()),
            ("probabilities", text),
            ("latency_ms", pa.float64()),
            ("cached", pa.bool_()),
            ("truncated", pa.bool_()),
            ("source", text),
            ("alias", text),
            ("request_id", text),
            ("job_id", text),
            ("key_id", text),
            ("text_hash", text),
            ("text", text),
        ]
    )


def _write_parquet(lines: Iterable[bytes], part: Path, pa: Any, pq: Any) -> int:
    schema = parquet_schema(pa)
    written = 0
    with pq.ParquetWriter(str(part), schema) as writer:
        batch: list[dict[str, Any]] = []
        for line in lines:
            record = json.loads(line)
            record["at"] = datetime.fromisoformat(record["at"])
            record["probabilities"] = json.dumps(record["probabilities"], sort_keys=True)
            batch.append(record)
            if len(batch) == PARQUET_BATCH_ROWS:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                written += len(batch)
                batch = []
        if batch or written == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            written += len(batch)
    return written
