"""Baseline: the usual Celery tutorial design, one task per request and a blocking `.get()`.

    celery -A loadtest.baselines.celery_server:celery worker --concurrency 2
    uvicorn loadtest.baselines.celery_server:app

The worker runs a transformers pipeline (PyTorch fp32, one thread per child
process, two children for two cores) on one text per task; the route sends the
task and blocks its thread on the result. Same model and request body as
Spectrum. Broker and backend: the Redis at BASELINE_REDIS_URL.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from fastapi import FastAPI
from pydantic import BaseModel

MODEL_DIR = "models/sentiment-minilm"
REDIS_URL = os.environ.get("BASELINE_REDIS_URL", "redis://127.0.0.1:6379/0")

celery = Celery("baseline", broker=REDIS_URL, backend=REDIS_URL)
celery.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=600,
    task_default_queue="baseline",
)
_classifier: Any = None


@celery.task(name="baseline.classify")
def classify(text: str) -> Any:
    """Classify one text with a pipeline loaded on first use in this child process."""
    global _classifier
    if _classifier is None:
        import torch
        from transformers import pipeline

        torch.set_num_threads(1)
        _classifier = pipeline(
            "text-classification", model=MODEL_DIR, dtype=torch.float32, top_k=None
        )
    return _classifier(text)


app = FastAPI()


class Body(BaseModel):
    text: str


@app.post("/predict")
def predict(body: Body) -> Any:
    """Send one task and wait for it."""
    return classify.delay(body.text).get(timeout=30)
