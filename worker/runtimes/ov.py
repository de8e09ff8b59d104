"""OpenVINO on CPU: the fastest runtime for the shipped MiniLM model (its card's runtime table).

Serves the IR that `make model` writes next to the PyTorch weights
(`openvino_model.xml`, fp16-compressed weights). Precision follows the CPU: bf16
where it has AMX (the winner of the model card's runtime table),
f32 elsewhere. Imports no torch and no transformers: an OpenVINO worker needs
openvino, numpy and `tokenizers` (which reads the directory's tokenizer.json).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openvino as ov
import structlog

from spectrum.shared.config import Settings, usable_cores
from spectrum.shared.contracts import ModelCard
from spectrum.worker.runtimes.batching import BatchedRuntime, Feeds
from spectrum.worker.runtimes.cores import CoreLeases, default_directory
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


@dataclass(frozen=True)
class CoreSharing:
    """How a worker's passes share the host's cores with its other workers (cores.py).

    Every pass holds `share` cores; one of at most `wide_tokens` padded tokens runs on
    `wide` cores where that many are free when it starts. `wide == share`: no sharing.
    """

    share: int
    wide: int
    wide_tokens: int = 0
    leases: CoreLeases | None = None

    @classmethod
    def alone(cls, threads: int) -> CoreSharing:
        return cls(threads, threads)


class OpenVinoRuntime(BatchedRuntime):
    """One infer request a thread count the worker may run a pass with (its share of the
    cores, and every core for a small pass when the host's other workers leave them
    free): the solo worker runs one pass at a time."""

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
        sharing: CoreSharing | None = None,
    ) -> None:
        self.sharing = sharing or CoreSharing.alone(threads)
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
        self._requests = {}
        for count in sorted({self.sharing.share, self.sharing.wide}):
            compiled = core.compile_model(
                model, "CPU", compile_config(count, self.precision, cache_capacity)
            )
            self._requests[count] = compiled.create_infer_request()
        self._inputs = [port.get_any_name() for port in compiled.inputs]
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.token_budget = token_budget

    @property
    def labels(self) -> list[str]:
        return self._labels

    def _run(self, feeds: Feeds) -> np.ndarray:
        sharing = self.sharing
        if sharing.leases is None:
            return self._infer(self._requests[sharing.share], feeds)
        rows, width = feeds["input_ids"].shape
        wide = sharing.wide if rows * width <= sharing.wide_tokens else sharing.share
        with sharing.leases.hold(sharing.share, wide) as held:
            return self._infer(self._requests[held], feeds)

    def _infer(self, request: ov.InferRequest, feeds: Feeds) -> np.ndarray:
        request.infer({name: feeds[name] for name in self._inputs})
        return np.array(request.get_output_tensor(0).data)


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
    sharing: CoreSharing | None = None,
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
        sharing=sharing,
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
        wide_threads=runtime.sharing.wide,
        wide_pass_tokens=runtime.sharing.wide_tokens,
        temperature=runtime.temperature,
        exponent=runtime.exponent,
    )
    return runtime, card


def core_sharing(settings: Settings, cores: int) -> CoreSharing:
    """This worker's share of the host's `cores`, and whether its small passes may take
    them all (SPECTRUM_WIDE_PASS_TOKENS; not with threads set by hand)."""
    share = settings.effective_threads
    if settings.runtime_threads or not settings.wide_pass_tokens or share >= cores:
        return CoreSharing.alone(share)
    first = (settings.worker_index or os.getpid()) * share
    leases = CoreLeases(default_directory(), cores, first=first)
    return CoreSharing(share, cores, settings.wide_pass_tokens, leases)


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
        sharing=core_sharing(settings, usable_cores()),
    )
