"""Webhook signatures: HMAC-SHA256 over the timestamp and the exact body bytes.

A receiver recomputes `sha256=hex(HMAC(secret, "<timestamp>." + body))` from the
`X-Spectrum-Timestamp` header and the raw body, compares it in constant time with
`X-Spectrum-Signature`, and rejects timestamps too far from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Spectrum-Signature"
TIMESTAMP_HEADER = "X-Spectrum-Timestamp"


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value for this body sent at this Unix timestamp."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify(
    secret: bytes, timestamp: str, body: bytes, signed: str, *, now: float, tolerance_s: float
) -> bool:
    """True when `signed` is this body's signature and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signed)
