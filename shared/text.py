"""What a text must be to reach a model: each rule once, for every entry point.

The gateway's predict and job paths and the workers' payload models all call
these, so a text refused in one place is refused in all of them, with the same
reason: `request_texts` holds the rules of one /v1/predict, `job_texts` those of
one job, and both check every text with `clean_text`.

A Python `str` can hold what no UTF-8 encoder accepts: surrogates
(U+D800..U+DFFF), from an escaped `"\\ud800"` in JSON or from CESU-8 bytes,
which the standard library's JSON decoder lets through. Such a text cannot be
hashed into a cache key, sent to a worker or written back, so it is refused at
the door with its position, never met later as an encoding crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from spectrum.shared.cache import normalize_text
from spectrum.shared.config import Settings
from spectrum.shared.errors import InvalidInput

FIX = "send valid UTF-8"


def unicode_problem(text: str) -> str | None:
    """Why `text` is not a sequence of Unicode scalar values, or None when it is.

    Positions count characters from 0, as a JSON string's characters do in most
    languages' string indexing.
    """
    if text.isascii():  # the common case, checked in C without a copy
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        at = exc.start
        code = ord(text[at])
        pair = code <= 0xDBFF and at + 1 < len(text) and 0xDC00 <= ord(text[at + 1]) <= 0xDFFF
        if pair:  # two surrogates as two characters: CESU-8, or a UTF-16 pair decoded apart
            return (
                f"characters {at} and {at + 1} are a UTF-16 surrogate pair "
                f"(U+{code:04X} U+{ord(text[at + 1]):04X}) sent as two characters; {FIX}"
            )
        return f"character {at} is a lone surrogate (U+{code:04X}); {FIX}"
    return None


def clean_text(text: str, name: str, *, max_chars: int) -> str:
    """The normalized text, or InvalidInput naming it (`texts[3]`, `row 4`) and the rule broken.

    The rules, in the order they are checked: at most `max_chars` characters, no
    NUL, valid Unicode (no surrogates), and not empty once whitespace is collapsed.
    """
    if len(text) > max_chars:
        raise InvalidInput(f"{name}: {len(text)} characters, at most {max_chars}")
    if "\x00" in text:
        raise InvalidInput(f"{name}: contains a NUL character")
    problem = unicode_problem(text)
    if problem is not None:
        raise InvalidInput(f"{name}: {problem}")
    clean = normalize_text(text)
    if not clean:
        raise InvalidInput(f"{name}: empty or only whitespace")
    return clean


def request_texts(texts: Sequence[str], settings: Settings) -> list[str]:
    """The normalized texts of one /v1/predict, or InvalidInput for the first limit broken.

    The count is checked before any text (a request is whole when it arrives), then
    each text in order, named `texts[i]`.
    """
    if not texts:
        raise InvalidInput("texts: give at least one text")
    if len(texts) > settings.max_texts_per_request:
        raise InvalidInput(
            f"texts: {len(texts)} texts, at most {settings.max_texts_per_request} per request; "
            "send more as a job: POST /v1/jobs"
        )
    return _clean_all(texts, settings.max_text_chars, "texts")


def job_texts(texts: Iterable[str], settings: Settings, *, item: str = "texts") -> list[str]:
    """The normalized texts of one job, or InvalidInput for the first limit broken.

    Read as they come (a file's rows are parsed lazily): each text is checked in
    turn and the job is refused at its first text past `job_max_texts`, so a huge
    file is never read whole. `item` names an entry in errors: "texts" gives
    `texts[3]`, "row" gives `row 4` (rows count from 1, after the header).
    """
    max_texts = settings.job_max_texts

    def counted() -> Iterable[str]:
        for index, text in enumerate(texts):
            if index == max_texts:
                raise InvalidInput(f"more than {max_texts} texts in one job")
            yield text

    normalized = _clean_all(counted(), settings.max_text_chars, item)
    if not normalized:
        raise InvalidInput("the job has no texts")
    return normalized


def _clean_all(texts: Iterable[str], max_chars: int, item: str) -> list[str]:
    def name(index: int) -> str:
        return f"texts[{index}]" if item == "texts" else f"{item} {index + 1}"

    return [clean_text(text, name(i), max_chars=max_chars) for i, text in enumerate(texts)]


def check_parameter(name: str, value: str | None) -> str | None:
    """A string parameter (a column name, a URL, a key) as given, or InvalidInput naming it."""
    if value is None:
        return None
    if "\x00" in value:
        raise InvalidInput(f"{name}: contains a NUL character")
    problem = unicode_problem(value)
    if problem is not None:
        raise InvalidInput(f"{name}: {problem}")
    return value


def valid_texts(texts: list[str]) -> list[str]:
    """The texts unchanged, or ValueError for the first that is not valid Unicode.

    For pydantic validators on what travels to the workers: a payload that would
    break an encoder fails validation, a stored failure, instead of a crash later.
    """
    for index, text in enumerate(texts):
        problem = unicode_problem(text)
        if problem is not None:
            raise ValueError(f"texts[{index}]: {problem}")
    return texts
