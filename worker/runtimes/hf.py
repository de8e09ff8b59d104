"""Transformers on PyTorch: any local model directory, or a hub id where a hub is reachable."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from shared.contracts import ModelCard
from worker.runtimes.cpu import bf16_support

log = structlog.get_logger(__name__)

CARD_FILE = "model_card.json"


class TorchRuntime:
    """Sorts a batch by length, runs it in sub-batches, returns softmax probabilities in order.

    Sorting first means each sub-batch pads only to its own longest text, which
    is most of the speed on realistic text of mixed length.
    """

    def __init__(
        self,
        model_id: str,
        *,
        device: str,
        precision: str,
        threads: int,
        max_tokens: int,
        batch_size: int,
    ) -> None:
        torch.set_num_threads(threads)
        self._device = torch.device(_pick_device(device))
        self.precision, self.precision_reason = _pick_precision(precision, self._device)
        self._tokenizer = AutoTokenizer.from_pretrained(model_id)
        # Weights may be stored in half precision; compute starts from fp32 either way.
        model = AutoModelForSequenceClassification.from_pretrained(model_id, dtype=torch.float32)
        if self.precision == "bf16":
            model = model.to(torch.bfloat16)
        self._model = model.to(self._device).eval()
        id2label = self._model.config.id2label
        self._labels = [str(id2label[i]) for i in range(len(id2label))]
        window = getattr(self._model.config, "max_position_embeddings", max_tokens)
        self.max_tokens = min(max_tokens, int(window))
        self.batch_size = batch_size
        self.commit = getattr(self._model.config, "_commit_hash", None)

    @property
    def labels(self) -> list[str]:
        return self._labels

    @property
    def device(self) -> str:
        return self._device.type

    def predict(self, texts: Sequence[str]) -> list[list[float]]:
        encoded = self._tokenizer(list(texts), truncation=True, max_length=self.max_tokens)
        ids: list[list[int]] = encoded["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        rows: list[list[float]] = [[] for _ in ids]
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            batch = self._tokenizer.pad({"input_ids": [ids[i] for i in chunk]}, return_tensors="pt")
            with torch.inference_mode():
                logits = self._model(**batch.to(self._device)).logits
            probabilities = logits.float().softmax(dim=-1).cpu().tolist()
            for i, row in zip(chunk, probabilities, strict=True):
                rows[i] = row
        return rows


def _pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _pick_precision(precision: str, device: torch.device) -> tuple[str, str]:
    """bf16 only where it is fast: measured ~2x fp32 with AMX, slower than fp32 without."""
    if precision != "auto":
        return precision, "set by SPECTRUM_PRECISION"
    if device.type != "cpu":
        return "fp32", f"auto on {device.type}: fp32"
    fast, reason = bf16_support()
    return ("bf16" if fast else "fp32"), reason


def _directory_version(path: Path) -> str:
    """Hash of the files that decide the model's answers, so a retrained model gets new keys."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.iterdir() if p.is_file()):
        if file.suffix in {".json", ".txt", ".safetensors", ".bin", ".model"}:
            if file.name.startswith("model_card"):
                continue  # documentation, not behaviour
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def _card_facts(path: Path) -> dict[str, Any]:
    card_file = path / CARD_FILE
    if not card_file.is_file():
        return {}
    card = json.loads(card_file.read_text(encoding="utf-8"))
    return {
        "description": str(card.get("summary", "")),
        "metrics": {str(k): float(v) for k, v in card.get("test_accuracy", {}).items()},
    }


def load_torch(
    model_id: str,
    name: str,
    *,
    device: str = "auto",
    precision: str = "auto",
    threads: int,
    max_tokens: int,
    batch_size: int = 32,
) -> tuple[TorchRuntime, ModelCard]:
    runtime = TorchRuntime(
        model_id,
        device=device,
        precision=precision,
        threads=threads,
        max_tokens=max_tokens,
        batch_size=batch_size,
    )
    local = Path(model_id)
    version = _directory_version(local) if local.is_dir() else (runtime.commit or "hub")[:12]
    card = ModelCard(
        name=name,
        version=version,
        labels=runtime.labels,
        runtime=f"torch-{runtime.precision}-{runtime.device}",
        source=model_id,
        max_tokens=runtime.max_tokens,
        **(_card_facts(local) if local.is_dir() else {}),
    )
    log.info(
        "model loaded",
        model=name,
        version=version,
        runtime=card.runtime,
        precision_reason=runtime.precision_reason,
        threads=threads,
    )
    return runtime, card
