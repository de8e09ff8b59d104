"""shared/cache.py: keys, entries, and the one way the gateway and the workers read them."""

from __future__ import annotations

import pytest

from spectrum.shared.cache import (
    CachedPrediction,
    CacheHits,
    CacheLookup,
    cache_key,
    decode_entry,
    encode_entry,
    normalize_text,
)


def test_normalization_collapses_whitespace_and_composes_unicode() -> None:
    assert normalize_text("  Great\t\tfilm \n") == "Great film"
    assert normalize_text("cafe\u0301") == normalize_text("caf\u00e9")
    assert normalize_text("Great") != normalize_text("great")  # case is meaning to a model


def test_key_names_model_version_and_text_hash() -> None:
    key = cache_key("sentiment", "abc123", "Great film")
    assert key.startswith("spectrum:pred:sentiment:abc123:")
    assert len(key.rsplit(":", 1)[1]) == 64
    assert key == cache_key("sentiment", "abc123", "Great film")
    assert key != cache_key("sentiment", "abc124", "Great film")
    assert key != cache_key("other", "abc123", "Great film")
    assert key != cache_key("sentiment", "abc123", "Great films")


def test_entries_round_trip_with_every_label() -> None:
    raw = encode_entry(["NEGATIVE", "POSITIVE"], [0.25, 0.75])
    assert decode_entry(raw) == ({"NEGATIVE": 0.25, "POSITIVE": 0.75}, False)
    assert decode_entry(raw.encode()) == ({"NEGATIVE": 0.25, "POSITIVE": 0.75}, False)


def test_truncated_entries_say_so_and_old_entries_still_read() -> None:
    raw = encode_entry(["NEGATIVE", "POSITIVE"], [0.25, 0.75], truncated=True)
    assert decode_entry(raw) == ({"NEGATIVE": 0.25, "POSITIVE": 0.75}, True)
    # The first format, as gateways and workers before it wrote it.
    assert decode_entry('{"NEGATIVE":0.5,"POSITIVE":0.5}').truncated is False
    # Untruncated entries keep the first format, so older gateways read them.
    assert encode_entry(["A", "B"], [0.5, 0.5]) == '{"A":0.5,"B":0.5}'


def test_entry_label_count_must_match() -> None:
    with pytest.raises(ValueError, match=r"shorter|longer"):
        encode_entry(["A", "B"], [1.0])
    with pytest.raises(ValueError, match="not an object"):
        decode_entry("[0.5, 0.5]")


@pytest.mark.parametrize(
    "raw",
    ["[0.5, 0.5]", "not json", b"\xff\xfe", '{"A": null}', '{"A": [1]}', '{"p": {"A": "x"}}'],
)
def test_anything_but_an_entry_reads_as_an_unreadable_miss(raw: str | bytes) -> None:
    assert CacheLookup.of("m", "v1", ["t"]).hits([raw]) == CacheHits({}, 1)


def test_a_lookup_reads_each_text_once_under_the_model_s_key() -> None:
    lookup = CacheLookup.of("m", "v1", ["b", "a", "b"])

    assert lookup.texts == ["b", "a"]
    assert lookup.keys == [cache_key("m", "v1", "b"), cache_key("m", "v1", "a")]


def test_replies_become_hits_and_misses_and_corrupt_entries_are_counted_misses() -> None:
    lookup = CacheLookup.of("m", "v1", ["hit", "miss", "cut", "corrupt"])
    replies = [
        encode_entry(["N", "P"], [0.25, 0.75]).encode(),  # redis-py answers bytes
        None,
        encode_entry(["N", "P"], [0.5, 0.5], truncated=True),
        b'{"N": null}',
    ]

    hits = lookup.hits(replies)

    assert hits.found == {
        "hit": CachedPrediction({"N": 0.25, "P": 0.75}, False),
        "cut": CachedPrediction({"N": 0.5, "P": 0.5}, True),
    }
    assert hits.unreadable == 1


def test_replies_must_answer_every_key() -> None:
    with pytest.raises(ValueError, match="1 replies for 2 keys"):
        CacheLookup.of("m", "v1", ["a", "b"]).hits([None])
