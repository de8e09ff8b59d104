"""Webhook signatures in the Standard Webhooks format (https://www.standardwebhooks.com).

A delivery carries three headers:

- `webhook-id`: the message's id, the same on every retry (and on a duplicate send)
  of one event, so that a receiver can drop what it has already handled;
- `webhook-timestamp`: the Unix seconds of this attempt;
- `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per
  key, separated by spaces (key rotation: a receiver holding any one key verifies).

Keys come from the secret setting: whitespace-separated `whsec_<base64>` keys (the
first signs first; receivers of the old key keep verifying while it is listed). A
value that does not start with `whsec_` is one key taken as its UTF-8 bytes, whole,
so any plain string works as a secret (a receiver passes those bytes, not the string,
to its verifier).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"

_PREFIX = "whsec_"


def signing_keys(secret: str) -> list[bytes]:
    """The HMAC keys a secret setting names, in order; ValueError when it names none
    or a `whsec_` key is not base64."""
    if not secret.startswith(_PREFIX):
        if not secret:
            raise ValueError("the webhook secret is empty")
        return [secret.encode("utf-8")]
    keys = []
    for part in secret.split():
        if not part.startswith(_PREFIX):
            raise ValueError("every key of a webhook secret list must start with whsec_")
        try:
            key = base64.b64decode(part[len(_PREFIX) :], validate=True)
        except binascii.Error:
            raise ValueError("a whsec_ webhook key is not valid base64") from None
        if not key:
            raise ValueError("a whsec_ webhook key is empty")
        keys.append(key)
    return keys


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """One key's `v1,<base64>` signature of this body sent as this message at this time."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    keys: list[bytes], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers for this body, signed with every key."""
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: " ".join(sign(key, message_id, timestamp, body) for key in keys),
    }
