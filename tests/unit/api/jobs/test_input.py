"""Reading a job's texts from JSON lists, CSV and JSONL: every refusal names its reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spectrum.api.jobs.input import (
    MAX_LINE_CHARS,
    FileFormat,
    check_callback_url,
    check_json_size,
    decoded,
    file_format,
    read_csv,
    read_file,
    read_jsonl,
)
from spectrum.shared.config import Settings
from spectrum.shared.errors import InvalidInput, UnsupportedMediaType
from spectrum.shared.text import job_texts


def csv_rows(data: bytes, max_rows: int = 10) -> list[str]:
    return list(read_csv([data], "text", max_rows=max_rows))


def jsonl_rows(data: bytes, max_rows: int = 10) -> list[str]:
    return list(read_jsonl([data], "text", max_rows=max_rows))


def splits(data: bytes) -> Iterator[list[bytes]]:
    """`data` cut in two at every offset, then one byte per chunk."""
    for at in range(len(data) + 1):
        yield [data[:at], data[at:]]
    yield [data[i : i + 1] for i in range(len(data))]


def test_csv_reads_the_named_column_in_order() -> None:
    data = b'id,text,lang\n1,"Great, really",en\n2,Dull,en\n\n3,"two\nlines",en\n'

    assert csv_rows(data) == ["Great, really", "Dull", "two\nlines"]


def test_csv_with_a_bom_and_spaces_in_the_header() -> None:
    assert csv_rows("\ufeffid, text\n1,ok\n".encode()) == ["ok"]


def test_csv_line_ends_crlf_cr_and_lf() -> None:
    data = b'text\r\none\r\n"two\r\nlines"\rthree\nfour'

    assert csv_rows(data) == ["one", "two\r\nlines", "three", "four"]


def test_csv_keeps_unicode_line_separators_inside_a_row() -> None:
    data = "text\na\u2028b\u2029c\x85d\x0be\n".encode()

    assert csv_rows(data) == ["a\u2028b\u2029c\x85d\x0be"]


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
        csv_rows(data, max_rows=2)


def test_jsonl_reads_objects_or_strings() -> None:
    data = b'{"text": "one", "id": 1}\n\n"two"\n{"text": "three"}\n'

    assert jsonl_rows(data) == ["one", "two", "three"]


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85"])
def test_jsonl_reads_unicode_line_separators_inside_a_string(char: str) -> None:
    data = f'{{"text": "one{char}two"}}\n"x{char}"\n{{bad\n'.encode()

    with pytest.raises(InvalidInput, match="line 3: not valid JSON"):
        jsonl_rows(data)
    assert jsonl_rows(data.rsplit(b"\n", 2)[0]) == [f"one{char}two", f"x{char}"]


@pytest.mark.parametrize("char", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e"])
def test_jsonl_control_characters_do_not_end_a_line(char: str) -> None:
    # Not allowed raw in a JSON string: refused, as one line, for what it is.
    data = f'"ok"\n"a{char}b"\n'.encode()

    with pytest.raises(InvalidInput, match="line 2: not valid JSON \\(Invalid control character"):
        jsonl_rows(data)


def test_jsonl_crlf_lines() -> None:
    assert jsonl_rows(b'{"text": "one"}\r\n\r\n"two"\r\n"three"') == ["one", "two", "three"]
    with pytest.raises(InvalidInput, match="line 3: not valid JSON"):
        jsonl_rows(b'"one"\r\n\r\n{bad\r\n')


@pytest.mark.parametrize(
    ("fmt", "data", "expected"),
    [
        (
            "csv",
            '\ufeffid,text\r\n1,"é,\r\n😀"\r2,ü\u2028\n3,z'.encode(),
            ["é,\r\n😀", "ü\u2028", "z"],
        ),
        ("jsonl", '\ufeff"é"\r\n{"text": "😀\u2028"}\n\n"z"'.encode(), ["é", "😀\u2028", "z"]),
    ],
)
def test_every_chunking_reads_the_same(fmt: FileFormat, data: bytes, expected: list[str]) -> None:
    for chunks in splits(data):
        assert list(read_file(chunks, fmt, "text", max_rows=10)) == expected, chunks


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b"text\na\xffb\n", 6),
        ("\ufeffé\n".encode() + b"\xed\xa0\x80", 6),  # a BOM counts; an encoded surrogate
        (b"ab\xe2\x82", 2),  # cut short at the end
        ("€".encode() + b"\xe2\x28\xa1", 3),
    ],
)
def test_bytes_not_utf8_are_named_by_their_offset_in_the_file(data: bytes, offset: int) -> None:
    for chunks in splits(data):
        with pytest.raises(InvalidInput, match=rf"not UTF-8 \(byte {offset}\)"):
            list(decoded(chunks))


def test_decoded_drops_only_a_leading_bom() -> None:
    assert "".join(decoded([b"\xef\xbb", b"\xbfa\xef\xbb\xbf"])) == "a\ufeff"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"text": "a"}\n{bad\n', "line 2: not valid JSON"),
        (b'{"body": "a"}\n', "line 1: no 'text' field"),
        (b'{"text": 3}\n', "must be a string"),
        (b'"a"\n"b"\n"c"\n', "more than 2 rows"),
        (b"[" * 100_000 + b"\n", "line 1: JSON nested too deep"),
        (b'{"text": "a", "n": ' + b"9" * 5000 + b"}\n", "line 1: not valid JSON"),
        (b'{"text": "a", "n": -' + b"1" * 5000 + b"}\n", "line 1: not valid JSON"),
        (b'{"text": "a", "n": 1e99999}\n{"text": "b"\n', "line 2: not valid JSON"),
    ],
)
def test_jsonl_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        jsonl_rows(data, max_rows=2)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("data", [b"", b"  \n", b"\xef\xbb\xbf", b"\r\n \r\n"])
def test_an_empty_file_is_refused(fmt: FileFormat, data: bytes) -> None:
    with pytest.raises(InvalidInput, match="the file is empty"):
        list(read_file([data], fmt, "text", max_rows=10))


def test_one_bytes_object_is_one_chunk() -> None:
    assert list(read_file(b"text\nok\n", "csv", "text", max_rows=5)) == ["ok"]
    assert list(read_jsonl(b'"ok"\n', "text", max_rows=5)) == ["ok"]


def test_rows_are_read_lazily() -> None:
    def chunks() -> Iterator[bytes]:
        yield b'"one"\n"two"\n'
        raise AssertionError("read past what was asked for")

    rows = read_jsonl(chunks(), "text", max_rows=10)
    assert next(rows) == "one"
    assert next(rows) == "two"


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
        job_texts(rows, Settings(job_max_texts=5, max_text_chars=100), item="row")


def test_string_parameters_that_are_not_unicode_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^text_column: character 0 is a lone surrogate"):
        read_file(b"text\nok\n", "csv", "\ud800", max_rows=5)
    with pytest.raises(InvalidInput, match=r"^callback_url: character 20 is a lone surrogate"):
        check_callback_url("https://example.com/\ud800")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_line_longer_than_the_bound_is_refused_before_it_is_held(fmt: FileFormat) -> None:
    piece = b"x" * 65536
    pulled = 0

    def chunks() -> Iterator[bytes]:
        nonlocal pulled
        yield b"text\n" if fmt == "csv" else b""
        for _ in range(10_000):  # 640 MiB, were it all read
            pulled += 1
            yield piece

    with pytest.raises(InvalidInput, match="a line is longer than"):
        list(read_file(chunks(), fmt, "text", max_rows=10))
    assert pulled * len(piece) <= MAX_LINE_CHARS + 2 * len(piece)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"texts": [' + b'"a",' * 200 + b'"a"]}', "more than 116 JSON values"),
        (b'{"texts": [' + b"[]," * 200 + b"[]]}", "more than 116 JSON values"),
        (b'{"texts": [' + b"1," * 200 + b"1]}", "more than 116 JSON values"),
        (b'{"texts": ["' + b"x" * 30000 + b'"]}', "a JSON value of 30002 bytes"),
    ],
)
def test_a_json_job_body_past_its_bounds_is_refused_before_parsing(
    data: bytes, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason):
        check_json_size(data, max_texts=100, max_text_chars=100)


def test_a_json_job_body_within_its_bounds_passes() -> None:
    escaped = '"' + "\\ud83d\\ude00" * 100 + '"'  # 100 emoji, each as 12 bytes
    texts = ", ".join([escaped] * 99 + ['"with \\" quote, [brackets] and 123"'])
    data = f'{{"texts": [{texts}], "callback_url": "https://x.example", "model": "m"}}'.encode()
    check_json_size(data, max_texts=100, max_text_chars=100)
