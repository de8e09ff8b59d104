"""A stand-in model for capacity tests: every forward pass takes a fixed time, and eats no CPU.

`make scale` measures how throughput grows with workers; with the real model two cores
could host two workers at most. This runtime's cost is a `sleep`: a pass of n texts
takes `pass_s + n * text_s` of wall time and next to no CPU, so two cores can host
sixteen workers and the curve shows the stack (gateway, broker, result backend), not
the cores. Its labels are the shipped model's; its probabilities are a function of the
text alone (a SHA-256 of it), so the same text always gets the same answer, whichever
worker computes it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence

from spectrum.shared.config import Settings
from spectrum.shared.contracts import ModelCard

# The shipped model's labels (models/sentiment-minilm/config.json), so that a client
# or a dashboard sees the same shape of answer.
LABELS = ["NEGATIVE", "POSITIVE"]


def positive_share(text: str) -> float:
    """P(POSITIVE) in [0, 1], read from the first 8 bytes of the text's SHA-256."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / float(2**64 - 1)


class FixedCostRuntime:
    """Texts are cut into passes of at most `batch_size`; each pass costs `pass_s` plus
    `text_s` per text, slept, not computed. Invariant: `cost_s(n)` is exactly what
    `predict` of n texts sleeps."""

    def __init__(
        self,
        pass_s: float,
        text_s: float,
        batch_size: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if pass_s < 0 or text_s < 0 or batch_size < 1:
            raise ValueError("costs must be >= 0 and batch_size >= 1")
        self.pass_s = pass_s
        self.text_s = text_s
        self.batch_size = batch_size
        self._sleep = sleep

    @property
    def labels(self) -> list[str]:
        return LABELS

    def cost_s(self, count: int) -> float:
        passes = -(-count // self.batch_size)  # ceiling division
        return passes * self.pass_s + count * self.text_s

    def predict(self, texts: Sequence[str]) -> list[list[float]]:
        cost = self.cost_s(len(texts))
        if cost > 0:
            self._sleep(cost)
        rows = []
        for text in texts:
            positive = positive_share(text)
            rows.append([1.0 - positive, positive])
        return rows


def load_fixed(
    name: str, *, pass_ms: float, text_ms: float, batch_size: int
) -> tuple[FixedCostRuntime, ModelCard]:
    """The stand-in and its card; the version names the costs, so runs with other costs
    never read each other's cached answers."""
    runtime = FixedCostRuntime(pass_ms / 1000, text_ms / 1000, batch_size)
    card = ModelCard(
        name=name,
        version=f"fixed-{pass_ms:g}ms-{text_ms:g}ms",
        labels=LABELS,
        runtime="fixed",
        source="worker/runtimes/fixed.py (a stand-in: sleeps, computes nothing)",
        description=(
            f"Capacity-test stand-in: a pass of n texts sleeps {pass_ms:g} ms + n x "
            f"{text_ms:g} ms; P(POSITIVE) is a hash of the text, not a prediction."
        ),
    )
    return runtime, card


def load(settings: Settings) -> tuple[FixedCostRuntime, ModelCard]:
    """The registry's entry point (worker/runtimes/__init__.py): the costs from the
    settings, passes of at most SPECTRUM_BATCH_SIZE texts."""
    return load_fixed(
        settings.served_model_name,
        pass_ms=settings.fixed_pass_ms,
        text_ms=settings.fixed_text_ms,
        batch_size=settings.batch_size,
    )
