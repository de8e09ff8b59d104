"""The one prediction procedure every runtime shares: length-sorted, per-batch padding.

Texts are tokenized once, sorted by token length and cut into batches of
`batch_size`, each padded only to its own longest text, so short texts never pay
for long ones (on realistic text this is most of the speed, DESIGN.md §2.5).
Probabilities come back one row per text, in input order, whatever the runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from worker.metrics import observed_forward

Feeds = dict[str, np.ndarray]
BatchRun = Callable[[Feeds], np.ndarray]  # padded int64 inputs of one batch in, logits out


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities


def predict_sorted(
    tokenizer: Any, run: BatchRun, texts: Sequence[str], *, batch_size: int, max_tokens: int
) -> np.ndarray:
    """Softmax probabilities, one row per text, in input order."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    encoded = tokenizer(list(texts), truncation=True, max_length=max_tokens)
    names = [name for name in tokenizer.model_input_names if name in encoded]
    pad_values = {"input_ids": tokenizer.pad_token_id or 0}
    left = tokenizer.padding_side == "left"
    lengths = [len(ids) for ids in encoded["input_ids"]]
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    chunks: list[np.ndarray] = []
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(lengths[i] for i in rows)
        feeds: Feeds = {}
        for name in names:
            batch = np.full((len(rows), width), pad_values.get(name, 0), dtype=np.int64)
            for r, i in enumerate(rows):
                values = encoded[name][i]
                if left:
                    batch[r, width - len(values) :] = values
                else:
                    batch[r, : len(values)] = values
            feeds[name] = batch
        chunks.append(softmax(np.asarray(run(feeds), dtype=np.float32)))
    in_sorted_order = np.concatenate(chunks)
    probabilities = np.empty_like(in_sorted_order)
    probabilities[order] = in_sorted_order
    return probabilities


class BatchedRuntime:
    """Base of the model runtimes: `predict` goes through `predict_sorted`, and a
    subclass only says how one padded batch becomes logits (`_run`)."""

    _tokenizer: Any
    batch_size: int
    max_tokens: int

    def predict(self, texts: Sequence[str]) -> list[list[float]]:
        rows: list[list[float]] = predict_sorted(
            self._tokenizer,
            observed_forward(self._run),
            texts,
            batch_size=self.batch_size,
            max_tokens=self.max_tokens,
        ).tolist()
        return rows

    def _run(self, feeds: Feeds) -> np.ndarray:
        raise NotImplementedError
