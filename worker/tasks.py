"""Celery tasks: thin shells that rebuild the payload and call the model service."""

from __future__ import annotations

import time
from typing import Any

import structlog
from celery import Task

from shared.contracts import PREDICT_TASK, PredictPayload
from worker import faults
from worker.app import app, settings, state

log = structlog.get_logger(__name__)


@app.task(name=PREDICT_TASK, bind=True)
def predict(self: Task[Any, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """Classify a batch of normalized texts with the served model."""
    started = time.perf_counter()
    request = PredictPayload.model_validate(payload)
    with structlog.contextvars.bound_contextvars(
        task_id=self.request.id, request_ids=request.request_ids
    ):
        state.deliveries.admit(str(self.request.id), PREDICT_TASK)  # PoisonMessage past the limit
        faults.apply(settings, request.texts)
        try:
            outcome = state.service.predict(request)
        except Exception as exc:
            log.error("task failed", texts=len(request.texts), error=type(exc).__name__)
            raise
        log.info(
            "task done",
            texts=len(request.texts),
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
    return outcome.model_dump()
