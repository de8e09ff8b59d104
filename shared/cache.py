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

Reading is one rule for the gateway (async Redis) and the workers (sync Redis):
`CacheLookup` names the keys of one MGET and turns its replies into hits; the
clients only send the MGET and treat an outage as all misses. An entry that does
not decode (corrupt, or in a form this code does not know) is a miss, counted,
never an error.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
    """The entry's probabilities, or ValueError for anything that is not an entry."""
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("cache entry is not an object")
    truncated = False
    if isinstance(value.get("p"), dict):
        truncated = value.get("truncated") is True
        value = value["p"]
    try:
        return CachedPrediction({str(label): float(p) for label, p in value.items()}, truncated)
    except TypeError:  # a probability that is not a number: null, a list, an object
        raise ValueError("cache entry holds a probability that is not a number") from None


class CacheHits(NamedTuple):
    found: dict[str, CachedPrediction]  # text -> its cached answer
    unreadable: int  # entries that were there but did not decode (read as misses)


@dataclass(frozen=True)
class CacheLookup:
    """The reads of one MGET: each distinct text once, with its key, in first-seen order."""

    texts: list[str]
    keys: list[str]

    @classmethod
    def of(cls, model: str, version: str, texts: Iterable[str]) -> CacheLookup:
        unique = list(dict.fromkeys(texts))
        return cls(unique, [cache_key(model, version, text) for text in unique])

    def hits(self, replies: Sequence[bytes | str | None]) -> CacheHits:
        """The MGET's replies (one per key, None where absent) as hits by text."""
        if len(replies) != len(self.keys):
            raise ValueError(f"{len(replies)} replies for {len(self.keys)} keys")
        found: dict[str, CachedPrediction] = {}
        unreadable = 0
        for text, raw in zip(self.texts, replies, strict=True):
            if raw is None:
                continue
            try:
                found[text] = decode_entry(raw)
            except ValueError:
                unreadable += 1
        return CacheHits(found, unreadable)
