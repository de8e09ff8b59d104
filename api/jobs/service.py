"""The job service: create a job and its chunk tasks, read it, cancel it, read its results.

The record and its keys are the contract in shared/jobs.py; workers update it.
Submission is atomic: the record is written unsealed before any chunk is
published, so a worker never sees a chunk of a job that does not exist yet, and
sealed in one step once every chunk is published; workers compute chunks of
sealed jobs only. If publishing fails the job is aborted (its chunks already
queued are dropped unrun) and the client gets a 503 to retry. A job is refused
with 503 NoWorkerAvailable while no live worker takes its model's bulk lane (unless that
lane scales from zero: settings.bulk_scales_to_zero).

A job runs whole on one model: the one it names, or the default. A job that names
an alias goes to one of its targets, chosen with the alias's weights from the
job's fingerprint (so the same submission always picks the same version).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog
from celery import Celery

from spectrum.api.edge.admission import LaneAdmission
from spectrum.api.edge.guard import current_key_id
from spectrum.api.models.catalog import Catalog, ModelStatus
from spectrum.api.observability import metrics
from spectrum.shared.config import Settings
from spectrum.shared.contracts import JOB_CHUNK_TASK, JobChunkPayload, redacted_args
from spectrum.shared.errors import (
    BackendUnavailable,
    BrokerUnavailable,
    JobConflict,
    JobExpired,
    JobNotFound,
    NoWorkerAvailable,
    SpectrumError,
)
from spectrum.shared.jobs import (
    ABORT,
    CANCEL,
    FINAL_STATES,
    RELEASE_KEY,
    SEAL,
    JobSummary,
    chunk_bounds,
    chunk_key,
    fingerprint,
    idempotency_key,
    is_job_id,
    job_key,
    known_key,
    new_job_id,
    new_record,
    submission,
)
from spectrum.shared.registry import model_queue

log = structlog.get_logger(__name__)

# Chunk results read per Redis round trip while streaming: a bounded amount in memory.
READ_AHEAD_CHUNKS = 32
# Job submissions publish their chunks (thousands of sends for a big job) on threads
# of their own, so a large submit never holds the default pool's threads that sync
# predictions publish through. Threads start on first use.
_publishing = ThreadPoolExecutor(2, thread_name_prefix="job-publish")


@dataclass(frozen=True)
class Submitted:
    job: JobSummary
    replayed: bool  # an earlier submission with the same Idempotency-Key and body


class JobService:
    """Owns the gateway's side of jobs; every Redis error becomes BackendUnavailable."""

    def __init__(
        self,
        settings: Settings,
        celery: Celery,
        backend: aioredis.Redis,
        models: Catalog,
        lanes: LaneAdmission,
    ) -> None:
        self._settings = settings
        self._lanes = lanes
        self._celery = celery
        self._backend = backend
        self._models = models
        self._cancel = backend.register_script(CANCEL)
        self._seal = backend.register_script(SEAL)
        self._abort = backend.register_script(ABORT)
        self._release = backend.register_script(RELEASE_KEY)

    async def submit(
        self,
        texts: Sequence[str],
        callback_url: str | None,
        key: str | None,
        model: str | None = None,
    ) -> Submitted:
        """Create the job (or find the one this Idempotency-Key made) and queue its chunks."""
        digest = fingerprint(texts, callback_url, model)
        route = await self._models.resolve(model)
        name = route.alias.choose("", bytes.fromhex(digest)) if route.alias else route.name
        try:
            status = await self._job_model(name)
            settings = self._settings
            await self._lanes.admit(model_queue(name, "bulk"), limit=settings.max_bulk_queue_depth)
        except SpectrumError as exc:
            metrics.MODEL_ERRORS.labels(model=route.name, error=type(exc).__name__).inc()
            raise
        assert status.card is not None  # require() guarantees it
        job_id = new_job_id()
        owner = current_key_id() or ""
        # The Idempotency-Key's claim, in the submitting API key's own namespace.
        claim = None if key is None else idempotency_key(key, owner)
        try:
            if claim is not None:
                claimed = await self._backend.set(
                    claim, f"{digest} {job_id}", nx=True, ex=settings.job_ttl_s
                )
                if not claimed:
                    return Submitted(await self._replay(claim, digest), replayed=True)
            now = time.time()
            seal_by = now + settings.job_seal_timeout_s
            record = new_record(
                job_id=job_id,
                model=name,
                labels=status.card.labels,
                total=len(texts),
                chunk_size=settings.job_chunk_size,
                fingerprint=digest,
                callback_url=callback_url,
                now=now,
                seal_by=seal_by,
                owner=owner,
            )
            async with self._backend.pipeline(transaction=True) as pipe:
                pipe.hset(job_key(job_id), mapping=record)  # type: ignore[arg-type]
                pipe.expire(job_key(job_id), settings.job_ttl_s)
                # The marker keeps the owner, so that an expired job is 410 to its key only.
                pipe.set(
                    known_key(job_id),
                    f"owner:{owner}",
                    ex=settings.job_ttl_s + settings.job_tombstone_s,
                )
                await pipe.execute()
        except (aioredis.RedisError, OSError) as exc:
            raise BackendUnavailable(f"result backend unreachable: {type(exc).__name__}") from exc
        try:
            # The request's context goes along: the key that let it in.
            context = contextvars.copy_context()
            await asyncio.get_running_loop().run_in_executor(
                _publishing, context.run, self._publish, job_id, name, list(texts), seal_by
            )
        except Exception as exc:  # kombu and redis raise many kinds for one outage
            await self._abandon(job_id, claim)
            raise BrokerUnavailable(f"broker unreachable: {type(exc).__name__}") from exc
        await self._seal_or_abort(job_id, claim)
        log.info(
            "job submitted",
            job_id=job_id,
            model=name,
            texts=len(texts),
            chunks=int(record["chunks_total"]),
        )
        return Submitted(JobSummary.from_hash(record), replayed=False)

    async def _seal_or_abort(self, job_id: str, claim: str | None) -> None:
        """Make the job visible to workers, every chunk being queued; or give it up, with a 503."""
        try:
            sealed = _text(await self._seal(keys=[job_key(job_id)], args=[repr(time.time())]))
        except (aioredis.RedisError, OSError) as exc:
            # The seal may or may not have landed: ABORT tells which, if Redis answers.
            if await self._abandon(job_id, claim) == "sealed":
                return
            raise BackendUnavailable(f"result backend unreachable: {type(exc).__name__}") from exc
        if sealed != "sealed":  # seal_by passed while publishing: its chunks are dropped
            await self._abandon(job_id, claim)
            raise BrokerUnavailable(
                f"queuing the job took longer than {self._settings.job_seal_timeout_s} s"
            )

    async def _abandon(self, job_id: str, claim: str | None) -> str | None:
        """ABORT a job not sealed yet: 'aborted', 'sealed' (it stands), None (Redis unreachable).

        Unreachable, the job stays unsealed and its chunks are dropped after seal_by.
        """
        names = [job_key(job_id), known_key(job_id)]
        if claim is not None:
            names.append(claim)
        try:
            outcome = _text(await self._abort(keys=names))
        except (aioredis.RedisError, OSError) as exc:
            log.warning("job abort failed", job_id=job_id, error=type(exc).__name__)
            return None
        if outcome == "aborted":
            log.warning("job aborted: its chunks will be dropped unrun", job_id=job_id)
        return outcome

    def _publish(self, job_id: str, model: str, texts: list[str], seal_by: float) -> None:
        """Every chunk through one producer connection (thousands of sends for a big job)."""
        queue = model_queue(model, "bulk")
        # Run with the request's context (submit copies it): the key that let it in.
        key = current_key_id()
        with self._celery.producer_or_acquire() as producer:
            for number, (start, end) in enumerate(
                chunk_bounds(len(texts), self._settings.job_chunk_size)
            ):
                _publish_fault(self._settings, number)
                if time.time() > seal_by:  # too late to seal: stop queuing chunks to be dropped
                    raise TimeoutError("publishing took longer than job_seal_timeout_s")
                payload = JobChunkPayload(
                    job_id=job_id,
                    chunk=number,
                    start=start,
                    texts=texts[start:end],
                    model=model,
                    key_id=key,
                ).model_dump()
                self._celery.send_task(
                    JOB_CHUNK_TASK,
                    args=[payload],
                    queue=queue,
                    producer=producer,
                    argsrepr=redacted_args(payload),
                )

    async def _job_model(self, name: str) -> ModelStatus:
        """The model's status with a live bulk worker, or NoWorkerAvailable; where the bulk
        lane scales from zero (bulk_scales_to_zero), a live interactive worker will do."""
        try:
            return await self._models.require(name, lane="bulk")
        except NoWorkerAvailable:
            if not self._settings.bulk_scales_to_zero:
                raise
            # The chunks this job queues start a bulk worker (KEDA); the card, with the
            # labels the job record needs, comes from a worker on the interactive lane.
            return await self._models.require(name, lane="interactive")

    async def _replay(self, claim_key: str, digest: str) -> JobSummary:
        raw = await self._backend.get(claim_key)
        if raw is None:
            raise JobConflict("this Idempotency-Key's job is being created or expired; retry")
        claim = raw.decode() if isinstance(raw, bytes) else raw
        seen, job_id = claim.split(" ", 1)
        if seen != digest:
            raise JobConflict("this Idempotency-Key was used with a different body")
        try:
            record = await self._read(job_id)
        except JobNotFound:
            # Either the first request has claimed the key but not written the job yet,
            # or the job's submission was aborted after its gateway died: free its key.
            if await self._backend.exists(job_key(job_id)):
                await self._release(keys=[claim_key], args=[claim])
                raise JobConflict(
                    "this Idempotency-Key's job was never accepted; retry to submit it anew"
                ) from None
            raise JobConflict("this Idempotency-Key's job is being created; retry") from None
        if submission(record, time.time()) == "unsealed":  # its submission may still fail
            raise JobConflict("this Idempotency-Key's job is being created; retry")
        return JobSummary.from_hash(record)

    async def get(self, job_id: str) -> JobSummary:
        raw = await self._read(job_id)
        return JobSummary.from_hash(raw)

    async def _read(self, job_id: str) -> dict[Any, Any]:
        if not is_job_id(job_id):
            raise JobNotFound(f"no job {job_id!r}")
        try:
            async with self._backend.pipeline(transaction=False) as pipe:
                pipe.hgetall(job_key(job_id))
                pipe.get(known_key(job_id))
                raw, known = await pipe.execute()
        except (aioredis.RedisError, OSError) as exc:
            raise BackendUnavailable(f"result backend unreachable: {type(exc).__name__}") from exc
        stored = (raw.get(b"owner") or raw.get("owner") or b"") if raw else known
        if not _owned(stored):
            raise JobNotFound(f"no job {job_id!r}")  # another key's job: as if none
        if raw and submission(raw, time.time()) != "aborted":  # unsealed reads as queued
            return dict(raw)
        if raw:  # its submission failed: it was never accepted
            raise JobNotFound(f"no job {job_id!r}")
        if known:
            raise JobExpired(
                f"job {job_id} has expired: records and results are kept "
                f"{self._settings.job_ttl_s} s"
            )
        raise JobNotFound(f"no job {job_id!r}")

    async def cancel(self, job_id: str) -> JobSummary:
        """Stop a queued or running job; chunks not yet started are never computed."""
        await self._read(job_id)  # 404 / 410 first
        try:
            state = await self._cancel(keys=[job_key(job_id)], args=[repr(time.time())])
        except (aioredis.RedisError, OSError) as exc:
            raise BackendUnavailable(f"result backend unreachable: {type(exc).__name__}") from exc
        state = state.decode() if isinstance(state, bytes) else state
        if state is None:
            raise JobNotFound(f"no job {job_id!r}")
        if state != "cancelled":
            raise JobConflict(f"job {job_id} has already {state}")
        log.info("job cancelled", job_id=job_id)
        return await self.get(job_id)

    async def chunks(self, job: JobSummary) -> AsyncIterator[list[dict[str, Any]]]:
        """Each finished chunk's results in input order; chunks not (yet) done are left out."""
        count = job.progress.chunks
        for first in range(0, count, READ_AHEAD_CHUNKS):
            numbers = range(first, min(first + READ_AHEAD_CHUNKS, count))
            try:
                values = await self._backend.mget([chunk_key(job.id, n) for n in numbers])
            except (aioredis.RedisError, OSError) as exc:
                # Headers are sent: the stream can only stop short. Log it.
                log.warning("job results unreadable", job_id=job.id, error=type(exc).__name__)
                raise
            for value in values:
                if value is not None:
                    yield json.loads(value)

    async def inline_results(self, job: JobSummary) -> list[dict[str, Any]] | None:
        """All results of a small finished job; None for a running or large one."""
        too_many = job.progress.total > self._settings.job_inline_results_max
        if job.state not in FINAL_STATES or too_many:
            return None
        items: list[dict[str, Any]] = []
        async for chunk in self.chunks(job):
            items.extend(chunk)
        return items


def _publish_fault(settings: Settings, sent: int) -> None:
    """Test-only (shared/config.py fault_publish_*): fail or die after `sent` chunks."""
    after = settings.fault_publish_fail_after
    if not after or sent < after:
        return
    if settings.fault_publish_exit:
        log.warning("fault hook: killing the gateway mid-submit", sent=sent)
        os.kill(os.getpid(), signal.SIGKILL)
    log.warning("fault hook: publishing stalls, then fails", sent=sent)
    time.sleep(settings.fault_sleep_s)
    raise ConnectionError(f"fault hook: the broker refuses after {sent} chunks")


def _owned(stored: bytes | str | None) -> bool:
    """Whether the caller may see a job whose record (or expired marker) holds `stored`.

    Keys off: every job. Keys on: only a job whose owner is the caller's key id (a
    job submitted while keys were off belongs to no key).
    """
    caller = current_key_id()
    if caller is None or stored is None:
        return True  # keys off, or nothing stored: the 404/410 logic answers
    owner = _text(stored) or ""
    return owner.removeprefix("owner:") == caller


def _text(value: bytes | str | None) -> str | None:
    return value.decode("utf-8") if isinstance(value, bytes) else value
