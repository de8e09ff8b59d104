"""The one prediction procedure every runtime shares: length-sorted, token-budgeted batches.

Texts are tokenized once, sorted by token length and cut into forward passes of at
most `batch_size` texts and at most `token_budget` padded tokens (rows x longest
row), each padded only to its own longest text, so short texts never pay for long
ones (on realistic text this is most of the speed, DESIGN.md §2.5) and a pass of
long texts stays as cheap per token as one of short texts. Probabilities come back
one row per text, in input order, whatever the runtime.
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


def cut_batches(sorted_lengths: Sequence[int], batch_size: int, token_budget: int) -> list[range]:
    """Cut ascending lengths into runs of at most `batch_size` rows whose padded size
    (rows x the last, longest row) stays within `token_budget`; 0 means no budget.
    A text longer than the budget on its own still gets a pass of its own."""
    batches: list[range] = []
    start = 0
    for end in range(1, len(sorted_lengths) + 1):
        rows = end - start
        over_budget = token_budget and rows * sorted_lengths[end - 1] > token_budget
        if rows > batch_size or (over_budget and rows > 1):
            batches.append(range(start, end - 1))
            start = end - 1
    if start < len(sorted_lengths):
        batches.append(range(start, len(sorted_lengths)))
    return batches


def predict_sorted(
    tokenizer: Any,
    run: BatchRun,
    texts: Sequence[str],
    *,
    batch_size: int,
    max_tokens: int,
    token_budget: int = 0,
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
    for cut in cut_batches([lengths[i] for i in order], batch_size, token_budget):
        rows = order[cut.start : cut.stop]
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
    token_budget: int = 0  # padded tokens per forward pass; 0 means rows alone decide

    def predict(self, texts: Sequence[str]) -> list[list[float]]:
        rows: list[list[float]] = predict_sorted(
            self._tokenizer,
            observed_forward(self._run),
            texts,
            batch_size=self.batch_size,
            max_tokens=self.max_tokens,
            token_budget=self.token_budget,
        ).tolist()
        return rows

    def _run(self, feeds: Feeds) -> np.ndarray:
        raise NotImplementedError
