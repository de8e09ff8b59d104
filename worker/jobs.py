"""The worker's side of async jobs: run a chunk, record its results, deliver the webhook.

Each step goes through the atomic scripts of shared/jobs.py: a chunk of a job
whose gateway has not sealed it yet raises JobNotSealed (the task retries it
shortly); a chunk of an aborted or vanished job is dropped unrun, logged and
counted; a chunk of a cancelled job is counted as skipped without computing; a
chunk counted once is never counted again (a redelivered message is a no-op); the
chunk that finishes a job learns it from the script's answer and is the one that
sends its webhook.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import redis
import structlog

from spectrum.shared.backoff import full_jitter
from spectrum.shared.cache import CachedPrediction
from spectrum.shared.callbacks import Resolver, post_callback, system_resolver
from spectrum.shared.config import Settings
from spectrum.shared.contracts import JobChunkPayload, PredictPayload
from spectrum.shared.errors import CallbackRefused
from spectrum.shared.jobs import (
    FINISH_CHUNK,
    START_CHUNK,
    JobSummary,
    answered,
    chunk_key,
    chunks_done_key,
    failed_item,
    job_key,
    known_key,
)
from spectrum.shared.predictions import computed_rows, merge, misses
from spectrum.shared.predlog.rows import rows_for
from spectrum.shared.predlog.stream import send_sync
from spectrum.shared.signing import signed_headers, signing_keys
from spectrum.worker import metrics
from spectrum.worker.service import ModelService

log = structlog.get_logger(__name__)

# What finish() answers besides a final state.
NOT_LAST, ALREADY_COUNTED, GONE = "", "dup", None
# What start() answers besides a job's state.
UNSEALED, ABORTED = "unsealed", "aborted"


class JobNotSealed(Exception):
    """The gateway is still publishing this chunk's job: run it later, not now."""


class JobStore:
    """A worker process's connection to job records (the result backend's Redis)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = self.settings = settings
        self._redis = redis.Redis.from_url(
            settings.result_backend_url, socket_timeout=5, socket_connect_timeout=2
        )
        self._start = self._redis.register_script(START_CHUNK)
        self._finish = self._redis.register_script(FINISH_CHUNK)

    def start(self, job_id: str) -> str | None:
        """The job's state as this chunk starts (queued becomes running); None: gone.

        UNSEALED while its gateway is still publishing, ABORTED when its submission
        failed or its gateway died before sealing it (shared/jobs.py).
        """
        keys = [job_key(job_id), known_key(job_id)]
        return _text(self._start(keys=keys, args=[repr(time.time())]))

    def finish(
        self,
        chunk: JobChunkPayload,
        items: list[dict[str, Any]],
        *,
        done: int = 0,
        failed: int = 0,
        skipped: int = 0,
        cached: int = 0,
    ) -> str | None:
        """Store and count a chunk once; the job's final state if it was the last."""
        job_id = chunk.job_id
        results = json.dumps(items, separators=(",", ":")) if items else ""
        counts = [done, failed, skipped, cached]
        answer = self._finish(
            keys=[job_key(job_id), chunks_done_key(job_id), chunk_key(job_id, chunk.chunk)],
            args=[chunk.chunk, *counts, repr(time.time()), self._settings.job_ttl_s, results],
        )
        return _text(answer)

    def summary(self, job_id: str) -> JobSummary | None:
        raw = self._redis.hgetall(job_key(job_id))
        return JobSummary.from_hash(raw) if raw else None

    def webhook_queued(self, job_id: str) -> bool:
        """Whether this job's webhook task was queued (the mark is set after the send)."""
        return bool(self._redis.hexists(job_key(job_id), "webhook_queued"))

    def mark_webhook_queued(self, job_id: str) -> None:
        self._redis.hset(job_key(job_id), "webhook_queued", "1")

    def webhook_attempt(
        self, job_id: str, *, status: int | None, error: str | None, outcome: str
    ) -> None:
        fields = {
            "webhook_state": outcome,
            "webhook_last_status": "" if status is None else str(status),
            "webhook_last_error": error or "",
        }
        if outcome == "delivered":
            fields["webhook_delivered_at"] = repr(time.time())
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(job_key(job_id), "webhook_attempts", 1)
            pipe.hset(job_key(job_id), mapping=fields)  # type: ignore[arg-type]
            pipe.execute()

    def log_predictions(self, rows: list[dict[str, Any]]) -> None:
        """One XADD of a chunk's rows to the prediction log's stream; failures only logged."""
        if self._settings.prediction_log:
            send_sync(
                self._redis,
                rows,
                stream_max=self._settings.prediction_log_stream_max,
                stream=self._settings.prediction_log_stream,
            )

    def close(self) -> None:
        self._redis.close()


