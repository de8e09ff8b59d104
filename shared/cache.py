"""Cache keys and entries for computed predictions.

A key names the model and its version, so a new model never serves an old
model's answers: `spectrum:pred:<model>:<version>:<sha256 of the normalized text>`.
Only successful predictions are stored; errors are never cached.

An entry is the JSON object label -> probability. A text the model saw only in
part (cut to its token window) is stored as `{"p": {label: probability},
"truncated": true}` instead, so that its answer says so when it comes from the
cache too; entries in the first form read as not truncated, and a gateway that
only knows the first form reads the second as unreadable (a miss), never as a
wrong answer.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import NamedTuple

KEY_PREFIX = "spectrum:pred"


def normalize_text(text: str) -> str:
    """Canonical form of a text: NFC, whitespace runs collapsed, ends stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def cache_key(model: str, version: str, normalized_text: str) -> str:
    digest = hashlib.sha256(normalized_text.encode("utf-8")).hexdigest()
    return f"{KEY_PREFIX}:{model}:{version}:{digest}"


class CachedPrediction(NamedTuple):
    probabilities: dict[str, float]
    truncated: bool


def encode_entry(labels: list[str], probabilities: list[float], truncated: bool = False) -> str:
    scores = dict(zip(labels, probabilities, strict=True))
    value: dict[str, object] = {"p": scores, "truncated": True} if truncated else dict(scores)
    return json.dumps(value, separators=(",", ":"))


def decode_entry(raw: bytes | str) -> CachedPrediction:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("cache entry is not an object")
    truncated = False
    if isinstance(value.get("p"), dict):
        truncated = value.get("truncated") is True
        value = value["p"]
    return CachedPrediction({str(label): float(p) for label, p in value.items()}, truncated)
