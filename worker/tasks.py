"""Celery tasks: thin shells that rebuild the payload and call the model service."""

from __future__ import annotations

import time
from typing import Any, NoReturn

import redis
import structlog
from celery import Task
from celery.exceptions import Reject

from spectrum.shared import tracing
from spectrum.shared.backoff import full_jitter
from spectrum.shared.contracts import (
    JOB_CHUNK_TASK,
    JOB_WEBHOOK_TASK,
    PREDICT_TASK,
    JobChunkPayload,
    JobWebhookPayload,
    PredictPayload,
)
from spectrum.shared.errors import PoisonMessage
from spectrum.shared.jobs import FINAL_STATES
from spectrum.worker import faults
from spectrum.worker.app import app, settings, state
from spectrum.worker.jobs import (
    ALREADY_COUNTED,
    JobNotSealed,
    chunk_retry_delay,
    deliver_webhook,
    fail_chunk,
    run_chunk,
    webhook_retry_delay,
)

log = structlog.get_logger(__name__)

# A chunk that arrives while its gateway is still publishing the job waits
# 0.05 s, 0.1 s, ... (full jitter, at most 1 s) per check: a small job is sealed
# within milliseconds, a large one within seconds. It gives up when the job's
# seal_by passes (START_CHUNK then answers aborted), so the wait is bounded.
SEAL_WAIT_S, SEAL_WAIT_MAX_S = 0.05, 1.0


