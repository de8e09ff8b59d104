"""A small Python client for Spectrum's HTTP API (sync and async) and the `spectrum` CLI.

Needs only httpx:

    from spectrum_client import SpectrumClient
    with SpectrumClient("http://127.0.0.1:8000") as spectrum:
        job = spectrum.submit(texts=["What a film.", "Too long."])
        done = spectrum.wait(job["id"])
        for item in spectrum.results(job["id"]):
            print(item["index"], item["label"])
"""

# The one place the version is written: client/pyproject.toml reads it from here.
__version__ = "0.1.0"

from spectrum_client.async_client import AsyncSpectrumClient
from spectrum_client.client import SpectrumClient
from spectrum_client.errors import SpectrumError
from spectrum_client.retry import NO_RETRY, Retry
from spectrum_client.schemas import (
    AliasInfo,
    Catalog,
    CompareAnswer,
    Health,
    Job,
    JobCreated,
    ModelInfo,
    PredictAnswer,
    Prediction,
    Result,
)

__all__ = [
    "NO_RETRY",
    "AliasInfo",
    "AsyncSpectrumClient",
    "Catalog",
    "CompareAnswer",
    "Health",
    "Job",
    "JobCreated",
    "ModelInfo",
    "PredictAnswer",
    "Prediction",
    "Result",
    "Retry",
    "SpectrumClient",
    "SpectrumError",
    "__version__",
]
