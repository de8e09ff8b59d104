from __future__ import annotations

import pytest

from api.predict.predictor import check_texts
from shared.config import Settings
from shared.errors import InvalidInput

SETTINGS = Settings(max_texts_per_request=3, max_text_chars=20)


def test_texts_are_normalized_in_order() -> None:
    assert check_texts([" b  a ", "c"], SETTINGS) == ["b a", "c"]


@pytest.mark.parametrize(
    ("texts", "reason"),
    [
        ([], "at least one"),
        (["a", "b", "c", "d"], "at most 3 per request"),
        (["ok", "   \t\n"], r"texts\[1\]: empty"),
        (["x" * 21], r"texts\[0\]: 21 characters, at most 20"),
        (["nul\x00byte"], "NUL"),
    ],
)
def test_bad_texts_are_refused_with_a_reason(texts: list[str], reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        check_texts(texts, SETTINGS)


@pytest.mark.parametrize("text", ["😀😀", "<b>hi</b>", "'; DROP TABLE x;--"])
def test_unusual_but_valid_text_is_ordinary_text(text: str) -> None:
    assert check_texts([text], SETTINGS) == [text]


@pytest.mark.parametrize(
    ("texts", "reason"),
    [
        (["ok", "\ud800"], r"^texts\[1\]: character 0 is a lone surrogate \(U\+D800\)"),
        (["ab\ude00\ud83d"], r"^texts\[0\]: character 2 is a lone surrogate \(U\+DE00\)"),
    ],
)
def test_text_that_is_not_unicode_is_refused_with_its_position(
    texts: list[str], reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason):
        check_texts(texts, SETTINGS)
