"""The one interface every runtime offers the worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


class Runtime(Protocol):
    """Turns texts into probabilities over `labels`, one row per text, in order."""

    @property
    def labels(self) -> list[str]: ...

    def predict(self, texts: Sequence[str]) -> list[list[float]]: ...


@runtime_checkable
class Truncating(Protocol):
    """A runtime with a token window also tells which texts it had to cut."""

    def predict_detailed(self, texts: Sequence[str]) -> tuple[list[list[float]], list[int]]: ...
