"""Pick and load the runtime the settings ask for."""

from __future__ import annotations

from shared.config import Settings
from shared.contracts import ModelCard
from worker.runtimes.base import Runtime


def load_runtime(settings: Settings) -> tuple[Runtime, ModelCard]:
    """Load the configured model; torch is imported only when a transformer is served."""
    name = settings.served_model_name
    if settings.uses_lexicon:
        from worker.runtimes.lexicon import load_lexicon

        return load_lexicon(name)
    from worker.runtimes.hf import load_torch

    return load_torch(
        settings.model_id,
        name,
        device=settings.device,
        precision=settings.precision,
        threads=settings.effective_threads,
        max_tokens=settings.max_tokens,
        batch_size=settings.batch_size,
    )
