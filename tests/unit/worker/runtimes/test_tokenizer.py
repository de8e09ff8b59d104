"""`tokenizers` alone tokenizes exactly as transformers' AutoTokenizer does.

The OpenVINO runtime reads tokenizer.json without transformers; here both read
the same directories (the shipped model's and the tiny DistilBERT's) and must
give the same ids, type ids, masks, truncation and padded forward passes.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spectrum.worker.runtimes.batching import Feeds, predict_sorted_detailed
from spectrum.worker.runtimes.tokenizer import FastTokenizer

transformers = pytest.importorskip("transformers")

SHIPPED = Path(__file__).resolve().parents[4] / "models" / "sentiment-minilm"

# What real input holds besides plain words: case, accents, other scripts, emoji,
# control and zero-width characters, runs of punctuation, digits, long words.
ODDITIES = [
    "Café NAÏVE résumé",
    "日本語のテキスト",
    "中文字符",
    "Привет, мир",
    "مرحبا",
    "😀👍🏽🔥",
    "tab\tnew\nline\rreturn",
    "zero\u200bwidth",
    "e\u0301 combining",
    "!!!???...,,,",
    "1234567 3.14159 -42",
    "https://example.com/a?b=c&d=e",
    "supercalifragilisticexpialidocious",
    "don't won't it's",
    "   ",
    "",
    "[CLS] [SEP] [PAD] [MASK] [UNK]",
    "<b>html</b> &amp;",
]


def texts(count: int, seed: int) -> list[str]:
    """Texts of 0 to about 300 words (many past a 128-token window), from a fixed seed."""
    rng = random.Random(seed)
    vocabulary = ["the", "movie", "was", "great", "awful", "not", "plot", "boring", ",", "!"]
    out = list(ODDITIES)
    while len(out) < count:
        words = [
            rng.choice(ODDITIES) if rng.random() < 0.15 else rng.choice(vocabulary)
            for _ in range(int(rng.expovariate(1 / 30)))
        ]
        out.append(" ".join(words))
    return out


@pytest.fixture(params=["shipped", "tiny"])
def model_dir(request: pytest.FixtureRequest, tiny_model_dir: Path) -> Path:
    return SHIPPED if request.param == "shipped" else tiny_model_dir


def test_same_ids_masks_and_truncation_as_autotokenizer(model_dir: Path) -> None:
    ours = FastTokenizer(model_dir)
    theirs = transformers.AutoTokenizer.from_pretrained(model_dir)
    sample = texts(400, seed=14)
    assert max(len(ids) for ids in theirs(sample)["input_ids"]) > 128  # truncation is exercised
    assert ours.pad_token_id == theirs.pad_token_id
    assert ours.padding_side == theirs.padding_side
    assert set(theirs.model_input_names) <= set(ours.model_input_names)
    for kwargs in ({"truncation": True, "max_length": 128}, {"truncation": True, "max_length": 16}):
        got, want = ours(sample, **kwargs), theirs(sample, **kwargs)
        for name in theirs.model_input_names:
            assert got[name] == want[name], (name, kwargs)
    assert ours(sample)["input_ids"] == theirs(sample, truncation=False)["input_ids"]


def test_same_forward_passes_and_truncated_texts_as_autotokenizer(model_dir: Path) -> None:
    sample = texts(200, seed=3)
    theirs = transformers.AutoTokenizer.from_pretrained(model_dir)

    def passes(tokenizer: Any) -> tuple[list[Feeds], list[int]]:
        seen: list[Feeds] = []

        def run(feeds: Feeds) -> np.ndarray:
            seen.append(feeds)
            return np.zeros((len(feeds["input_ids"]), 2), dtype=np.float32)

        _, truncated = predict_sorted_detailed(
            tokenizer, run, sample, batch_size=16, max_tokens=64, token_budget=512
        )
        return seen, truncated

    got, got_truncated = passes(FastTokenizer(model_dir))
    want, want_truncated = passes(theirs)
    assert got_truncated == want_truncated
    assert want_truncated  # some texts were cut
    assert len(got) == len(want)
    for ours_feeds, their_feeds in zip(got, want, strict=True):
        for name in theirs.model_input_names:
            np.testing.assert_array_equal(ours_feeds[name], their_feeds[name])


def test_a_directory_without_tokenizer_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"tokenizer\.json"):
        FastTokenizer(tmp_path)


# None in sys.modules makes an import fail: the runtime must not reach for these.
WITHOUT_TRANSFORMERS = f"""
import sys
sys.modules["transformers"] = sys.modules["torch"] = None
from spectrum.worker.runtimes.ov import load_openvino
runtime, card = load_openvino(
    __import__("pathlib").Path({str(SHIPPED)!r}),
    "shipped",
    precision="fp32",
    threads=1,
    max_tokens=128,
    batch_size=8,
)
rows = runtime.predict(["What a wonderful film.", "awful, boring, a waste of time"])
assert rows[0][1] > 0.9 and rows[1][0] > 0.9, rows
print(card.runtime)
"""


def test_the_openvino_runtime_serves_the_shipped_model_without_transformers() -> None:
    pytest.importorskip("openvino")
    ran = subprocess.run(
        [sys.executable, "-c", WITHOUT_TRANSFORMERS],
        cwd=SHIPPED.parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.strip().endswith("openvino-fp32-cpu")