@app.task(name=PREDICT_TASK, bind=True)
def predict(self: Task[Any, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """Classify a batch of normalized texts with the served model."""
    started = time.perf_counter()
    request = PredictPayload.model_validate(payload)
    with structlog.contextvars.bound_contextvars(
        task_id=self.request.id, request_ids=request.request_ids
    ):
        with tracing.span("delivery guard"):  # PoisonMessage past the limit
            state.deliveries.admit(str(self.request.id), PREDICT_TASK)
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
    tracing.store_begins(str(self.request.id))  # Celery stores the result next
    return outcome.model_dump()


# max_retries=None: no cap from Celery; _run_chunk counts failures itself and the
# job's seal_by bounds the waits for its seal.
#
# No result stored: a chunk's outcome is in its job record, and nothing reads Celery's
# copy (one write and one key per chunk saved), and a chunk does not depend on the
# result backend being up at its end (shared/celery_app.py retries stores anyway, so an
# outage cannot stop a solo worker; tests/integration/test_chaos.py holds it to this).
@app.task(name=JOB_CHUNK_TASK, bind=True, max_retries=None, ignore_result=True)
def job_chunk(self: Task[Any, Any], payload: dict[str, Any], waited: int = 0) -> str | None:
    """Classify one chunk of a sealed job, unless it was cancelled; retry, then record failure."""
    started = time.perf_counter()
    chunk = JobChunkPayload.model_validate(payload)
    # Celery counts every retry; `waited` of them were waits for the seal, not failures.
    tries = self.request.retries - waited
    with structlog.contextvars.bound_contextvars(
        task_id=self.request.id, job_id=chunk.job_id, chunk=chunk.chunk
    ):
        try:
            # Counted per message: a retry is a new message under the same task id.
            state.deliveries.admit(f"{self.request.id}:{self.request.retries}", JOB_CHUNK_TASK)
        except PoisonMessage as exc:  # its workers died each time: fail its texts, end the job
            final = _record_failure(chunk, f"PoisonMessage: {exc}")
        else:
            final = _run_chunk(self, chunk, tries, waited)
        log.info(
            "chunk done",
            texts=len(chunk.texts),
            ms=round((time.perf_counter() - started) * 1000, 2),
            job_state=final or None,
        )
        if final in FINAL_STATES or final == ALREADY_COUNTED:
            _queue_webhook(chunk.job_id)
        faults.before_ack(settings, chunk.texts)
    return final


def _run_chunk(task: Task[Any, Any], chunk: JobChunkPayload, tries: int, waited: int) -> str | None:
    """Run a chunk; on an error retry it, and after the last retry record its texts failed."""
    faults.apply(settings, chunk.texts)
    try:
        return run_chunk(state.service, state.jobs, chunk)
    except JobNotSealed:
        # Not a failure: the job's other chunks are still being queued.
        _retry(
            task,
            args=(chunk.model_dump(),),
            kwargs={"waited": waited + 1},
            countdown=full_jitter(SEAL_WAIT_S, waited, SEAL_WAIT_MAX_S),
        )
    except redis.RedisError as exc:
        # The job store is unreachable (cache errors never get here): not the chunk's own
        # failure, so no retry is spent on it, and nothing could record one anyway.
        _give_back(exc)
    except Exception as exc:
        if tries < settings.job_chunk_retries:
            log.warning("chunk failed, retrying", error=type(exc).__name__, tries=tries + 1)
            _retry(task, exc=exc, countdown=chunk_retry_delay(settings, tries))
        log.error("chunk failed", error=type(exc).__name__, tries=tries + 1)
        return _record_failure(chunk, f"{type(exc).__name__} after {tries + 1} tries")


def _retry(task: Task[Any, Any], **options: Any) -> NoReturn:
    """task.retry, except that a retry Celery could not publish gives the message back:
    Celery rejects such a task without requeue, and acked the chunk would be dropped
    uncounted."""
    try:
        raise task.retry(**options)
    except Reject as unsent:
        _give_back(unsent)


def _record_failure(chunk: JobChunkPayload, reason: str) -> str | None:
    """Record every text of the chunk failed; give the message back if the store is down."""
    try:
        return fail_chunk(state.jobs, chunk, reason)
    except redis.RedisError as exc:
        _give_back(exc)


def _give_back(reason: Exception) -> NoReturn:
    """Requeue the chunk's message instead of acking it unrecorded.

    A chunk acked without being counted never counts: its job stays `running` for ever.
    Requeued, it runs again once the store (or broker) is back; where requeueing fails
    too, the message stays unacked and returns after the visibility timeout (Redis) or
    when the connection drops (RabbitMQ). The pause keeps a worker from spinning on a
    store that is down while RabbitMQ hands the message straight back.
    """
    log.warning("chunk given back to the broker", error=type(reason).__name__, detail=str(reason))
    time.sleep(settings.job_chunk_retry_s)
    raise Reject(reason, requeue=True)


def _queue_webhook(job_id: str) -> None:
    """Queue an ended job's webhook task, at least once.

    The chunk that ends a job queues it; if the broker or the store refuses, the chunk's
    message goes back (`_give_back`), and its redelivery, counted already ('dup'), tries
    again. The mark is set after the send: a worker dying in between queues it twice
    (the summary is the same, and receivers see the same signed body), never not at all.
    """
    try:
        summary = state.jobs.summary(job_id)
        if summary is None or summary.webhook is None or summary.state not in FINAL_STATES:
            return
        if summary.webhook.state != "pending" or state.jobs.webhook_queued(job_id):
            return
    except redis.RedisError as exc:
        _give_back(exc)
    try:
        app.send_task(
            JOB_WEBHOOK_TASK,
            args=[JobWebhookPayload(job_id=job_id).model_dump()],
            queue=settings.bulk_queue,
        )
        state.jobs.mark_webhook_queued(job_id)
    except Exception as exc:  # kombu and redis raise many kinds for one outage
        _give_back(exc)


@app.task(name=JOB_WEBHOOK_TASK, bind=True)
def job_webhook(self: Task[Any, Any], payload: dict[str, Any]) -> bool:
    """POST a finished job's signed summary to its callback URL, retrying with backoff."""
    job_id = JobWebhookPayload.model_validate(payload).job_id
    tries = self.request.retries
    last_try = tries >= settings.webhook_retries
    with structlog.contextvars.bound_contextvars(task_id=self.request.id, job_id=job_id):
        delivered = deliver_webhook(settings, state.jobs, job_id, last_try=last_try)
    if not delivered and not last_try:
        delay = webhook_retry_delay(settings, tries)
        raise self.retry(countdown=delay, max_retries=settings.webhook_retries)
    return delivered
