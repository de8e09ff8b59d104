"""Reading a job's texts from JSON lists, CSV and JSONL: every refusal names its reason."""

from __future__ import annotations

import pytest

from api.job_input import (
    check_callback_url,
    file_format,
    normalize_all,
    read_csv,
    read_file,
    read_jsonl,
)
from shared.errors import InvalidInput, UnsupportedMediaType


def test_csv_reads_the_named_column_in_order() -> None:
    data = b'id,text,lang\n1,"Great, really",en\n2,Dull,en\n\n3,"two\nlines",en\n'

    assert read_csv(data, "text", max_rows=10) == ["Great, really", "Dull", "two\nlines"]


def test_csv_with_a_bom_and_spaces_in_the_header() -> None:
    assert read_csv("\ufeffid, text\n1,ok\n".encode(), "text", max_rows=10) == ["ok"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"id,body\n1,x\n", "no column 'text'"),
        (b"text\n\xff\n", "not UTF-8"),
        (b'text\n"unclosed\n', "not valid CSV"),
        (b"id,text\n1\n", "line 2: no value"),
        (b"text\na\nb\nc\n", "more than 2 rows"),
    ],
)
def test_csv_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        read_csv(data, "text", max_rows=2)


def test_jsonl_reads_objects_or_strings() -> None:
    data = b'{"text": "one", "id": 1}\n\n"two"\n{"text": "three"}\n'

    assert read_jsonl(data, "text", max_rows=10) == ["one", "two", "three"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"text": "a"}\n{bad\n', "line 2: not valid JSON"),
        (b'{"body": "a"}\n', "line 1: no 'text' field"),
        (b'{"text": 3}\n', "must be a string"),
        (b'"a"\n"b"\n"c"\n', "more than 2 rows"),
    ],
)
def test_jsonl_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        read_jsonl(data, "text", max_rows=2)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        read_file(b"  \n", "csv", "text", max_rows=10)
    with pytest.raises(InvalidInput, match="empty"):
        read_csv(b"", "text", max_rows=10)


@pytest.mark.parametrize(
    ("content_type", "filename", "expected"),
    [
        ("text/csv; charset=utf-8", None, "csv"),
        ("application/x-ndjson", None, "jsonl"),
        ("application/octet-stream", "rows.jsonl", "jsonl"),
        ("text/plain", "rows.ndjson", "jsonl"),
        (None, "Rows.CSV", "csv"),
    ],
)
def test_file_format(content_type: str | None, filename: str | None, expected: str) -> None:
    assert file_format(content_type, filename) == expected


def test_an_unknown_format_is_415() -> None:
    with pytest.raises(UnsupportedMediaType, match="application/xml"):
        file_format("application/xml")


def test_normalize_all_names_the_row() -> None:
    assert normalize_all(["  a  b ", "c"], max_texts=5, max_chars=10) == ["a b", "c"]
    with pytest.raises(InvalidInput, match="row 2: empty"):
        normalize_all(["a", "   "], max_texts=5, max_chars=10, item="row")
    with pytest.raises(InvalidInput, match=r"texts\[0\]: 11 characters"):
        normalize_all(["x" * 11], max_texts=5, max_chars=10)
    with pytest.raises(InvalidInput, match="more than 1 texts"):
        normalize_all(["a", "b"], max_texts=1, max_chars=10)
    with pytest.raises(InvalidInput, match="no texts"):
        normalize_all([], max_texts=1, max_chars=10)


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "javascript:alert(1)", "http://", "/relative", "http://a b/"]
)
def test_bad_callback_urls(url: str) -> None:
    with pytest.raises(InvalidInput, match="callback_url"):
        check_callback_url(url)


def test_private_callback_urls_are_refused_unless_allowed() -> None:
    for url in ("http://127.0.0.1:8080/hook", "http://169.254.169.254/", "https://localhost/h"):
        with pytest.raises(InvalidInput, match="SPECTRUM_WEBHOOK_ALLOW_PRIVATE"):
            check_callback_url(url)
        assert check_callback_url(url, allow_private=True) == url


def test_a_callback_port_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidInput, match="port"):
        check_callback_url("https://example.com:99999/hook")


def test_good_callback_urls() -> None:
    assert check_callback_url("https://example.com/hook?x=1") == "https://example.com/hook?x=1"
    assert check_callback_url(None) is None


def test_surrogates_in_a_job_are_refused_with_the_row_and_position() -> None:
    # JSONL escapes are decoded by json.loads, which keeps lone surrogates.
    rows = read_file(b'{"text": "fine"}\n{"text": "bad \\ud800"}\n', "jsonl", "text", max_rows=5)
    with pytest.raises(InvalidInput, match=r"^row 2: character 4 is a lone surrogate \(U\+D800\)"):
        normalize_all(rows, max_texts=5, max_chars=100, item="row")
    with pytest.raises(InvalidInput, match=r"^texts\[0\]: character 0 is a lone surrogate"):
        normalize_all(["\udfff"], max_texts=5, max_chars=100)


def test_string_parameters_that_are_not_unicode_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^text_column: character 0 is a lone surrogate"):
        read_file(b"text\nok\n", "csv", "\ud800", max_rows=5)
    with pytest.raises(InvalidInput, match=r"^callback_url: character 20 is a lone surrogate"):
        check_callback_url("https://example.com/\ud800")
