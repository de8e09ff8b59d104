"""The client reads a CSV or JSONL file as the API reads a job's file: same texts, same refusals.

The client cannot import the API's readers (it installs alone), so this test holds
the two copies of the rule together: each sample goes through both.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spectrum.api.jobs.input import read_file
from spectrum.shared.errors import InvalidInput
from spectrum_client.inputs import Format, file_texts, format_of, plain_lines

SAMPLES: list[tuple[Format, bytes]] = [
    ("csv", b'id,text,lang\n1,"Great, really",en\n2,Dull,en\n\n3,"two\nlines",en\n'),
    ("csv", b"\xef\xbb\xbf\n\n text ,n\r\nfirst,1\r\n,2\r\n  ,\r\nlast,3"),
    ("csv", b'text\r"a\r\nb"\rc\r'),
    ("csv", "text\ncaf\u00e9 \u2028 ok\n".encode()),
    ("jsonl", b'{"text": "one"}\n"two"\n\n{"text": "three", "x": 1}\r\n'),
    ("jsonl", '\ufeff{"text": "a\u2028b"}\n{"text": ""}'.encode()),
]
REFUSED: list[tuple[Format, bytes]] = [
    ("csv", b""),
    ("csv", b"\n \n"),
    ("csv", b"id,body\n1,x\n"),
    ("csv", b"id,text\n1\n"),
    ("csv", b'text\n"open\n'),
    ("jsonl", b""),
    ("jsonl", b'{"text": "a"}\nnot json\n'),
    ("jsonl", b'{"body": "a"}\n'),
    ("jsonl", b'{"text": 3}\n'),
]


def client_reads(tmp_path: Path, fmt: Format, data: bytes) -> list[str]:
    path = tmp_path / f"sample.{fmt}"
    path.write_bytes(data)
    return list(file_texts(path, column="text"))


@pytest.mark.parametrize(("fmt", "data"), SAMPLES)
def test_the_client_reads_the_texts_the_api_reads(tmp_path: Path, fmt: Format, data: bytes) -> None:
    api = list(read_file([data], fmt, "text", max_rows=100))

    assert client_reads(tmp_path, fmt, data) == api
    assert api  # every sample has texts: an empty one would compare nothing


@pytest.mark.parametrize(("fmt", "data"), REFUSED)
def test_the_client_refuses_what_the_api_refuses(tmp_path: Path, fmt: Format, data: bytes) -> None:
    with pytest.raises(InvalidInput) as api:
        list(read_file([data], fmt, "text", max_rows=100))
    with pytest.raises(ValueError, match=re.escape(str(api.value))):
        client_reads(tmp_path, fmt, data)


def test_plain_text_is_one_text_per_line_blank_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "texts.txt"
    path.write_bytes(b"first\r\n\n  \nsecond, with a comma\nthird")

    assert list(file_texts(path)) == ["first", "second, with a comma", "third"]
    assert list(plain_lines(["a\n", "\n", "b"])) == ["a", "b"]


def test_the_format_comes_from_the_extension() -> None:
    assert [format_of(Path(n)) for n in ("a.CSV", "b.jsonl", "c.ndjson", "d.txt", "e")] == [
        "csv",
        "jsonl",
        "jsonl",
        "txt",
        "txt",
    ]
