"""A job's results as NDJSON or CSV lines, one chunk at a time, in input order."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

ResultFormat = Literal["ndjson", "csv"]
MEDIA_TYPES: dict[ResultFormat, str] = {"ndjson": "application/x-ndjson", "csv": "text/csv"}


def csv_header(labels: Sequence[str]) -> list[str]:
    """index, label, score, one probability column per label, cached, truncated, error."""
    return [
        "index",
        "label",
        "score",
        *(f"p_{label}" for label in labels),
        "cached",
        "truncated",
        "error",
    ]


def csv_row(item: dict[str, Any], labels: Sequence[str]) -> list[str]:
    if "error" in item:
        return [str(item["index"]), "", "", *("" for _ in labels), "", "", str(item["error"])]
    probabilities = item["probabilities"]
    return [
        str(item["index"]),
        item["label"],
        repr(item["score"]),
        *(repr(probabilities.get(label, 0.0)) for label in labels),
        "true" if item["cached"] else "false",
        "true" if item.get("truncated") else "false",  # absent from older records
        "",
    ]


async def render(
    chunks: AsyncIterator[list[dict[str, Any]]], fmt: ResultFormat, labels: Sequence[str]
) -> AsyncIterator[str]:
    """Text to stream: one piece per chunk of results (a CSV starts with its header)."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(csv_header(labels))
        yield buffer.getvalue()
        async for items in chunks:
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(csv_row(item, labels) for item in items)
            yield buffer.getvalue()
        return
    async for items in chunks:
        yield "".join(json.dumps(item, separators=(",", ":")) + "\n" for item in items)
