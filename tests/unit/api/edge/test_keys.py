from __future__ import annotations

import hashlib
import hmac

import pytest

from spectrum.api.edge.keys import KeyIds, KeyRing, Known, digest, key_from_headers, new_key
from spectrum.shared.config import Settings


def test_a_new_key_matches_its_hash_and_nothing_else() -> None:
    key, hashed = new_key()
    ring = KeyRing([(hashed, "client")])
    assert ring.identify(key) == Known(hashed, "client")
    assert ring.identify(key + "x") is None
    assert ring.identify("") is None
    assert ring.identify(None) is None


def test_plain_keys_and_hashes_both_come_from_settings() -> None:
    settings = Settings(api_keys="alpha, beta", api_key_hashes=digest("gamma"))
    ring = KeyRing.from_settings(settings)
    assert len(ring) == 3
    assert all(ring.identify(k) for k in ("alpha", "beta", "gamma"))
    assert ring.identify("delta") is None


def test_a_role_is_written_beside_the_key_or_its_hash() -> None:
    settings = Settings(
        api_keys="alice:admin,bob,carol:client,odd:name",
        api_key_hashes=f"{digest('dave')}:admin,{digest('erin')}",
    )
    ring = KeyRing.from_settings(settings)
    roles = {k: getattr(ring.identify(k), "role", None) for k in ("alice", "bob", "carol")}
    assert roles == {"alice": "admin", "bob": "client", "carol": "client"}
    assert ring.identify("dave") == Known(digest("dave"), "admin")
    assert ring.identify("erin") == Known(digest("erin"), "client")
    assert ring.identify("odd:name") is not None  # not a role: part of the key
    assert ring.identify("alice:admin") is None  # the role is not part of the key


def test_no_keys_means_keys_are_off() -> None:
    assert not KeyRing.from_settings(Settings()).enabled


@pytest.mark.parametrize("value", ["not-a-hash", f"{digest('x')}:root", f"{digest('x')}:"])
def test_a_hash_must_be_sha256_hex_with_a_known_role(value: str) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        Settings(api_key_hashes=value)


async def test_a_key_id_is_an_hmac_under_the_secret_not_a_digest_prefix() -> None:
    settings = Settings(key_id_secret="s3cret")
    ids = KeyIds.from_settings(settings, backend=None)  # type: ignore[arg-type]
    hashed = digest("alice")
    key_id = await ids.of(hashed)
    expected = hmac.new(b"s3cret", hashed.encode(), hashlib.sha256).hexdigest()[:16]
    assert key_id == expected
    assert key_id not in hashed
    other = KeyIds.from_settings(Settings(key_id_secret="other"), backend=None)  # type: ignore[arg-type]
    assert await other.of(hashed) != key_id


async def test_without_a_secret_one_is_made_once_in_redis_and_shared(redis_url: str) -> None:
    import redis.asyncio as aioredis

    from spectrum.api.edge.keys import SECRET_REDIS_KEY

    client = aioredis.Redis.from_url(redis_url)
    try:
        first = KeyIds.from_settings(Settings(), client)
        second = KeyIds.from_settings(Settings(), client)
        hashed = digest("bob")
        assert await first.of(hashed) == await second.of(hashed)
        stored = await client.get(SECRET_REDIS_KEY)
        assert stored is not None
        assert len(stored) == 64
        expected = hmac.new(stored, hashed.encode(), hashlib.sha256).hexdigest()[:16]
        assert await first.of(hashed) == expected
    finally:
        await client.aclose()


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
