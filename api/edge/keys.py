"""API keys: kept as SHA-256 digests, checked in constant time.

`python -m spectrum.api.edge.keys` makes one.

A key is a random 32-byte URL-safe token. The gateway holds only digests (plain
keys given in the settings are hashed at load), so neither a settings dump nor
a memory read shows a usable key, and every comparison is `hmac.compare_digest`
over all configured digests, whether or not an earlier one matched.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys

from spectrum.shared.config import Settings, split_list

KEY_BYTES = 32


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its digest."""
    key = secrets.token_urlsafe(KEY_BYTES)
    return key, digest(key)


class KeyRing:
    """The configured keys' digests; empty means keys are off."""

    def __init__(self, digests: list[str]) -> None:
        self._digests = [d.encode() for d in dict.fromkeys(digests)]

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        plain = settings.api_keys.get_secret_value() if settings.api_keys else ""
        return cls([digest(k) for k in split_list(plain)] + split_list(settings.api_key_hashes))

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def identify(self, key: str | None) -> str | None:
        """The digest of `key` when it is configured, else None; constant time per digest."""
        if not key:
            return None
        given = digest(key).encode()
        found = False
        for known in self._digests:  # no early exit: timing says nothing about which matched
            found |= hmac.compare_digest(given, known)
        return given.decode() if found else None


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
        f"hash (add to SPECTRUM_API_KEY_HASHES): {hashed}\n"
    )


if __name__ == "__main__":
    main()
