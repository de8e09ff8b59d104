"""The prediction log's rows as CSV or NDJSON, read in pages and streamed.

Invariants: rows come in id order, each exactly once (keyset paging on the primary
key: a page is the next `page` rows with an id above the last one sent, so rows
inserted while the export runs are either in it once or not at all, and no OFFSET
rescans). Memory holds one page at a time, whatever the window's size.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, Row, select

from spectrum.api.analytics.queries import in_window
from spectrum.api.analytics.window import Window, as_utc
from spectrum.shared.predlog.schema import prediction_log as log

ExportFormat = Literal["csv", "ndjson"]
MEDIA_TYPES: dict[ExportFormat, str] = {
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
}
COLUMNS = [column.name for column in log.columns]
PAGE_ROWS = 1000


def read_page(
    engine: Engine, window: Window, model: str | None, after: int, page: int
) -> Sequence[Row[Any]]:
    """The next `page` rows of the window with an id above `after`, in id order."""
    query = (
        select(*log.columns)
        .where(in_window(window, model), log.c.id > after)
        .order_by(log.c.id)
        .limit(page)
    )
    with engine.connect() as conn:
        return conn.execute(query).all()


def record(row: Row[Any]) -> dict[str, Any]:
    """A row as JSON-safe values: `at` in ISO 8601 UTC, probabilities as an object."""
    values = dict(row._mapping)
    at: datetime = values["at"]
    values["at"] = as_utc(at).isoformat()
    if isinstance(values["probabilities"], str):  # a driver that hands JSON back as text
        values["probabilities"] = json.loads(values["probabilities"])
    return values


def header(fmt: ExportFormat) -> bytes:
    return _csv_line(COLUMNS) if fmt == "csv" else b""


def encode(rows: Iterable[Row[Any]], fmt: ExportFormat) -> bytes:
    """Rows in the format's encoding: one line each (CSV without the header)."""
    if fmt == "ndjson":
        return b"".join(json.dumps(record(r), separators=(",", ":")).encode() + b"\n" for r in rows)
    return b"".join(_csv_line([_csv_cell(v) for v in record(r).values()]) for r in rows)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return "" if value is None else value


def _csv_line(cells: list[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().encode()
