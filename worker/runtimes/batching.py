"""The one prediction procedure every runtime shares: length-sorted, token-budgeted batches.

Texts are tokenized once, sorted by token length and cut into forward passes of at
most `batch_size` texts and at most `token_budget` padded tokens (rows x longest
row), each padded only to its own longest text, so short texts never pay for long
ones (on realistic text this is most of the speed: docs/index.md, "How it works").
Where to cut is chosen by cost (`cut_batches`): a task of 16-32 texts of mixed lengths
padded as one pass wastes about half its compute. Probabilities come back
one row per text, in input order, whatever the runtime: the softmax of the logits
under the model's calibration (temperature and exponent; 1.0 and 1.0: as trained),
which changes how sure the answers are, never their order or label.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from spectrum.shared import tracing
from spectrum.worker import metrics

Feeds = dict[str, np.ndarray]
BatchRun = Callable[[Feeds], np.ndarray]  # padded int64 inputs of one batch in, logits out


def observed_forward(run: BatchRun) -> BatchRun:
    """Wrap a runtime's one-batch forward pass so each call records its size and time."""

    def forward(feeds: Feeds) -> np.ndarray:
        started = time.perf_counter()
        logits = run(feeds)
        seconds = time.perf_counter() - started
        metrics.FORWARD_SECONDS.observe(seconds)
        rows, width = feeds["input_ids"].shape
        mask = feeds.get("attention_mask")
        real = int(np.count_nonzero(mask)) if mask is not None else rows * width
        tracing.forward_pass(seconds, rows, width, real)
        metrics.FORWARD_TEXTS.observe(rows)
        metrics.FORWARD_TOKENS.observe(rows * width)
        metrics.TOKENS.labels(kind="real").inc(real)
        metrics.TOKENS.labels(kind="padded").inc(rows * width)
        return logits

    return forward


MIN_MARGIN = 1e-6  # a tie between the top two logits, under an exponent below 1


def softmax(logits: np.ndarray, temperature: float = 1.0, exponent: float = 1.0) -> np.ndarray:
    """Row-wise softmax of `logits / temperature`; with an exponent other than 1, of
    `logits * margin ** (exponent - 1) / temperature` (worker/runtimes/model_dir.py
    Calibration: the margin is the row's top logit less its second)."""
    scaled = logits
    if exponent != 1.0 and logits.shape[1] > 1:
        top_two = np.sort(logits, axis=1)[:, -2:]
        margin = np.maximum(top_two[:, 1] - top_two[:, 0], MIN_MARGIN)
        scaled = logits * (margin ** (exponent - 1.0))[:, None]
    if temperature != 1.0:
        scaled = scaled / temperature
    shifted = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities


# What one more forward pass costs, in padded tokens: what `cut_batches` weighs a
# pass's fixed cost (dispatch, per-pass kernels) against the padding it saves. 128
# served the shipped model's tasks of 16 and 32 texts best of the values tried
# (docs/performance.md, "What chose the defaults").
PASS_COST_TOKENS = 128


def cut_batches(
    sorted_lengths: Sequence[int],
    batch_size: int,
    token_budget: int,
    pass_cost: int = PASS_COST_TOKENS,
) -> list[range]:
    """Cut ascending token lengths into forward passes, cheapest first.

    A pass costs its padded size (rows x its longest row) plus `pass_cost`; the
    cuts minimize the total (dynamic programming over the cut points, O(n x
    batch_size)), with at most `batch_size` rows per pass and a padded size within
    `token_budget` (0: no budget). A text longer than the budget gets a pass of
    its own. So a task of mixed lengths runs as a few passes of similar lengths
    instead of one pass padded to its longest text.
    """
    n = len(sorted_lengths)
    best = [0.0] + [float("inf")] * n  # best[j]: cheapest cost of the first j texts
    start_of = [0] * (n + 1)
    for end in range(1, n + 1):
        width = sorted_lengths[end - 1]
        for start in range(max(0, end - batch_size), end):
            rows = end - start
            if token_budget and rows > 1 and rows * width > token_budget:
                continue
            cost = best[start] + rows * width + pass_cost
            if cost < best[end]:
                best[end], start_of[end] = cost, start
    cuts = []
    end = n
    while end > 0:
        cuts.append(range(start_of[end], end))
        end = start_of[end]
    return cuts[::-1]


