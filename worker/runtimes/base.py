"""The one interface every runtime offers the worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Runtime(Protocol):
    """Turns texts into probabilities over `labels`, one row per text, in order."""

    @property
    def labels(self) -> list[str]: ...

    def predict(self, texts: Sequence[str]) -> list[list[float]]: ...
