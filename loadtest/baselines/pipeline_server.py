"""Baseline: the usual tutorial design, a transformers pipeline called once per request.

    uvicorn loadtest.baselines.pipeline_server:app

PyTorch fp32, the model loaded at import, a plain `def` route (FastAPI runs it in
its thread pool). Same model and same request body as Spectrum; the benchmark
drives it with the same load. Kept deliberately naive: it is the yardstick.
"""

from __future__ import annotations

from typing import Any

import torch
from fastapi import FastAPI
from pydantic import BaseModel
from transformers import pipeline

MODEL_DIR = "models/sentiment-minilm"

classifier = pipeline("text-classification", model=MODEL_DIR, dtype=torch.float32, top_k=None)
app = FastAPI()


class Body(BaseModel):
    text: str


@app.post("/predict")
def predict(body: Body) -> Any:
    """Classify one text."""
    return classifier(body.text)
