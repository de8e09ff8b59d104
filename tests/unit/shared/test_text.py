"""The text rules of shared/text.py: one check for every entry point, each refusal with a reason."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from spectrum.shared.config import Settings
from spectrum.shared.contracts import PredictPayload
from spectrum.shared.errors import InvalidInput
from spectrum.shared.text import (
    check_parameter,
    clean_text,
    job_texts,
    request_texts,
    unicode_problem,
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\ud800", r"character 0 is a lone surrogate \(U\+D800\)"),
        ("ok \udfff", r"character 3 is a lone surrogate \(U\+DFFF\)"),
        # A pair in the wrong order is two lone surrogates: the first is named.
        ("\ude00\ud83d", r"character 0 is a lone surrogate \(U\+DE00\)"),
        ("😀\ud83d", r"character 1 is a lone surrogate \(U\+D83D\)"),
        # What json.loads makes of CESU-8 bytes: a pair, but as two characters.
        ("a\ud83d\ude00", r"characters 1 and 2 are a UTF-16 surrogate pair \(U\+D83D U\+DE00\)"),
    ],
)
def test_surrogates_are_named_with_their_position(text: str, reason: str) -> None:
    problem = unicode_problem(text)
    assert problem is not None
    assert problem.endswith("send valid UTF-8")
    with pytest.raises(InvalidInput, match=rf"^texts\[2\]: {reason}"):
        clean_text(text, "texts[2]", max_chars=100)


def test_json_decoded_bytes_reach_the_check_as_surrogates() -> None:
    # The standard library decodes JSON bytes with surrogatepass: CESU-8 becomes surrogates.
    cesu = b'{"text": "ab\xed\xa0\x80"}'
    text = json.loads(cesu)["text"]
    with pytest.raises(InvalidInput, match="character 2 is a lone surrogate"):
        clean_text(text, "texts[0]", max_chars=100)


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "café",
        "😀" * 3,
        "👩‍👩‍👧‍👦" * 20,  # a long ZWJ sequence
        "שלום \u200f עולם",  # right-to-left text and mark
        "a\u200bb\ufeffc",  # zero-width space and no-break
        "e\u0301\u0302\u0303",  # combining marks
        "\U0010fffd\U000e0001\U0001f3f4\U000e0067\U000e007f",  # plane 16, tags
        "\ufffe\uffff",  # noncharacters are scalar values: allowed
        "<b>hi</b>",  # markup and code are ordinary text
        "'; DROP TABLE x;--",
    ],
)
def test_every_scalar_value_is_text(text: str) -> None:
    assert unicode_problem(text) is None
    assert clean_text(text, "texts[0]", max_chars=1000)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x" * 11, r"texts\[0\]: 11 characters, at most 10"),
        ("a\x00b", r"texts\[0\]: contains a NUL character"),
        (" \t\u3000\n", r"texts\[0\]: empty or only whitespace"),
        ("\ud800" * 11, "11 characters"),  # the length is checked first: no scan of a huge text
    ],
)
def test_the_other_rules(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        clean_text(text, "texts[0]", max_chars=10)


def test_parameters_are_checked_and_kept_as_given() -> None:
    assert check_parameter("text_column", " Body ") == " Body "
    assert check_parameter("callback_url", None) is None
    with pytest.raises(InvalidInput, match=r"^text_column: character 1 is a lone surrogate"):
        check_parameter("text_column", "a\udc80")
    with pytest.raises(InvalidInput, match=r"^Idempotency-Key: contains a NUL"):
        check_parameter("Idempotency-Key", "k\x00")


def test_a_worker_payload_with_a_surrogate_fails_validation() -> None:
    assert PredictPayload(texts=["fine", "ça"], model="m").texts == ["fine", "ça"]
    with pytest.raises(ValidationError, match=r"texts\[1\]: character 0 is a lone surrogate"):
        PredictPayload(texts=["fine", "\udc00"], model="m")


REQUEST = Settings(max_texts_per_request=3, max_text_chars=20)
JOB = Settings(job_max_texts=2, max_text_chars=10)


def test_a_request_s_texts_are_normalized_in_order() -> None:
    assert request_texts([" b  a ", "c"], REQUEST) == ["b a", "c"]


TOO_MANY = r"^texts: 4 texts, at most 3 per request; send more as a job: POST /v1/jobs$"


@pytest.mark.parametrize(
    ("texts", "reason"),
    [
        ([], r"^texts: give at least one text$"),
        (["a", "b", "c", "d"], TOO_MANY),
        # The count comes first: a request too long is refused whatever its texts.
        (["", "", "", ""], TOO_MANY),
        (["ok", "   \t\n"], r"^texts\[1\]: empty"),
        (["x" * 21], r"^texts\[0\]: 21 characters, at most 20$"),
        (["nul\x00byte"], r"^texts\[0\]: contains a NUL"),
        (["ok", "\ud800"], r"^texts\[1\]: character 0 is a lone surrogate \(U\+D800\)"),
    ],
)
def test_a_request_s_bad_texts_are_refused_with_a_reason(texts: list[str], reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        request_texts(texts, REQUEST)


def test_a_job_s_texts_are_normalized_in_order() -> None:
    assert job_texts(["  a  b ", "c"], JOB) == ["a b", "c"]


@pytest.mark.parametrize(
    ("texts", "item", "reason"),
    [
        (["a", "   "], "row", r"^row 2: empty"),
        (["x" * 11], "texts", r"^texts\[0\]: 11 characters, at most 10$"),
        (["\udfff"], "texts", r"^texts\[0\]: character 0 is a lone surrogate"),
        (["a", "b", "c"], "texts", r"^more than 2 texts in one job$"),
        # Texts are checked as they come: a bad one before the limit is named first.
        (["a", "", "c"], "row", r"^row 2: empty"),
        ([], "texts", r"^the job has no texts$"),
    ],
)
def test_a_job_s_bad_texts_are_refused_with_a_reason(
    texts: list[str], item: str, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason):
        job_texts(texts, JOB, item=item)


def test_a_job_past_its_limit_is_refused_without_reading_further() -> None:
    read: list[int] = []

    def rows() -> Iterator[str]:
        for index in range(1_000):
            read.append(index)
            yield "text"

    with pytest.raises(InvalidInput, match="more than 2 texts"):
        job_texts(rows(), JOB)
    assert read == [0, 1, 2]
