"""A model directory's `tokenizer.json`, read by Hugging Face `tokenizers` alone.

The OpenVINO runtime needs a tokenizer but not the rest of transformers (which is
the torch extra's). `FastTokenizer` answers the calls `predict_sorted` makes of a
tokenizer as transformers' fast tokenizer does for the same directory: the same
ids, type ids and attention masks, special tokens added, cut to `max_length`
only when `truncation` is asked for, never padded (each forward pass pads itself
to its own longest text). tests/unit/worker/runtimes/test_tokenizer.py compares the two.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
# Older saves keep the special tokens here rather than in CONFIG_FILE.
SPECIAL_TOKENS_FILE = "special_tokens_map.json"


class FastTokenizer:
    """`tokenizer.json` with the settings of `tokenizer_config.json` that decide ids and padding.

    The file's own truncation and padding sections (what the tokenizer was last
    used with) are ignored: every call sets truncation itself. One call at a time:
    a call changes the tokenizer's truncation setting, as transformers' does.
    """

    # Every input such a model may take; a runtime feeds only those its graph has.
    model_input_names = ("input_ids", "token_type_ids", "attention_mask")

    def __init__(self, model_dir: Path) -> None:
        path = model_dir / TOKENIZER_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{model_dir} has no {TOKENIZER_FILE}: save the model with a fast tokenizer "
                "(tokenizer.save_pretrained does) to serve it with OpenVINO"
            )
        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        config = _read_config(model_dir / CONFIG_FILE)
        self.padding_side: str = config.get("padding_side", "right")
        self._truncation_side: str = config.get("truncation_side", "right")
        self.model_max_length: int = int(config.get("model_max_length", 512))
        pad_token = _token_text(
            config.get("pad_token", _read_config(model_dir / SPECIAL_TOKENS_FILE).get("pad_token"))
        )
        self.pad_token_id = self._tokenizer.token_to_id(pad_token) if pad_token else None

    def __call__(
        self, texts: Sequence[str], *, truncation: bool = False, max_length: int | None = None
    ) -> dict[str, list[list[int]]]:
        if truncation:
            self._tokenizer.enable_truncation(
                max_length or self.model_max_length, direction=self._truncation_side
            )
        else:
            self._tokenizer.no_truncation()
        encodings = self._tokenizer.encode_batch(list(texts))
        return {
            "input_ids": [encoding.ids for encoding in encodings],
            "token_type_ids": [encoding.type_ids for encoding in encodings],
            "attention_mask": [encoding.attention_mask for encoding in encodings],
        }


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return config


def _token_text(token: object) -> str | None:
    """A special token as the config writes it: a string, or an AddedToken's fields."""
    if isinstance(token, dict):
        content = token.get("content")
        return content if isinstance(content, str) else None
    return token if isinstance(token, str) else None
