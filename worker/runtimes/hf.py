"""Transformers on PyTorch: any local model directory, or a hub id where a hub is reachable."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import structlog
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from shared.contracts import ModelCard

log = structlog.get_logger(__name__)


class TorchRuntime:
    """Tokenizes a batch, runs one forward pass, returns softmax probabilities."""

    def __init__(self, model_id: str, *, device: str, threads: int, max_tokens: int) -> None:
        torch.set_num_threads(threads)
        self._device = torch.device(_pick_device(device))
        self._tokenizer = AutoTokenizer.from_pretrained(model_id)
        self._model = AutoModelForSequenceClassification.from_pretrained(model_id)
        self._model.to(self._device).eval()
        id2label = self._model.config.id2label
        self._labels = [str(id2label[i]) for i in range(len(id2label))]
        window = getattr(self._model.config, "max_position_embeddings", max_tokens)
        self.max_tokens = min(max_tokens, int(window))
        self.commit = getattr(self._model.config, "_commit_hash", None)

    @property
    def labels(self) -> list[str]:
        return self._labels

    @property
    def device(self) -> str:
        return self._device.type

    def predict(self, texts: Sequence[str]) -> list[list[float]]:
        encoded = self._tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        ).to(self._device)
        with torch.inference_mode():
            logits = self._model(**encoded).logits
        probabilities: list[list[float]] = logits.float().softmax(dim=-1).cpu().tolist()
        return probabilities


def _pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _directory_version(path: Path) -> str:
    """Hash of the files that decide the model's answers, so a retrained model gets new keys."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.iterdir() if p.is_file()):
        if file.suffix in {".json", ".txt", ".safetensors", ".bin", ".model"}:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def load_torch(
    model_id: str, name: str, *, device: str, threads: int, max_tokens: int
) -> tuple[TorchRuntime, ModelCard]:
    runtime = TorchRuntime(model_id, device=device, threads=threads, max_tokens=max_tokens)
    local = Path(model_id)
    version = _directory_version(local) if local.is_dir() else (runtime.commit or "hub")[:12]
    card = ModelCard(
        name=name,
        version=version,
        labels=runtime.labels,
        runtime=f"torch-fp32-{runtime.device}",
        source=model_id,
        max_tokens=runtime.max_tokens,
    )
    log.info("model loaded", model=name, version=version, threads=threads, device=runtime.device)
    return runtime, card
