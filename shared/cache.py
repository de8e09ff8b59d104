"""Cache keys and entries for computed predictions.

A key names the model and its version, so a new model never serves an old
model's answers: `spectrum:pred:<model>:<version>:<sha256 of the normalized text>`.
Only successful predictions are stored; errors are never cached.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata

KEY_PREFIX = "spectrum:pred"


def normalize_text(text: str) -> str:
    """Canonical form of a text: NFC, whitespace runs collapsed, ends stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def cache_key(model: str, version: str, normalized_text: str) -> str:
    digest = hashlib.sha256(normalized_text.encode("utf-8")).hexdigest()
    return f"{KEY_PREFIX}:{model}:{version}:{digest}"


def encode_entry(labels: list[str], probabilities: list[float]) -> str:
    return json.dumps(dict(zip(labels, probabilities, strict=True)), separators=(",", ":"))


def decode_entry(raw: bytes | str) -> dict[str, float]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("cache entry is not an object")
    return {str(label): float(p) for label, p in value.items()}
