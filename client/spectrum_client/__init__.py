"""A small Python client for Spectrum's HTTP API (sync and async) and the `spectrum` CLI.

Needs only httpx:

    from spectrum_client import SpectrumClient
    with SpectrumClient("http://127.0.0.1:8000") as spectrum:
        job = spectrum.submit(texts=["What a film.", "Too long."])
        done = spectrum.wait(job["id"])
        for item in spectrum.results(job["id"]):
            print(item["index"], item["label"])
"""

from spectrum_client.client import AsyncSpectrumClient, SpectrumClient, SpectrumError

__all__ = ["AsyncSpectrumClient", "SpectrumClient", "SpectrumError"]