def predict_sorted(
    tokenizer: Any,
    run: BatchRun,
    texts: Sequence[str],
    *,
    batch_size: int,
    max_tokens: int,
    token_budget: int = 0,
    temperature: float = 1.0,
    pad_multiple: int = 1,
    exponent: float = 1.0,
) -> np.ndarray:
    """Calibrated softmax probabilities (`softmax`), one row per text, in input order."""
    probabilities, _ = predict_sorted_detailed(
        tokenizer,
        run,
        texts,
        batch_size=batch_size,
        max_tokens=max_tokens,
        token_budget=token_budget,
        temperature=temperature,
        pad_multiple=pad_multiple,
        exponent=exponent,
    )
    return probabilities


def truncated_positions(
    tokenizer: Any, texts: Sequence[str], lengths: Sequence[int], max_tokens: int
) -> list[int]:
    """Positions of the texts cut to `max_tokens`.

    Only a text whose truncated encoding fills the whole window can have been
    cut; those few are encoded again in full to tell (the rest cost nothing).
    """
    full = [i for i, length in enumerate(lengths) if length >= max_tokens]
    if not full:
        return []
    again = tokenizer([texts[i] for i in full], truncation=False)["input_ids"]
    return [i for i, ids in zip(full, again, strict=True) if len(ids) > max_tokens]


def predict_sorted_detailed(
    tokenizer: Any,
    run: BatchRun,
    texts: Sequence[str],
    *,
    batch_size: int,
    max_tokens: int,
    token_budget: int = 0,
    temperature: float = 1.0,
    pad_multiple: int = 1,
    exponent: float = 1.0,
) -> tuple[np.ndarray, list[int]]:
    """`predict_sorted`, and the positions of the texts truncated to `max_tokens`.

    `pad_multiple` rounds each pass's width up to a multiple of it (never past the
    longer of `max_tokens` and the pass's longest text): fewer distinct input shapes.
    """
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), []
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
        if pad_multiple > 1:
            width = min(-(-width // pad_multiple) * pad_multiple, max(width, max_tokens))
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
        chunks.append(softmax(np.asarray(run(feeds), dtype=np.float32), temperature, exponent))
    in_sorted_order = np.concatenate(chunks)
    probabilities = np.empty_like(in_sorted_order)
    probabilities[order] = in_sorted_order
    return probabilities, truncated_positions(tokenizer, texts, lengths, max_tokens)


class BatchedRuntime:
    """Base of the model runtimes: `predict` goes through `predict_sorted`, and a
    subclass only says how one padded batch becomes logits (`_run`)."""

    _tokenizer: Any
    batch_size: int
    max_tokens: int
    token_budget: int = 0  # padded tokens per forward pass; 0 means rows alone decide
    # The model directory's calibration (model_dir.calibration_of), applied by
    # `softmax`; 1.0 and 1.0 serve the probabilities as trained.
    temperature: float = 1.0
    exponent: float = 1.0
    pad_multiple: int = 1  # each pass's width rounded up to a multiple of this

    def predict(self, texts: Sequence[str]) -> list[list[float]]:
        return self.predict_detailed(texts)[0]

    def predict_detailed(self, texts: Sequence[str]) -> tuple[list[list[float]], list[int]]:
        """Rows as `predict`, and the positions of the texts truncated to the window."""
        probabilities, truncated = predict_sorted_detailed(
            self._tokenizer,
            observed_forward(self._run),
            texts,
            batch_size=self.batch_size,
            max_tokens=self.max_tokens,
            token_budget=self.token_budget,
            temperature=self.temperature,
            pad_multiple=self.pad_multiple,
            exponent=self.exponent,
        )
        rows: list[list[float]] = probabilities.tolist()
        return rows, truncated

    def _run(self, feeds: Feeds) -> np.ndarray:
        raise NotImplementedError
