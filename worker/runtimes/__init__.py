"""Pick and load the runtime the settings ask for."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from shared.config import FIXED_MODEL_ID, Settings
from shared.contracts import ModelCard
from worker.runtimes.base import Runtime
from worker.runtimes.model_dir import OPENVINO_FILE


def choose_runtime(settings: Settings) -> str:
    """lexicon, fixed (the capacity-test stand-in), openvino or torch.

    `auto` serves a model directory that carries an OpenVINO IR with OpenVINO
    (the fastest runtime measured for the shipped model, see its model card)
    when openvino is installed, and everything else with PyTorch.
    """
    if settings.uses_lexicon:
        return "lexicon"
    if settings.runtime != "auto":
        return settings.runtime
    if settings.model_id == FIXED_MODEL_ID:
        return "fixed"
    has_ir = (Path(settings.model_id) / OPENVINO_FILE).is_file()
    if has_ir and importlib.util.find_spec("openvino") is not None:
        return "openvino"
    return "torch"


def load_runtime(settings: Settings) -> tuple[Runtime, ModelCard]:
    """Load the configured model; torch or openvino is imported only when it is used."""
    name = settings.served_model_name
    runtime = choose_runtime(settings)
    if runtime == "lexicon":
        from worker.runtimes.lexicon import load_lexicon

        return load_lexicon(name)
    if runtime == "fixed":
        from worker.runtimes.fixed import load_fixed

        return load_fixed(
            name,
            pass_ms=settings.fixed_pass_ms,
            text_ms=settings.fixed_text_ms,
            batch_size=settings.batch_size,
        )
    if runtime == "openvino":
        from worker.runtimes.ov import load_openvino

        return load_openvino(
            Path(settings.model_id),
            name,
            precision=settings.precision,
            threads=settings.effective_threads,
            max_tokens=settings.max_tokens,
            batch_size=settings.batch_size,
            token_budget=settings.token_budget,
            cache_capacity=settings.openvino_cache_capacity,
        )
    from worker.runtimes.hf import load_torch

    return load_torch(
        settings.model_id,
        name,
        device=settings.device,
        precision=settings.precision,
        threads=settings.effective_threads,
        max_tokens=settings.max_tokens,
        batch_size=settings.batch_size,
        token_budget=settings.token_budget,
    )