def run_chunk(service: ModelService, store: JobStore, chunk: JobChunkPayload) -> str | None:
    """Answer a chunk from the cache and the model; what `JobStore.finish` answered."""
    state = store.start(chunk.job_id)
    if state == UNSEALED:
        raise JobNotSealed(f"job {chunk.job_id} is not sealed yet")
    if state is None or state == ABORTED:
        reason = "gone" if state is None else "aborted"
        metrics.JOB_CHUNKS_DROPPED.labels(reason=reason).inc()
        log.warning("chunk dropped unrun", job_id=chunk.job_id, chunk=chunk.chunk, reason=reason)
        return GONE
    if state == "cancelled":
        return store.finish(chunk, [], skipped=len(chunk.texts))
    service.require_model(chunk.model)
    started = time.perf_counter()
    found = service.lookup(chunk.texts)
    missing = misses(chunk.texts, found)
    computed: dict[str, CachedPrediction] = {}
    version = service.card.version
    if missing:
        outcome = service.predict(PredictPayload(texts=missing, model=chunk.model))
        computed = dict(zip(missing, computed_rows(outcome), strict=True))
        version = outcome.version
    answers = merge(chunk.texts, found, computed)
    items = [answered(chunk.start + offset, answer) for offset, answer in enumerate(answers)]
    cached = sum(answer.cached for answer in answers)
    answer = store.finish(chunk, items, done=len(items), cached=cached)
    if answer != ALREADY_COUNTED:  # a redelivered chunk was logged the first time
        store.log_predictions(
            rows_for(
                chunk.texts,
                answers,
                [version] * len(answers),
                model=chunk.model,
                source="job",
                at=time.time(),
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                log_texts=store.settings.log_texts,
                job_id=chunk.job_id,
                key=chunk.key_id,
            )
        )
    return answer


def chunk_retry_delay(settings: Settings, tries: int) -> float:
    """Seconds before a failed chunk's next try: exponential, capped, with full jitter."""
    return full_jitter(settings.job_chunk_retry_s, tries, settings.job_chunk_retry_max_s)


def webhook_retry_delay(settings: Settings, tries: int) -> float:
    """Seconds before a webhook's next try: the same full jitter, so that the webhooks of
    jobs that ended together (or failed against one receiver's outage) do not return as one."""
    return full_jitter(settings.webhook_backoff_s, tries, settings.webhook_backoff_max_s)


def fail_chunk(store: JobStore, chunk: JobChunkPayload, reason: str) -> str | None:
    """Record every text of a chunk that failed after its retries as failed, with the reason."""
    items = [failed_item(chunk.start + i, reason) for i in range(len(chunk.texts))]
    return store.finish(chunk, items, failed=len(items))


def webhook_message_id(job_id: str) -> str:
    """The Standard Webhooks `webhook-id` of a job's "ended" event (stable across tries)."""
    return f"job_{job_id}_ended"


def deliver_webhook(
    settings: Settings,
    store: JobStore,
    job_id: str,
    *,
    last_try: bool,
    resolve: Resolver = system_resolver,
    transport: httpx.BaseTransport | None = None,
) -> bool:
    """POST the job's summary, signed, once; record the attempt. True when delivered."""
    job = store.summary(job_id)
    if job is None or job.webhook is None:
        return True  # expired or no callback: nothing left to deliver
    secret = settings.webhook_secret
    if secret is None:
        store.webhook_attempt(job_id, status=None, error="no webhook secret", outcome="failed")
        return True
    body = job.model_dump_json(exclude={"webhook"}).encode("utf-8")
    keys = signing_keys(secret.get_secret_value())  # checked when the settings loaded
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "spectrum-webhook/1",
        # A job ends once: its id names the event, the same on every retry and on the
        # duplicate send of a redelivered last chunk, so a receiver can drop repeats.
        **signed_headers(keys, webhook_message_id(job_id), int(time.time()), body),
    }
    status: int | None = None
    error: str | None = None
    try:
        # One lookup, checked, and the connection pinned to a checked address.
        answer = post_callback(
            job.webhook.url,
            body,
            headers,
            timeout=settings.webhook_timeout_s,
            allow_private=settings.webhook_allow_private,
            resolve=resolve,
            transport=transport,
        )
        status = answer.status_code
        if not answer.is_success:
            error = f"HTTP {status}"
    except CallbackRefused as exc:  # final: asking again would get the same answer
        store.webhook_attempt(job_id, status=None, error=exc.detail, outcome="failed")
        log.warning("webhook refused", job_id=job_id, reason=exc.detail)
        return True
    except (httpx.HTTPError, OSError) as exc:  # OSError: the name did not resolve
        error = type(exc).__name__
    delivered = error is None
    outcome = "delivered" if delivered else ("failed" if last_try else "pending")
    store.webhook_attempt(job_id, status=status, error=error, outcome=outcome)
    log.info("webhook attempt", job_id=job_id, status=status, error=error, outcome=outcome)
    return delivered


def _text(value: bytes | str | None) -> str | None:
    return value.decode("utf-8") if isinstance(value, bytes) else value
