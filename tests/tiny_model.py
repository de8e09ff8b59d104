"""A tiny DistilBERT with random weights, built in code in well under a second.

It exercises the real transformers path (tokenizer, config, save_pretrained,
from_pretrained, forward, softmax) without any download. Its answers are
meaningless; its shapes and label names are not.
"""

from __future__ import annotations

from pathlib import Path

LABELS = ["NEGATIVE", "NEUTRAL", "POSITIVE"]
WORDS = [
    "the",
    "a",
    "an",
    "and",
    "or",
    "but",
    "not",
    "no",
    "very",
    "so",
    "this",
    "that",
    "it",
    "is",
    "was",
    "be",
    "movie",
    "film",
    "plot",
    "actor",
    "good",
    "great",
    "love",
    "wonderful",
    "fine",
    "bad",
    "awful",
    "terrible",
    "boring",
    "hate",
    "dull",
    "i",
    "you",
    "we",
    "they",
]


def build_tiny_distilbert(directory: Path) -> Path:
    import torch
    from transformers import (
        DistilBertConfig,
        DistilBertForSequenceClassification,
        DistilBertTokenizerFast,
    )

    directory.mkdir(parents=True, exist_ok=True)
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters]
    vocab += [f"##{c}" for c in letters] + WORDS
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    tokenizer = DistilBertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)
    config = DistilBertConfig(
        vocab_size=tokenizer.vocab_size,
        dim=64,
        n_layers=2,
        n_heads=2,
        hidden_dim=128,
        max_position_embeddings=128,
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    torch.manual_seed(0)
    model = DistilBertForSequenceClassification(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
