from __future__ import annotations

import pytest

from spectrum.api.edge.keys import KeyRing, digest, key_from_headers, new_key
from spectrum.shared.config import Settings


def test_a_new_key_matches_its_hash_and_nothing_else() -> None:
    key, hashed = new_key()
    ring = KeyRing([hashed])
    assert ring.identify(key) == hashed
    assert ring.identify(key + "x") is None
    assert ring.identify("") is None
    assert ring.identify(None) is None


def test_plain_keys_and_hashes_both_come_from_settings() -> None:
    settings = Settings(api_keys="alpha, beta", api_key_hashes=digest("gamma"))
    ring = KeyRing.from_settings(settings)
    assert len(ring) == 3
    assert all(ring.identify(k) for k in ("alpha", "beta", "gamma"))
    assert ring.identify("delta") is None


def test_no_keys_means_keys_are_off() -> None:
    assert not KeyRing.from_settings(Settings()).enabled


def test_a_hash_must_be_sha256_hex() -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        Settings(api_key_hashes="not-a-hash")


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ({b"authorization": b"Bearer abc"}, "abc"),
        ({b"authorization": b"bearer  abc "}, "abc"),
        ({b"x-api-key": b"abc"}, "abc"),
        ({b"authorization": b"Basic abc"}, None),
        ({b"authorization": b"Bearer "}, None),
        ({}, None),
    ],
)
def test_the_key_comes_from_bearer_or_x_api_key(
    headers: dict[bytes, bytes], key: str | None
) -> None:
    assert key_from_headers(headers) == key
