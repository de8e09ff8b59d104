"""Aliases: a weighted choice among model names, sticky per text, with optional shadow traffic.

An alias (e.g. `sentiment`) names one or more models ("versions") with integer
weights. Which one answers a text is a pure function of the normalized text:
the first 8 bytes of its SHA-256, read as an integer, modulo the total weight,
fall into one target's share of the weights (in the document's order). So the
same text always lands on the same version (its cache stays warm, its answer
stable), and over many distinct texts each target gets its weight's share.

The shadow share is chosen the same way from the next 8 bytes of the digest,
read as a fraction of 2**64: a text is shadowed when that fraction is below the
share, so a text is either always or never copied to the candidate.

The document, as SPECTRUM_ALIASES, the aliases file and PUT /v1/admin/aliases
take it:

    {"sentiment": {"targets": {"sentiment-minilm": 90, "sentiment-minilm-v2": 10},
                   "shadow": {"model": "sentiment-vader", "share": 0.2}}}

`parse_aliases` checks it whole and raises InvalidAliases with the first reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

# What a model or alias name may be: what shared/config.py's served_model_name yields.
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")
MAX_TARGETS = 16
MAX_WEIGHT = 1_000_000
_SPAN = 2**64


class InvalidAliases(ValueError):
    """An aliases document that breaks a rule; the message says which and where."""


def text_digest(normalized_text: str) -> bytes:
    return hashlib.sha256(normalized_text.encode("utf-8")).digest()


@dataclass(frozen=True)
class Shadow:
    model: str
    share: float  # in (0, 1]


@dataclass(frozen=True)
class Alias:
    """Targets (model, weight) in document order, every weight a positive integer."""

    name: str
    targets: tuple[tuple[str, int], ...]
    shadow: Shadow | None = None

    @property
    def total(self) -> int:
        return sum(weight for _, weight in self.targets)

    @property
    def models(self) -> list[str]:
        return [model for model, _ in self.targets]

    def choose(self, normalized_text: str, digest: bytes | None = None) -> str:
        """The target that answers this text: always the same one for the same text."""
        point = int.from_bytes((digest or text_digest(normalized_text))[:8], "big") % self.total
        for model, weight in self.targets:
            if point < weight:
                return model
            point -= weight
        raise AssertionError("unreachable: point < total")

    def shadowed(self, normalized_text: str, digest: bytes | None = None) -> bool:
        """Whether this text is also sent to the shadow candidate (same answer every time)."""
        if self.shadow is None:
            return False
        fraction = int.from_bytes((digest or text_digest(normalized_text))[8:16], "big") / _SPAN
        return fraction < self.shadow.share

    def document(self) -> dict[str, Any]:
        shadow = None
        if self.shadow is not None:
            shadow = {"model": self.shadow.model, "share": self.shadow.share}
        return {"targets": dict(self.targets), "shadow": shadow}


def aliases_document(aliases: Mapping[str, Alias]) -> dict[str, Any]:
    """The document that parses back into `aliases`."""
    return {name: alias.document() for name, alias in aliases.items()}


def load_aliases(raw: str | bytes, *, models: Collection[str] = ()) -> dict[str, Alias]:
    """Parse a JSON aliases document; InvalidAliases for bad JSON or a broken rule."""
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidAliases(f"not valid JSON: {exc}") from None
    return parse_aliases(document, models=models)


def parse_aliases(document: object, *, models: Collection[str] = ()) -> dict[str, Alias]:
    """Check a decoded document whole; `models` are the model names an alias may not take."""
    if not isinstance(document, dict):
        raise InvalidAliases("the document must be a JSON object of alias name -> alias")
    aliases: dict[str, Alias] = {}
    for name, body in document.items():
        aliases[name] = _alias(name, body, models)
    for alias in aliases.values():
        named = alias.models + ([alias.shadow.model] if alias.shadow else [])
        for target in named:
            if target in aliases:
                raise InvalidAliases(
                    f"{alias.name}: {target!r} is an alias; targets must be model names"
                )
    return aliases


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise InvalidAliases(
            f"{where}: {value!r} is not a model name (1-128 of a-z 0-9 . _ -, "
            "starting with a letter or digit)"
        )
    return value


def _alias(name: object, body: object, models: Collection[str]) -> Alias:
    alias_name = _name(name, "alias name")
    if alias_name in models:
        raise InvalidAliases(f"{alias_name}: a model has this name; an alias may not shadow it")
    if not isinstance(body, dict):
        raise InvalidAliases(f"{alias_name}: must be an object with 'targets'")
    unknown = set(body) - {"targets", "shadow"}
    if unknown:
        raise InvalidAliases(f"{alias_name}: unknown field(s) {sorted(unknown)}")
    targets = body.get("targets")
    if not isinstance(targets, dict) or not targets:
        raise InvalidAliases(f"{alias_name}.targets: an object of model name -> weight")
    if len(targets) > MAX_TARGETS:
        raise InvalidAliases(f"{alias_name}.targets: at most {MAX_TARGETS} targets")
    pairs: list[tuple[str, int]] = []
    for model, weight in targets.items():
        _name(model, f"{alias_name}.targets")
        # bool is an int in Python; true is not a weight.
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
            raise InvalidAliases(
                f"{alias_name}.targets.{model}: the weight must be a positive integer"
            )
        if weight > MAX_WEIGHT:
            raise InvalidAliases(f"{alias_name}.targets.{model}: at most {MAX_WEIGHT}")
        pairs.append((model, weight))
    return Alias(alias_name, tuple(pairs), _shadow(alias_name, body.get("shadow")))


def _shadow(alias_name: str, body: object) -> Shadow | None:
    if body is None:
        return None
    if not isinstance(body, dict) or set(body) != {"model", "share"}:
        raise InvalidAliases(f"{alias_name}.shadow: an object with 'model' and 'share', or null")
    model = _name(body["model"], f"{alias_name}.shadow.model")
    share = body["share"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise InvalidAliases(f"{alias_name}.shadow.share: a number in (0, 1]")
    return Shadow(model, float(share))
