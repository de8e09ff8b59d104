"""Both runtimes behind the one protocol: a row of probabilities per text, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectrum.worker.runtimes.batching import cut_batches
from spectrum.worker.runtimes.lexicon import load_lexicon


def test_lexicon_gives_every_label_a_probability() -> None:
    runtime, card = load_lexicon("vader")
    rows = runtime.predict(["I love this wonderful film", "awful, boring, terrible", "a chair"])
    assert card.labels == runtime.labels == ["NEGATIVE", "POSITIVE"]
    assert card.version.startswith("vader-")
    assert [len(row) for row in rows] == [2, 2, 2]
    assert all(abs(sum(row) - 1) < 1e-9 for row in rows)
    assert rows[0][1] > 0.8
    assert rows[1][0] > 0.8
    assert rows[2] == [0.5, 0.5]


def test_torch_runtime_serves_a_local_directory(tiny_model_dir: Path) -> None:
    pytest.importorskip("torch")
    from spectrum.worker.runtimes.hf import load_torch

    runtime, card = load_torch(
        str(tiny_model_dir), "tiny", device="cpu", precision="fp32", threads=1, max_tokens=32
    )
    rows = runtime.predict(["the movie was great", "awful " * 200, "i hate it"])
    assert card.labels == ["NEGATIVE", "NEUTRAL", "POSITIVE"]
    assert card.runtime == "torch-fp32-cpu"
    assert len(card.version) == 12
    assert [len(row) for row in rows] == [3, 3, 3]
    assert all(abs(sum(row) - 1) < 1e-5 for row in rows)
    # Each text is its own row, whatever else is in the batch.
    alone = runtime.predict(["i hate it"])[0]
    assert alone == pytest.approx(rows[2], abs=1e-5)
    # The same files give the same version: cache keys survive a restart.
    _, again = load_torch(
        str(tiny_model_dir), "tiny", device="cpu", precision="fp32", threads=1, max_tokens=32
    )
    assert again.version == card.version


def test_torch_runtime_batches_by_length_without_changing_answers(tiny_model_dir: Path) -> None:
    pytest.importorskip("torch")
    from spectrum.worker.runtimes.hf import load_torch

    texts = [("good " * n).strip() for n in (9, 1, 30, 4, 2, 17, 3)]
    one_batch, _ = load_torch(
        str(tiny_model_dir), "t", precision="fp32", threads=1, max_tokens=64, batch_size=64
    )
    small_batches, _ = load_torch(
        str(tiny_model_dir), "t", precision="fp32", threads=1, max_tokens=64, batch_size=2
    )
    token_budgeted, _ = load_torch(
        str(tiny_model_dir), "t", precision="fp32", threads=1, max_tokens=64, token_budget=16
    )
    expected = [one_batch.predict([text])[0] for text in texts]
    for runtime in (small_batches, token_budgeted):
        for got, want in zip(runtime.predict(texts), expected, strict=True):
            assert got == pytest.approx(want, abs=1e-5)


def test_bf16_is_chosen_only_where_the_cpu_has_it(tiny_model_dir: Path) -> None:
    pytest.importorskip("torch")
    from spectrum.worker.runtimes.cpu import bf16_support
    from spectrum.worker.runtimes.hf import load_torch

    runtime, card = load_torch(str(tiny_model_dir), "t", threads=1, max_tokens=32)
    fast, _ = bf16_support()
    assert runtime.precision == ("bf16" if fast else "fp32")
    assert card.runtime == f"torch-{runtime.precision}-cpu"


def test_batches_respect_rows_and_padded_tokens_at_the_least_cost() -> None:
    lengths = [4, 4, 5, 8, 8, 9, 30, 60]

    by_rows = cut_batches(lengths, batch_size=3, token_budget=0)
    by_tokens = cut_batches(lengths, batch_size=32, token_budget=32)

    assert [list(r) for r in by_rows] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    # Passes of at most 32 padded tokens; 30 and 60 are over budget alone and get
    # a pass each; of the four-pass cuts, the one padding least wins.
    assert [list(r) for r in by_tokens] == [[0, 1, 2], [3, 4, 5], [6], [7]]
    assert cut_batches([], batch_size=4, token_budget=16) == []


def test_a_long_outlier_gets_its_own_pass_when_padding_would_cost_more() -> None:
    lengths = [10] * 8 + [200]

    cuts = cut_batches(lengths, batch_size=64, token_budget=0, pass_cost=128)

    assert [list(r) for r in cuts] == [list(range(8)), [8]]
    # With passes as dear as the padding, one pass is cheaper.
    assert len(cut_batches(lengths, batch_size=64, token_budget=0, pass_cost=2000)) == 1


def test_torch_runtime_tells_which_texts_it_truncated(tiny_model_dir: Path) -> None:
    pytest.importorskip("torch")
    from spectrum.worker.runtimes.hf import load_torch

    runtime, _ = load_torch(
        str(tiny_model_dir), "tiny", device="cpu", precision="fp32", threads=1, max_tokens=16
    )
    # The tiny tokenizer's window is 16 tokens with [CLS] and [SEP]: 14 words fit exactly.
    exactly = " ".join(["great"] * 14)
    rows, truncated = runtime.predict_detailed(["short", "awful " * 200, exactly, "bad " * 15])
    assert len(rows) == 4
    assert truncated == [1, 3]
    assert rows == runtime.predict(["short", "awful " * 200, exactly, "bad " * 15])
