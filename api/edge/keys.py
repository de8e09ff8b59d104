"""API keys: kept as SHA-256 digests, checked in constant time, each with a role.

`python -m spectrum.api.edge.keys` makes one.

A key is a random 32-byte URL-safe token. The gateway holds only digests (plain
keys given in the settings are hashed at load), so neither a settings dump nor
a memory read shows a usable key, and every comparison is `hmac.compare_digest`
over all configured digests, whether or not an earlier one matched.

Each key has a role, written after it or its hash with a colon (`<key>:admin`,
`<sha256>:client`; none: client). A client key reaches its own jobs and its own
traffic; an admin key also changes aliases and reads every key's analytics.

What names a key in logs, the prediction log, rate limits and job ownership is its
*key id*: an HMAC-SHA256 of its digest under a server secret (SPECTRUM_KEY_ID_SECRET,
or one generated once and kept in the result backend), cut to 16 hex digits. Without
the secret an id says nothing about the key, however weak the key is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import redis.asyncio as aioredis

from spectrum.shared.config import Settings, split_list
from spectrum.shared.errors import BackendUnavailable

KEY_BYTES = 32
KEY_ID_CHARS = 16
Role = Literal["client", "admin"]
ROLES: tuple[Role, ...] = ("client", "admin")
# Where the generated key-id secret is kept when SPECTRUM_KEY_ID_SECRET is unset.
SECRET_REDIS_KEY = "spectrum:key-id-secret"  # noqa: S105 - where it is kept, not it


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its digest."""
    key = secrets.token_urlsafe(KEY_BYTES)
    return key, digest(key)


def with_role(entry: str) -> tuple[str, Role]:
    """A configured key or hash and its role: `value[:client|admin]` (none: client)."""
    value, sep, role = entry.rpartition(":")
    if sep and role in ROLES:
        return value, role
    return entry, "client"


@dataclass(frozen=True)
class Known:
    """A configured key as the gate found it: its digest and its role."""

    digest: str
    role: Role


class KeyRing:
    """The configured keys' digests and roles; empty means keys are off."""

    def __init__(self, entries: list[tuple[str, Role]]) -> None:
        roles: dict[str, Role] = {}
        for hashed, role in entries:  # a key given twice takes the higher role
            roles[hashed] = "admin" if "admin" in (role, roles.get(hashed)) else role
        self._known = [(hashed.encode(), role) for hashed, role in roles.items()]

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        plain = settings.api_keys.get_secret_value() if settings.api_keys else ""
        entries = [with_role(entry) for entry in split_list(plain)]
        hashed = [with_role(entry) for entry in split_list(settings.api_key_hashes)]
        return cls([(digest(key), role) for key, role in entries] + hashed)

    @property
    def enabled(self) -> bool:
        return bool(self._known)

    def __len__(self) -> int:
        return len(self._known)

    def identify(self, key: str | None) -> Known | None:
        """The configured key `key` is, or None; constant time per digest."""
        if not key:
            return None
        given = digest(key).encode()
        found: Role | None = None
        for known, role in self._known:  # no early exit: timing says nothing about which
            if hmac.compare_digest(given, known):
                found = role
        return None if found is None else Known(given.decode(), found)


class KeyIds:
    """Key ids: HMAC-SHA256(secret, digest), 16 hex digits, computed once per key.

    The secret is SPECTRUM_KEY_ID_SECRET when set. Unset, the first gateway that needs
    one stores a random one in the result backend (SET NX) and every gateway reads the
    same, so ids agree between processes and replicas and outlive restarts.
    """

    def __init__(self, load_secret: Callable[[], Awaitable[bytes]]) -> None:
        self._load = load_secret
        self._secret: bytes | None = None
        self._ids: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings, backend: aioredis.Redis) -> KeyIds:
        configured = settings.key_id_secret
        if configured is not None:
            secret = configured.get_secret_value().encode("utf-8")

            async def given() -> bytes:
                return secret

            return cls(given)
        return cls(lambda: stored_secret(backend))

    async def of(self, key_digest: str) -> str:
        """The id of the key with this digest; BackendUnavailable when the secret is unreadable."""
        found = self._ids.get(key_digest)
        if found is not None:
            return found
        if self._secret is None:
            self._secret = await self._load()
        mac = hmac.new(self._secret, key_digest.encode("ascii"), hashlib.sha256)
        found = self._ids[key_digest] = mac.hexdigest()[:KEY_ID_CHARS]
        return found


async def stored_secret(backend: aioredis.Redis) -> bytes:
    """The shared key-id secret in the result backend, created by whoever asks first."""
    try:
        await backend.set(SECRET_REDIS_KEY, secrets.token_hex(32), nx=True)
        value = await backend.get(SECRET_REDIS_KEY)
    except (aioredis.RedisError, OSError) as exc:
        raise BackendUnavailable(
            f"result backend unreachable (the key-id secret is kept there): {type(exc).__name__}"
        ) from exc
    if value is None:  # deleted between the two calls: the next request tries again
        raise BackendUnavailable("the key-id secret was removed while it was read; retry")
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def key_from_headers(headers: dict[bytes, bytes]) -> str | None:
    """The key of `Authorization: Bearer <key>` or `X-API-Key: <key>`, if either is given."""
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    given = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return given or None


def main() -> None:
    """Print a new key and the digest to configure (SPECTRUM_API_KEY_HASHES)."""
    key, hashed = new_key()
    sys.stdout.write(
        f"key (give it to the client, once): {key}\n"
        f"hash (add to SPECTRUM_API_KEY_HASHES; append :admin for an admin key): {hashed}\n"
    )


if __name__ == "__main__":
    main()
