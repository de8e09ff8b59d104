"""Transformers on PyTorch: any local model directory, or a hub id where a hub is reachable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import structlog
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from spectrum.shared.config import Settings
from spectrum.shared.contracts import ModelCard
from spectrum.worker.runtimes.batching import BatchedRuntime, Feeds
from spectrum.worker.runtimes.cpu import bf16_support
from spectrum.worker.runtimes.model_dir import (
    Calibration,
    calibration_of,
    card_facts,
    directory_version,
)

log = structlog.get_logger(__name__)


class TorchRuntime(BatchedRuntime):
    """PyTorch eager, fp32 or bf16, through the shared length-sorted batching."""

    def __init__(
        self,
        model_id: str,
        *,
        device: str,
        precision: str,
        threads: int,
        max_tokens: int,
        batch_size: int,
        token_budget: int = 0,
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
        self.token_budget = token_budget
        local = Path(model_id)
        calibration = calibration_of(local) if local.is_dir() else Calibration()
        self.temperature, self.exponent = calibration.temperature, calibration.exponent
        self.commit = getattr(self._model.config, "_commit_hash", None)

    @property
    def labels(self) -> list[str]:
        return self._labels

    @property
    def device(self) -> str:
        return self._device.type

    def _run(self, feeds: Feeds) -> np.ndarray:
        inputs = {name: torch.from_numpy(array).to(self._device) for name, array in feeds.items()}
        with torch.inference_mode():
            logits = self._model(**inputs).logits
        result: np.ndarray = logits.float().cpu().numpy()
        return result


def _pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _pick_precision(precision: str, device: torch.device) -> tuple[str, str]:
    """bf16 only where it is fast: on a CPU with AMX (worker/runtimes/cpu.py), fp32 elsewhere."""
    if precision != "auto":
        return precision, "set by SPECTRUM_PRECISION"
    if device.type != "cpu":
        return "fp32", f"auto on {device.type}: fp32"
    fast, reason = bf16_support()
    return ("bf16" if fast else "fp32"), reason


def load_torch(
    model_id: str,
    name: str,
    *,
    device: str = "auto",
    precision: str = "auto",
    threads: int,
    max_tokens: int,
    batch_size: int = 32,
    token_budget: int = 0,
) -> tuple[TorchRuntime, ModelCard]:
    runtime = TorchRuntime(
        model_id,
        device=device,
        precision=precision,
        threads=threads,
        max_tokens=max_tokens,
        batch_size=batch_size,
        token_budget=token_budget,
    )
    local = Path(model_id)
    version = directory_version(local) if local.is_dir() else (runtime.commit or "hub")[:12]
    card = ModelCard(
        name=name,
        version=version,
        labels=runtime.labels,
        runtime=f"torch-{runtime.precision}-{runtime.device}",
        source=model_id,
        max_tokens=runtime.max_tokens,
        **(card_facts(local) if local.is_dir() else {}),
    )
    log.info(
        "model loaded",
        model=name,
        version=version,
        runtime=card.runtime,
        precision_reason=runtime.precision_reason,
        threads=threads,
        temperature=runtime.temperature,
        exponent=runtime.exponent,
    )
    return runtime, card


def load(settings: Settings) -> tuple[TorchRuntime, ModelCard]:
    """The registry's entry point (worker/runtimes/__init__.py)."""
    return load_torch(
        settings.model_id,
        settings.served_model_name,
        device=settings.device,
        precision=settings.precision,
        threads=settings.effective_threads,
        max_tokens=settings.max_tokens,
        batch_size=settings.batch_size,
        token_budget=settings.token_budget,
    )
