"""`spectrum export`'s pure parts: the times it sends, the format it picks, whole lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from spectrum_client.export import _lines, export_format, when

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_ages_count_back_from_now_and_iso_times_are_kept() -> None:
    assert when("90m", NOW) == "2026-12-01T10:30:00+00:00"
    assert when("24h", NOW) == "2026-11-30T12:00:00+00:00"
    assert when("7d", NOW) == "2026-11-24T12:00:00+00:00"
    assert when("2026-12-01T00:00Z", NOW) == "2026-12-01T00:00:00+00:00"
    assert when(None, NOW) is None


@pytest.mark.parametrize("value", ["yesterday", "24", "3w", "-1h"])
def test_anything_else_is_refused_with_the_forms_it_takes(value: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        when(value, NOW)


def test_the_format_comes_from_the_extension() -> None:
    assert export_format(Path("log.csv")) == "csv"
    assert export_format(Path("log.NDJSON")) == "ndjson"
    assert export_format(Path("log.jsonl")) == "ndjson"
    assert export_format(Path("out/log.parquet")) == "parquet"
    with pytest.raises(ValueError, match=r"\.csv, \.ndjson or \.parquet"):
        export_format(Path("log.xlsx"))


def test_lines_are_whole_however_the_stream_is_cut() -> None:
    pieces = [b'{"id": 1}\n{"i', b'd": 2}', b"\n", b'{"id": 3}']
    assert list(_lines(pieces)) == [b'{"id": 1}', b'{"id": 2}', b'{"id": 3}']
    assert list(_lines([b"\n\n"])) == []
