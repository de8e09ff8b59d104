"""OpenVINO on CPU: the fastest runtime for the shipped MiniLM model (its card's runtime table).

Serves the IR that `make model` writes next to the PyTorch weights
(`openvino_model.xml`, fp16-compressed weights). Precision follows the CPU: bf16
where it has AMX (the winner of the model card's runtime table),
f32 elsewhere. Imports no torch and no transformers: an OpenVINO worker needs
openvino, numpy and `tokenizers` (which reads the directory's tokenizer.json).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import structlog

from spectrum.shared.config import Settings
from spectrum.shared.contracts import ModelCard
from spectrum.worker.runtimes.batching import BatchedRuntime, Feeds
from spectrum.worker.runtimes.cpu import bf16_support
from spectrum.worker.runtimes.model_dir import (
    OPENVINO_FILE,
    calibration_of,
    card_facts,
    directory_version,
    labels_of,
)
from spectrum.worker.runtimes.tokenizer import FastTokenizer

log = structlog.get_logger(__name__)


def pick_precision(precision: str) -> tuple[str, str]:
    if precision != "auto":
        return precision, "set by SPECTRUM_PRECISION"
    fast, reason = bf16_support()
    return ("bf16" if fast else "fp32"), reason


def auto_pad_multiple(precision: str) -> int:
    """Widths rounded to 16 tokens in bf16 (AMX): few shapes, whose kernels stay compiled.
    In fp32 the padding's compute costs more than it saves at 16 texts a pass, so there
    it is left off (docs/performance.md, "What chose the defaults";
    `python -m loadtest.pad_widths` measures it again)."""
    return 16 if precision == "bf16" else 1


def compile_config(threads: int, precision: str, cache_capacity: int) -> dict[str, object]:
    """The CPU plugin's settings a worker compiles with (training/quantize.py measures
    its candidates with the same)."""
    return {
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        # Unpinned: pinned threads of two workers (or of a worker and the API)
        # on the same core halve each other (docs/performance.md, "What chose the
        # defaults").
        "ENABLE_CPU_PINNING": False,
        "PERFORMANCE_HINT": "LATENCY",
        # Explicit: OpenVINO would pick bf16 by itself on AMX CPUs.
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        # Bounded: every new input shape would otherwise stay compiled in memory.
        "CPU_RUNTIME_CACHE_CAPACITY": cache_capacity,
    }


class OpenVinoRuntime(BatchedRuntime):
    """One compiled model, one infer request: the solo worker runs one batch at a time."""

    def __init__(
        self,
        model_dir: Path,
        *,
        precision: str,
        threads: int,
        max_tokens: int,
        batch_size: int,
        token_budget: int = 0,
        cache_capacity: int = 200,
        pad_multiple: int = 0,
    ) -> None:
        self.precision, self.precision_reason = pick_precision(precision)
        self.pad_multiple = pad_multiple or auto_pad_multiple(self.precision)
        self._tokenizer = FastTokenizer(model_dir)
        self._labels = labels_of(model_dir)
        calibration = calibration_of(model_dir)
        self.temperature, self.exponent = calibration.temperature, calibration.exponent
        core = ov.Core()
        model = core.read_model(str(model_dir / OPENVINO_FILE))
        # A statically quantized IR (NNCF: FakeQuantize before its int8 operations) runs
        # those in int8 whatever the hint; the hint covers the rest.
        self.int8 = any(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
        compiled = core.compile_model(
            model, "CPU", compile_config(threads, self.precision, cache_capacity)
        )
        self._request = compiled.create_infer_request()
        self._inputs = [port.get_any_name() for port in compiled.inputs]
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.token_budget = token_budget

    @property
    def labels(self) -> list[str]:
        return self._labels

    def _run(self, feeds: Feeds) -> np.ndarray:
        self._request.infer({name: feeds[name] for name in self._inputs})
        return np.array(self._request.get_output_tensor(0).data)


def load_openvino(
    model_dir: Path,
    name: str,
    *,
    precision: str,
    threads: int,
    max_tokens: int,
    batch_size: int,
    token_budget: int = 0,
    cache_capacity: int = 200,
    pad_multiple: int = 0,
) -> tuple[OpenVinoRuntime, ModelCard]:
    runtime = OpenVinoRuntime(
        model_dir,
        precision=precision,
        threads=threads,
        max_tokens=max_tokens,
        batch_size=batch_size,
        token_budget=token_budget,
        cache_capacity=cache_capacity,
        pad_multiple=pad_multiple,
    )
    card = ModelCard(
        name=name,
        version=directory_version(model_dir),
        labels=runtime.labels,
        runtime=f"openvino-{'int8' if runtime.int8 else runtime.precision}-cpu",
        source=str(model_dir),
        max_tokens=max_tokens,
        **card_facts(model_dir),
    )
    log.info(
        "model loaded",
        model=name,
        version=card.version,
        runtime=card.runtime,
        precision_reason=runtime.precision_reason,
        threads=threads,
        temperature=runtime.temperature,
        exponent=runtime.exponent,
    )
    return runtime, card


def load(settings: Settings) -> tuple[OpenVinoRuntime, ModelCard]:
    """The registry's entry point (worker/runtimes/__init__.py)."""
    return load_openvino(
        Path(settings.model_id),
        settings.served_model_name,
        precision=settings.precision,
        threads=settings.effective_threads,
        max_tokens=settings.max_tokens,
        batch_size=settings.batch_size,
        token_budget=settings.token_budget,
        cache_capacity=settings.openvino_cache_capacity,
        pad_multiple=settings.pad_multiple,
    )
